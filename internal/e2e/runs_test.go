package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/internal/freeport"
)

// aliveProcs returns the pids among pids that still run (a zombie has
// ended: in a container nobody may reap a reparented child).
func aliveProcs(pids []int) []int {
	var alive []int
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if len(f) > 0 && f[0] != "Z" {
			alive = append(alive, pid)
		}
	}
	return alive
}

func readPids(t *testing.T, path string) []int {
	t.Helper()
	b, _ := os.ReadFile(path)
	var pids []int
	for _, l := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("pid file %s: %q", path, b)
		}
		pids = append(pids, n)
	}
	return pids
}

type runJSON struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Trigger string `json:"trigger"`
	Parent  string `json:"parent"`
}

func getRun(t *testing.T, s *server, path string, v any) {
	t.Helper()
	resp, err := http.Get(s.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestRunCrashReconciled: freshet is killed with SIGKILL while a step (a
// shell and its background grandchild, in their own process group) runs.
// The children outlive it. On restart the run is marked FAILURE as
// interrupted, the whole group is stopped (no orphan remains), and the
// step, which allows a retry, runs again in a recovery run; a clean stop
// then cancels that one and leaves no process behind either.
func TestRunCrashReconciled(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	defs := filepath.Join(dir, "freshet.yaml")
	script := fmt.Sprintf(`echo $$ >> %s; sleep 300 & echo $! >> %s; wait`, pidFile, pidFile)
	if err := os.WriteFile(defs, []byte(fmt.Sprintf(`
assets:
  - key: slow/job
    materialize: {argv: [sh, -c, %q], retries: 1}
`, script)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: addr, logPath: filepath.Join(dir, "freshet.log"),
		args: []string{"serve", "--config", defs, "--data-dir", filepath.Join(dir, "data"), "--addr", addr}}
	s.start()
	var pids []int
	t.Cleanup(func() {
		if s.cmd != nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
		for _, pid := range readPids(t, pidFile) {
			syscallKillGroup(pid)
		}
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			t.Logf("freshet log:\n%s", b)
		}
	})

	resp, err := http.Post(s.url("/api/v1/runs"), "application/json", strings.NewReader(`{"selection":["slow/job"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var run runJSON
	json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("launch = %d", resp.StatusCode)
	}
	for deadline := time.Now().Add(30 * time.Second); len(pids) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the step never started its processes")
		}
		pids = readPids(t, pidFile)
	}
	// Listing runs writes pending records (with the step's pid) first.
	var page struct{ Runs []runJSON }
	getRun(t, s, "/api/v1/runs?status=STARTED", &page)
	if len(page.Runs) != 1 || page.Runs[0].ID != run.ID {
		t.Fatalf("started runs = %+v", page.Runs)
	}

	s.kill9()
	t.Logf("kill -9 with run %s in flight; its processes %v", run.ID, pids)
	if alive := aliveProcs(pids); len(alive) != 2 {
		t.Fatalf("the step's processes should outlive the server (own process group): alive %v of %v", alive, pids)
	}
	s.start()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		getRun(t, s, "/api/v1/runs/"+run.ID, &run)
		if run.Status == "FAILURE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not reconciled: %+v", run)
		}
	}
	if !strings.Contains(run.Reason, "interrupted") {
		t.Errorf("reason = %q", run.Reason)
	}
	for deadline := time.Now().Add(30 * time.Second); len(aliveProcs(pids)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("orphans still running after reconciliation: %v", aliveProcs(pids))
		}
	}
	var recovery struct{ Runs []runJSON }
	getRun(t, s, "/api/v1/runs?trigger=recovery", &recovery)
	if len(recovery.Runs) != 1 || recovery.Runs[0].Parent != run.ID {
		t.Fatalf("recovery runs = %+v", recovery.Runs)
	}
	// The recovery run starts the step again; a clean stop cancels it and
	// stops its processes too.
	var again []int
	for deadline := time.Now().Add(30 * time.Second); len(again) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the recovery run never started its processes")
		}
		if all := readPids(t, pidFile); len(all) >= 4 {
			again = all[2:4]
		}
	}
	s.stop()
	if alive := aliveProcs(again); len(alive) > 0 {
		t.Errorf("processes of the recovery run left after a clean stop: %v", alive)
	}
	s.start()
	getRun(t, s, "/api/v1/runs/"+recovery.Runs[0].ID, &run)
	if run.Status != "CANCELED" {
		t.Errorf("recovery run after a clean stop = %+v, want CANCELED", run)
	}
}

// syscallKillGroup is the test's own cleanup: whatever happens, no
// process group it made outlives it.
func syscallKillGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
