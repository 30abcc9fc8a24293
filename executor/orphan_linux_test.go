package executor

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// startGroup starts `sh -c script` in a process group of its own, as the
// local launcher does, reaps it in the background (as init reaps an
// orphan), and waits until the group runs `sleeps` sleep commands.
func startGroup(t *testing.T, script string, sleeps int) (pid int, start uint64) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid = cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	end := time.Now().Add(deadline)
	for countSleeps(groupMembers(pid)) != sleeps {
		if time.Now().After(end) {
			t.Fatalf("group %d has %v, want %d sleep processes", pid, groupMembers(pid), sleeps)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start, err := procStartTime(pid)
	if err != nil || start == 0 {
		t.Fatalf("start time of %d: %d, %v", pid, start, err)
	}
	return pid, start
}

func countSleeps(pids []int) int {
	n := 0
	for _, p := range pids {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm"); err == nil && strings.TrimSpace(string(b)) == "sleep" {
			n++
		}
	}
	return n
}

func TestStopOrphan(t *testing.T) {
	t.Parallel()
	pid, start := startGroup(t, "sleep 60 & sleep 60", 2)
	members := groupMembers(pid)

	// Another start time: a reused pid. Left alone.
	found, err := StopOrphan(pid, start+1, time.Second)
	if found || err != nil {
		t.Fatalf("mismatched start time: found %v, err %v", found, err)
	}
	if got := groupMembers(pid); !slices.Equal(got, members) {
		t.Fatalf("group after a mismatched stop: %v, was %v", got, members)
	}

	found, err = StopOrphan(pid, start, deadline)
	if !found || err != nil {
		t.Fatalf("StopOrphan: found %v, err %v", found, err)
	}
	if got := groupMembers(pid); len(got) != 0 {
		t.Errorf("still running in the group: %v", got)
	}

	// Gone now: not found, not an error.
	if found, err := StopOrphan(pid, start, time.Second); found || err != nil {
		t.Errorf("stopping it again: found %v, err %v", found, err)
	}
}

func TestStopOrphanIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	// The shell's children inherit the ignored SIGTERM: only SIGKILL,
	// after the grace period, stops them.
	pid, start := startGroup(t, `trap "" TERM; sleep 60 & sleep 60`, 2)
	found, err := StopOrphan(pid, start, 100*time.Millisecond)
	if !found || err != nil {
		t.Fatalf("StopOrphan: found %v, err %v", found, err)
	}
	if got := groupMembers(pid); len(got) != 0 {
		t.Errorf("still running in the group: %v", got)
	}
}

func TestStopOrphanRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pid   int
		start uint64
	}{{0, 1}, {1, 1}, {-5, 1}, {os.Getpid(), 0}} {
		if found, err := StopOrphan(c.pid, c.start, time.Millisecond); found || err == nil {
			t.Errorf("StopOrphan(%d, %d): found %v, err %v", c.pid, c.start, found, err)
		}
	}
	self, _ := procStartTime(os.Getpid())
	if _, err := StopOrphan(os.Getpid(), self, time.Millisecond); err == nil || !strings.Contains(err.Error(), "own group") {
		t.Errorf("stopping this process: %v", err)
	}
}

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	// A command name with spaces and parentheses.
	line := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseProcStat([]byte(line))
	if err != nil || st != (procStat{state: 'S', pgrp: 4242, start: 987654}) {
		t.Errorf("parse: %+v, %v", st, err)
	}
	for _, bad := range []string{"", "1 (x S 1", "1 (x) S 1 2 3", "1 (x) S 1 x 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12 0 0"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

// TestStartedCarriesPID: each attempt's STARTED update names its process,
// as /proc saw it while it ran.
func TestStartedCarriesPID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "pids")
	// Each attempt writes "PID STARTTIME" of itself, then fails.
	prog := script(t, dir, "who.sh", `echo "$$ $(cut -d' ' -f22 /proc/$$/stat)" >> "$1"; exit 1`)
	s := spec("who", nil, prog, out)
	s.Materialize.Retries = 1
	e, rec := newExec(t, Options{})
	res := runPlan(t, e, []asset.Spec{s, spec("nostart", nil, "/nonexistent/freshet-prog")}, "who", "nostart")
	if st := res.Step("who"); st.Attempts != 2 {
		t.Fatalf("who: %+v", st)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Fields(string(b))
	if len(lines) != 4 {
		t.Fatalf("pids file %q", b)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, u := range rec.steps {
		if u.Asset == "who" && u.Status == StepStarted {
			pid, _ := strconv.Atoi(lines[2*n])
			start, _ := strconv.ParseUint(lines[2*n+1], 10, 64)
			if u.Attempt != n+1 || u.PID != pid || u.PIDStart != start || pid == 0 || start == 0 {
				t.Errorf("STARTED %+v, want attempt %d pid %d start %d", u, n+1, pid, start)
			}
			n++
		}
		if u.Asset == "nostart" && u.Status == StepStarted && (u.PID != 0 || u.PIDStart != 0) {
			t.Errorf("a command that did not start has a pid: %+v", u)
		}
		if u.Status != StepStarted && (u.PID != 0 || u.PIDStart != 0) {
			t.Errorf("%s update with a pid: %+v", u.Status, u)
		}
	}
	if n != 2 {
		t.Errorf("%d STARTED updates for who, want 2", n)
	}
	var statuses []StepStatus
	for _, u := range rec.steps {
		if u.Asset == "nostart" {
			statuses = append(statuses, u.Status)
		}
	}
	if !slices.Equal(statuses, []StepStatus{StepStarted, StepFailure}) {
		t.Errorf("nostart statuses %v", statuses)
	}
}
