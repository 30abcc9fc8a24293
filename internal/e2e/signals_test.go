package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/internal/freeport"
)

// startServer is newServer with extra flags.
func startServer(t *testing.T, dsn string, extra ...string) *server {
	t.Helper()
	s := newServerStopped(t, dsn)
	s.args = append(s.args, extra...)
	s.start()
	return s
}

// newServerStopped prepares a server like newServer without starting it.
func newServerStopped(t *testing.T, dsn string) *server {
	t.Helper()
	dir := t.TempDir()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: addr, logPath: filepath.Join(dir, "freshet.log")}
	s.args = []string{"serve", "--store", dsn, "--data-dir", filepath.Join(dir, "data"), "--addr", s.addr, "--log-level", "warn"}
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

// answer is one HTTP exchange.
type answer struct {
	status     int
	retryAfter string
	body       string
}

func call(t *testing.T, method, url, ctype string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return answer{status: -1, body: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
}

// waitUntil polls cond every 100ms for up to timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setFileSizeLimit sets RLIMIT_FSIZE of another process (prlimit(2)).
func setFileSizeLimit(t *testing.T, pid int, limit uint64) {
	t.Helper()
	lim := syscall.Rlimit{Cur: limit, Max: ^uint64(0)}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE,
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
		t.Fatalf("prlimit(%d, RLIMIT_FSIZE, %d): %v", pid, limit, errno)
	}
}

// largestFile is the size of the biggest file under dir.
func largestFile(t *testing.T, dir string) int64 {
	t.Helper()
	var biggest int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil && fi.Size() > biggest {
			biggest = fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return biggest
}

// TestWALWriteFailure gives a running freshet (embedded store) a file
// size limit (RLIMIT_FSIZE, set from outside with prlimit) that its
// write-ahead log segment soon reaches: ingest answers 503 with
// Retry-After and a JSON error, /readyz fails without naming a path,
// /healthz fails once the log has failed for --wal-unhealthy-after. When
// the limit is lifted, freshet recovers by itself (no restart): 202s
// again, ready and healthy, and every event it ever acknowledged is in
// the store.
func TestWALWriteFailure(t *testing.T) {
	srv := startServer(t, "embedded", "--wal-unhealthy-after", "3s")
	l := &loader{url: srv.url("/api/v1/events"), batch: 50, acked: map[string]bool{}}
	n := 0
	post := func() answer {
		ids, body := l.body(0, n)
		n++
		a := call(t, "POST", l.url, "application/x-ndjson", body)
		if a.status == http.StatusAccepted {
			l.mu.Lock()
			for _, id := range ids {
				l.acked[id] = true
			}
			l.mu.Unlock()
		}
		return a
	}
	for range 20 {
		if a := post(); a.status != http.StatusAccepted {
			t.Fatalf("POST before the limit = %d %s", a.status, a.body)
		}
	}
	// Every file may keep its size; none may grow: the WAL segment is the
	// file that grows with each post.
	limit := largestFile(t, srv.dataDir()) + 4096
	setFileSizeLimit(t, srv.cmd.Process.Pid, uint64(limit))
	t.Logf("RLIMIT_FSIZE of freshet set to %d bytes", limit)

	var failed answer
	waitUntil(t, "a POST to be refused", time.Minute, func() bool {
		failed = post()
		return failed.status != http.StatusAccepted
	})
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(failed.body), &body); err != nil || failed.status != http.StatusServiceUnavailable ||
		failed.retryAfter == "" || body.Error.Code != "unavailable" {
		t.Fatalf("POST under the limit = %d Retry-After %q %s, want 503 with Retry-After and code unavailable", failed.status, failed.retryAfter, failed.body)
	}
	refused := 0
	for range 10 {
		if a := post(); a.status == http.StatusServiceUnavailable {
			refused++
		} else if a.status != http.StatusAccepted {
			t.Errorf("POST under the limit = %d %s, want 503 (or 202 for a batch that fits)", a.status, a.body)
		}
	}
	ready := call(t, "GET", srv.url("/readyz"), "", nil)
	if ready.status != http.StatusServiceUnavailable || !strings.Contains(ready.body, "write-ahead log") {
		t.Errorf("/readyz while the log fails = %d %s, want 503 naming the write-ahead log", ready.status, ready.body)
	}
	for _, leak := range []string{srv.dataDir(), os.TempDir()} {
		if strings.Contains(ready.body+failed.body, leak) {
			t.Errorf("an answer names the path %s: %s %s", leak, ready.body, failed.body)
		}
	}
	waitUntil(t, "/healthz to fail after --wal-unhealthy-after", time.Minute, func() bool {
		return call(t, "GET", srv.url("/healthz"), "", nil).status == http.StatusServiceUnavailable
	})
	t.Logf("under the limit: 503 %s, %d of 10 more posts refused; /readyz %d %s", failed.body, refused, ready.status, ready.body)

	setFileSizeLimit(t, srv.cmd.Process.Pid, ^uint64(0))
	waitUntil(t, "/readyz after the limit was lifted", time.Minute, func() bool {
		return call(t, "GET", srv.url("/readyz"), "", nil).status == http.StatusOK
	})
	if h := call(t, "GET", srv.url("/healthz"), "", nil); h.status != http.StatusOK {
		t.Errorf("/healthz after recovery = %d %s", h.status, h.body)
	}
	for range 20 {
		if a := post(); a.status != http.StatusAccepted {
			t.Fatalf("POST after recovery = %d %s", a.status, a.body)
		}
	}
	srv.drained(2 * time.Minute)
	srv.stop()
	verifyEmbedded(t, srv.dataDir(), l)
}

