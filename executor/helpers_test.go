package executor

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// deadline bounds every wait in these tests: exceeding it fails loudly.
const deadline = 30 * time.Second

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// script writes an executable /bin/sh script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func spec(key string, deps []string, argv ...string) asset.Spec {
	s := asset.Spec{Key: asset.Key(key)}
	for _, d := range deps {
		s.Deps = append(s.Deps, asset.Key(d))
	}
	if len(argv) > 0 {
		s.Materialize = &asset.MaterializeSpec{Argv: argv}
	}
	return s
}

// sink records everything an Executor reports; safe for concurrent use.
type sink struct {
	mu     sync.Mutex
	runs   []RunUpdate
	steps  []StepUpdate
	events []asset.Event
	lines  []LogLine
}

func (s *sink) RunChanged(u RunUpdate) { s.mu.Lock(); s.runs = append(s.runs, u); s.mu.Unlock() }
func (s *sink) StepChanged(u StepUpdate) {
	s.mu.Lock()
	s.steps = append(s.steps, u)
	s.mu.Unlock()
}
func (s *sink) StepLog(l LogLine) { s.mu.Lock(); s.lines = append(s.lines, l); s.mu.Unlock() }
func (s *sink) Record(_ context.Context, es []asset.Event) error {
	s.mu.Lock()
	s.events = append(s.events, es...)
	s.mu.Unlock()
	return nil
}

func (s *sink) runStatuses() []RunStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RunStatus
	for _, u := range s.runs {
		out = append(out, u.Status)
	}
	return out
}

func (s *sink) stepStatuses(key asset.Key) []StepStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StepStatus
	for _, u := range s.steps {
		if u.Asset == key {
			out = append(out, u.Status)
		}
	}
	return out
}

func (s *sink) eventsFor(key asset.Key) []asset.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []asset.Event
	for _, e := range s.events {
		if e.Asset == key {
			out = append(out, e)
		}
	}
	return out
}

func (s *sink) logTexts(key asset.Key) []LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LogLine
	for _, l := range s.lines {
		if l.Asset == key {
			out = append(out, l)
		}
	}
	return out
}

// newExec returns an Executor with a fast local launcher reporting to a sink.
func newExec(t *testing.T, opts Options) (*Executor, *sink) {
	t.Helper()
	s := &sink{}
	opts.Observer, opts.Recorder, opts.Logs = s, s, s
	if opts.Log == nil {
		opts.Log = quietLog()
	}
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	}
	return New(&LocalLauncher{Grace: 300 * time.Millisecond, Log: quietLog()}, opts), s
}

// runPlan plans selection over specs, runs it and waits for the end.
func runPlan(t *testing.T, e *Executor, specs []asset.Spec, selection ...string) Result {
	t.Helper()
	p, err := NewPlan(specs, selection)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	r, err := e.Start(t.Context(), p, RunRequest{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return wait(t, r)
}

func wait(t *testing.T, r *Run) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	res, err := r.Wait(ctx)
	if err != nil {
		t.Fatalf("run did not end within %s: %v (state %+v)", deadline, err, res)
	}
	return res
}

// waitFile waits until path exists and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && strings.HasSuffix(string(b), "\n") {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not appear within %s", path, deadline)
	return ""
}

// processGone waits until pid no longer runs (gone, or a zombie no one has
// reaped yet: it runs nothing) and fails if it still runs at the deadline.
func processGone(t *testing.T, pid int) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			// pid (comm) STATE ...: the state follows the last ')'.
			if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d still runs %s after the step ended", pid, deadline)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(waitFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
