package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/freshet-dev/freshet/internal/chtest"
)

// freshetBin is the server binary under test, built once by TestMain.
var freshetBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "freshet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	freshetBin = filepath.Join(dir, "freshet")
	args := []string{"build", "-o", freshetBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/freshet-dev/freshet/cmd/freshet")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build freshet:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one freshet process; restart reuses its data dir and port.
type server struct {
	t       *testing.T
	args    []string
	addr    string
	logPath string
	cmd     *exec.Cmd
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newServer(t *testing.T, dsn string) *server {
	dir := t.TempDir()
	s := &server{t: t, addr: freePort(t), logPath: filepath.Join(dir, "freshet.log")}
	s.args = []string{"serve", "--store", dsn, "--data-dir", filepath.Join(dir, "data"), "--addr", s.addr, "--log-level", "warn"}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.cmd.Process.Signal(syscall.SIGTERM)
			s.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("freshet log tail:\n%s", b)
		}
	})
	return s
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

func (s *server) start() {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command(freshetBin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(s.url("/readyz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("freshet did not become ready in 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) kill9() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	s.cmd.Wait()
	s.cmd = nil
}

// metric reads one unlabelled sample from /metrics.
func (s *server) metric(name string) (float64, error) {
	resp, err := http.Get(s.url("/metrics"))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("metric %s not exposed", name)
}

// drained waits until the write-ahead log has no unconfirmed record.
func (s *server) drained(timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if v, err := s.metric("freshet_wal_unconfirmed_records"); err == nil && v == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("backlog not drained within %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// loader posts NDJSON batches of fresh ids at a fixed rate from several
// workers and remembers which ids the server acknowledged (202).
type loader struct {
	url      string
	rate     int // events per second over all workers
	batch    int
	mu       sync.Mutex
	acked    map[string]bool
	posts    atomic.Int64
	failures atomic.Int64 // connection errors and non-202 answers
}

func (l *loader) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *loader) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	every := time.Duration(float64(time.Second) * float64(l.batch*workers) / float64(l.rate))
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for b := 0; ; b++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				ids, body := l.body(w, b)
				resp, err := client.Post(l.url, "application/x-ndjson", bytes.NewReader(body))
				l.posts.Add(1)
				if err != nil {
					l.failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					l.failures.Add(1)
					continue
				}
				l.mu.Lock()
				for _, id := range ids {
					l.acked[id] = true
				}
				l.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func (l *loader) body(worker, n int) ([]string, []byte) {
	var buf bytes.Buffer
	ids := make([]string, l.batch)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range ids {
		ids[i] = fmt.Sprintf("w%d-%d-%d-%d", worker, time.Now().UnixNano(), n, i)
		fmt.Fprintf(&buf, `{"id":%q,"kind":"materialization","asset":"load/t%d","time":%q,"upstream":["load/src%d"],"metadata":{"row_count":%d}}`+"\n",
			ids[i], i%50, now, i%5, i)
	}
	return ids, buf.Bytes()
}

// verify checks that ClickHouse holds every acknowledged id exactly once,
// in query results (through the same dedup the store's reads use) and, after
// forcing merges, in storage.
func verify(t *testing.T, dsn string, l *loader) {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	counts := func() (rows, distinct uint64) {
		if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(id) FROM events").Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		return rows, distinct
	}
	rowsBefore, distinct := counts()
	stored := make(map[string]bool, distinct)
	rows, err := conn.Query(ctx, "SELECT DISTINCT id FROM events")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
	}
	rows.Close()
	l.mu.Lock()
	missing := 0
	for id := range l.acked {
		if !stored[id] {
			missing++
		}
	}
	acked := len(l.acked)
	l.mu.Unlock()
	if err := conn.Exec(ctx, "OPTIMIZE TABLE events FINAL"); err != nil {
		t.Fatal(err)
	}
	rowsAfter, _ := counts()
	t.Logf("counts: acknowledged %d, missing %d, distinct ids in ClickHouse %d (unacknowledged but stored: %d), rows before merge %d (replayed copies %d), rows after OPTIMIZE FINAL %d; posts %d, failed posts %d",
		acked, missing, distinct, int(distinct)-acked+missing, rowsBefore, rowsBefore-distinct, rowsAfter, l.posts.Load(), l.failures.Load())
	if missing > 0 {
		t.Errorf("%d acknowledged events are not in ClickHouse", missing)
	}
	if rowsAfter != distinct {
		t.Errorf("after merging, %d rows hold %d ids: some id is stored twice", rowsAfter, distinct)
	}
	if acked == 0 {
		t.Error("no event was acknowledged: the load generator did nothing")
	}
}

// TestCrashRecovery kills freshet with SIGKILL several times under load.
func TestCrashRecovery(t *testing.T) {
	ctx := context.Background()
	ch, err := chtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Stop()
	dsn := ch.DSN() + "/crash"
	srv := newServer(t, dsn)
	l := &loader{url: srv.url("/api/v1/events"), rate: 20000, batch: 250, acked: map[string]bool{}}
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { l.run(lctx, 4); close(done) }()
	const kills = 4
	for i := 0; i < kills; i++ {
		time.Sleep(1500 * time.Millisecond)
		before := l.ackedCount()
		srv.kill9()
		t.Logf("kill -9 #%d after %d acknowledged events", i+1, before)
		srv.start()
	}
	time.Sleep(time.Second)
	stop()
	<-done
	srv.drained(2 * time.Minute)
	verify(t, dsn, l)
}

// TestStoreOutage stops ClickHouse for 22 s under load.
func TestStoreOutage(t *testing.T) {
	ctx := context.Background()
	ch, err := chtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Stop()
	dsn := ch.DSN() + "/outage"
	srv := newServer(t, dsn)
	l := &loader{url: srv.url("/api/v1/events"), rate: 5000, batch: 100, acked: map[string]bool{}}
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { l.run(lctx, 4); close(done) }()

	time.Sleep(2 * time.Second)
	if err := ch.Suspend(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	atDown := l.ackedCount()
	time.Sleep(22 * time.Second)
	duringOutage := l.ackedCount() - atDown
	backlog, err := srv.metric("freshet_wal_unconfirmed_records")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse was down %s; %d events acknowledged meanwhile; WAL backlog %v records", time.Since(down).Round(time.Second), duringOutage, backlog)
	if duringOutage < 10000 || backlog == 0 {
		t.Errorf("ingest should keep acknowledging during the outage: %d events, backlog %v", duringOutage, backlog)
	}
	time.Sleep(2 * time.Second) // load continues after the store returns
	stop()
	<-done
	start := time.Now()
	srv.drained(2 * time.Minute)
	t.Logf("backlog drained %s after the load stopped", time.Since(start).Round(100*time.Millisecond))
	verify(t, dsn, l)
}