// TestStalledStoreReads freezes ClickHouse (SIGSTOP): event and run reads
// answer 503 with Retry-After within about --store-read-timeout instead of
// hanging, /readyz fails and freshet_store_up is 0; after SIGCONT all is
// well again.
func TestStalledStoreReads(t *testing.T) {
	ctx := context.Background()
	ch, err := chtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Stop()
	srv := startServer(t, ch.DSN()+"/stall", "--store-read-timeout", "2s")
	l := &loader{url: srv.url("/api/v1/events"), batch: 20, acked: map[string]bool{}}
	_, body := l.body(0, 0)
	if a := call(t, "POST", l.url+"?wait=stored", "application/x-ndjson", body); a.status != http.StatusAccepted || !strings.Contains(a.body, `"stored":true`) {
		t.Fatalf("POST ?wait=stored = %d %s", a.status, a.body)
	}
	reads := []string{"/api/v1/events?limit=5", "/api/v1/assets/load%2Ft1/events", "/api/v1/runs"}
	for _, path := range reads {
		if a := call(t, "GET", srv.url(path), "", nil); a.status != http.StatusOK {
			t.Fatalf("GET %s before the stall = %d %s", path, a.status, a.body)
		}
	}
	if err := ch.Stall(); err != nil {
		t.Fatal(err)
	}
	stalled := true
	defer func() {
		if stalled {
			ch.Unstall()
		}
	}()
	for _, path := range reads {
		a := call(t, "GET", srv.url(path), "", nil) // the client's own timeout is 30 s
		if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || !strings.Contains(a.body, `"code":"unavailable"`) {
			t.Errorf("GET %s with ClickHouse stalled = %d Retry-After %q %s, want 503 with Retry-After", path, a.status, a.retryAfter, a.body)
		}
	}
	ready := call(t, "GET", srv.url("/readyz"), "", nil)
	if ready.status != http.StatusServiceUnavailable || !strings.Contains(ready.body, "event store") {
		t.Errorf("/readyz with ClickHouse stalled = %d %s", ready.status, ready.body)
	}
	if up, err := srv.metric("freshet_store_up"); err != nil || up != 0 {
		t.Errorf("freshet_store_up with ClickHouse stalled = %v %v, want 0", up, err)
	}
	if n, err := srv.metric(`freshet_store_read_errors_total{reason="timeout"}`); err != nil || n < float64(len(reads)) {
		t.Errorf("read timeouts counted = %v %v, want at least %d", n, err, len(reads))
	}
	if err := ch.Unstall(); err != nil {
		t.Fatal(err)
	}
	stalled = false
	waitUntil(t, "/readyz after the stall", time.Minute, func() bool {
		return call(t, "GET", srv.url("/readyz"), "", nil).status == http.StatusOK
	})
	for _, path := range reads {
		if a := call(t, "GET", srv.url(path), "", nil); a.status != http.StatusOK {
			t.Errorf("GET %s after the stall = %d %s", path, a.status, a.body)
		}
	}
}
