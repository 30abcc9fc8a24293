package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/internal/freeport"
	"github.com/freshet-dev/freshet/internal/kubetest"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
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
	if err := kubetest.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the Kubernetes control plane:", err)
	}
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

func newServer(t *testing.T, dsn string) *server {
	dir := t.TempDir()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: addr, logPath: filepath.Join(dir, "freshet.log")}
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

// dataDir is the server's --data-dir.
func (s *server) dataDir() string { return s.args[slices.Index(s.args, "--data-dir")+1] }

// stop shuts the server down cleanly (SIGTERM) and waits for it.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		s.t.Fatalf("freshet did not stop cleanly: %v", err)
	}
	s.cmd = nil
}

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
	// retryEvery > 0: every retryEvery-th post of a worker re-sends its
	// previous batch without times, as a client that did not see the
	// answer would (the server stamps them anew; the first copy wins).
	retryEvery int
	retries    atomic.Int64
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
			var (
				lastIDs  []string
				lastBody []byte
			)
			for b := 0; ; b++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				ids, body := l.body(w, b)
				if l.retryEvery > 0 && b%l.retryEvery == l.retryEvery-1 && lastBody != nil {
					ids, body = lastIDs, stripTimes(lastBody)
					l.retries.Add(1)
				}
				lastIDs, lastBody = ids, body
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

// stripTimes drops the "time" member of every event in an NDJSON body.
func stripTimes(body []byte) []byte {
	return timeMember.ReplaceAll(body, nil)
}

var timeMember = regexp.MustCompile(`,"time":"[^"]*"`)

// verify checks that ClickHouse holds every acknowledged id exactly once,
// in query results (through the same dedup the store's reads use) and, after
// forcing merges, in storage.
func verify(t *testing.T, dsn string, l *loader) map[string]int64 {
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
	perAsset := map[string]int64{}
	rows, err = conn.Query(ctx, "SELECT asset, uniqExact(id) FROM events GROUP BY asset")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		var n uint64
		if err := rows.Scan(&a, &n); err != nil {
			t.Fatal(err)
		}
		perAsset[a] = int64(n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return perAsset
}

// syncReplica waits until the replica at dsn fetched every part of table
// the other replicas hold (SYSTEM SYNC REPLICA).
func syncReplica(t *testing.T, dsn, table string) {
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
	if err := conn.Exec(context.Background(), "SYSTEM SYNC REPLICA "+table); err != nil {
		t.Fatalf("sync replica: %v", err)
	}
}

// verifyEmbedded checks the embedded store in dir as verify does
// ClickHouse, and returns its per-asset event counts.
func verifyEmbedded(t *testing.T, dir string, l *loader) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := map[string]int{}
	q := store.EventQuery{Limit: store.MaxLimit}
	for {
		page, err := st.Events(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			stored[e.ID]++
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	l.mu.Lock()
	missing := 0
	for id := range l.acked {
		if stored[id] == 0 {
			missing++
		}
	}
	acked := len(l.acked)
	l.mu.Unlock()
	twice := 0
	for _, n := range stored {
		if n > 1 {
			twice++
		}
	}
	t.Logf("counts: acknowledged %d, missing %d, distinct ids stored %d, ids stored twice %d; posts %d (retries %d), failed posts %d",
		acked, missing, len(stored), twice, l.posts.Load(), l.retries.Load(), l.failures.Load())
	if missing > 0 || twice > 0 || acked == 0 {
		t.Errorf("%d acknowledged events missing, %d stored twice, %d acknowledged", missing, twice, acked)
	}
	sums, err := st.Summaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perAsset := map[string]int64{}
	for _, s := range sums {
		for _, n := range s.Counts {
			perAsset[string(s.Asset)] += n
		}
	}
	return perAsset
}

// TestCrashRecovery kills freshet with SIGKILL several times under load,
// on each store, with clients that also retry batches already
// acknowledged (without a time, as a naive client does). Afterwards every
// acknowledged event is stored once, and the catalog's counts after the
// crash replays equal both the counts rebuilt from the store alone (a clean
// restart) and the store's own.
func TestCrashRecovery(t *testing.T) {
	for _, name := range []string{"embedded", "clickhouse", "cluster"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn := "embedded"
			var replica2 string // cluster: replica 2's DSN for the same database
			switch name {
			case "clickhouse":
				ch, err := chtest.Start(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer ch.Stop()
				dsn = ch.DSN() + "/crash"
			case "cluster":
				// Freshet on replica 1 of a replicated cluster, in cluster
				// mode (it creates the database and tables ON CLUSTER).
				c, err := chtest.StartCluster(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Stop()
				t.Logf("cluster: ZooKeeper and %d replicas started in %v", len(c.Replicas), c.Startup.Round(time.Millisecond))
				dsn = c.Replicas[0].DSN() + "/crash?cluster=" + chtest.ClusterName
				replica2 = c.Replicas[1].DSN() + "/crash"
			}
			srv := newServer(t, dsn)
			l := &loader{url: srv.url("/api/v1/events"), rate: 20000, batch: 250, retryEvery: 5, acked: map[string]bool{}}
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
			afterReplay := srv.catalogCounts()
			srv.stop()
			srv.start() // nothing left to replay: the catalog comes from the store alone
			rebuilt := srv.catalogCounts()
			if !maps.Equal(afterReplay, rebuilt) {
				t.Errorf("catalog counts after crash replays differ from counts rebuilt from the store:\n%s", countsDiff(afterReplay, rebuilt))
			}
			var fromStore map[string]int64
			switch name {
			case "clickhouse":
				fromStore = verify(t, dsn, l)
			case "cluster":
				fromStore = verify(t, strings.TrimSuffix(dsn, "?cluster="+chtest.ClusterName), l)
				// Replica 2 holds the same once it fetched every part.
				syncReplica(t, replica2, "events")
				t.Log("replica 2:")
				if on2 := verify(t, replica2, l); !maps.Equal(on2, fromStore) {
					t.Errorf("replica 2's counts differ from replica 1's:\n%s", countsDiff(on2, fromStore))
				}
			default:
				srv.stop() // the embedded store is locked by its process
				fromStore = verifyEmbedded(t, srv.dataDir(), l)
			}
			if !maps.Equal(afterReplay, fromStore) {
				t.Errorf("catalog counts differ from the store's:\n%s", countsDiff(afterReplay, fromStore))
			}
			var total int64
			for _, n := range afterReplay {
				total += n
			}
			t.Logf("counts: catalog after replays %d events over %d assets; equal to the rebuilt catalog and to the store: %v",
				total, len(afterReplay), maps.Equal(afterReplay, rebuilt) && maps.Equal(afterReplay, fromStore))
		})
	}
}

// catalogCounts reads every asset's event counts (all kinds) from the API.
func (s *server) catalogCounts() map[string]int64 {
	s.t.Helper()
	out := map[string]int64{}
	cursor := ""
	for {
		resp, err := http.Get(s.url("/api/v1/assets?limit=1000&cursor=" + cursor))
		if err != nil {
			s.t.Fatal(err)
		}
		var page struct {
			Assets []struct {
				Spec struct {
					Key string `json:"key"`
				} `json:"spec"`
				Counts map[string]int64 `json:"counts"`
			} `json:"assets"`
			Next string `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			s.t.Fatalf("list assets: %d %v", resp.StatusCode, err)
		}
		for _, a := range page.Assets {
			for _, n := range a.Counts {
				if n != 0 {
					out[a.Spec.Key] += n
				}
			}
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

func countsDiff(a, b map[string]int64) string {
	var out []string
	for k, n := range a {
		if b[k] != n {
			out = append(out, fmt.Sprintf("  %s: %d vs %d", k, n, b[k]))
		}
	}
	for k, n := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("  %s: absent vs %d", k, n))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
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
