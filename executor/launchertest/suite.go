// Package launchertest is the behaviour every executor.Launcher must have,
// as one suite each implementation runs from its own tests:
//
//	func TestLocalLauncher(t *testing.T) {
//		launchertest.Run(t, func(t *testing.T) executor.Launcher { return &executor.LocalLauncher{Grace: time.Second} })
//	}
//
// The commands are `sh -c` one-liners that report through their output, so
// they need nothing but a POSIX shell wherever the launcher runs them.
package launchertest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/executor"
)

// deadline bounds every case; exceeding it fails loudly rather than hangs.
const deadline = 30 * time.Second

// Run runs the suite against launchers made by newLauncher.
func Run(t *testing.T, newLauncher func(t *testing.T) executor.Launcher) {
	cases := []struct {
		name string
		fn   func(t *testing.T, l executor.Launcher)
	}{
		{"Success", testSuccess},
		{"ExitCode", testExitCode},
		{"MissingProgram", testMissingProgram},
		{"BadDir", testBadDir},
		{"Env", testEnv},
		{"Timeout", testTimeout},
		{"Cancel", testCancel},
		{"NoOutputAfterReturn", testNoOutputAfterReturn},
		{"OnStart", testOnStart},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newLauncher(t))
		})
	}
}

// Line is one captured line.
type Line struct {
	Stream executor.Stream
	At     time.Time
	Text   string
}

// Lines collects a launch's output; safe for concurrent use.
type Lines struct {
	mu     sync.Mutex
	lines  []Line
	closed bool
	late   int
	seen   chan string // every text, for waiting on one
}

// NewLines returns an empty collector.
func NewLines() *Lines { return &Lines{seen: make(chan string, 1024)} }

// Func is the executor.LineFunc that collects into l.
func (l *Lines) Func(stream executor.Stream, at time.Time, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		l.late++
	}
	l.lines = append(l.lines, Line{stream, at, text})
	select {
	case l.seen <- text:
	default:
	}
}

// Texts returns the texts of stream's lines, in order.
func (l *Lines) Texts(stream executor.Stream) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, x := range l.lines {
		if x.Stream == stream {
			out = append(out, x.Text)
		}
	}
	return out
}

// All returns every line.
func (l *Lines) All() []Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Line(nil), l.lines...)
}

// WaitFor waits until a line with text arrives.
func (l *Lines) WaitFor(t *testing.T, text string) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case s := <-l.seen:
			if s == text {
				return
			}
		case <-timeout:
			t.Fatalf("no line %q within %s", text, deadline)
		}
	}
}

func job(script string) executor.Job {
	return executor.Job{RunID: "run-1", Asset: "a/b", Attempt: 1, Argv: []string{"sh", "-c", script}}
}

func launch(t *testing.T, l executor.Launcher, ctx context.Context, j executor.Job) (executor.Outcome, *Lines) {
	t.Helper()
	lines := NewLines()
	done := make(chan executor.Outcome, 1)
	go func() { done <- l.Launch(ctx, j, lines.Func) }()
	select {
	case o := <-done:
		lines.mu.Lock()
		lines.closed = true
		lines.mu.Unlock()
		return o, lines
	case <-time.After(deadline):
		t.Fatalf("Launch(%q) did not return within %s", j.Argv, deadline)
		return executor.Outcome{}, nil
	}
}

func testSuccess(t *testing.T, l executor.Launcher) {
	before := time.Now()
	o, lines := launch(t, l, t.Context(), job("echo hello; echo oops >&2; printf 'no newline'"))
	if o.Err != nil {
		t.Fatalf("Err = %v, want success", o.Err)
	}
	if o.Started.Before(before.Add(-time.Second)) || o.Ended.Before(o.Started) {
		t.Errorf("Started %v, Ended %v: not in order after %v", o.Started, o.Ended, before)
	}
	if got := lines.Texts(executor.Stdout); strings.Join(got, "|") != "hello|no newline" {
		t.Errorf("stdout = %q", got)
	}
	if got := lines.Texts(executor.Stderr); strings.Join(got, "|") != "oops" {
		t.Errorf("stderr = %q", got)
	}
	for _, x := range lines.All() {
		if x.At.IsZero() || x.At.Before(o.Started.Add(-time.Second)) {
			t.Errorf("line %q has timestamp %v", x.Text, x.At)
		}
	}
}

func testExitCode(t *testing.T, l executor.Launcher) {
	o, _ := launch(t, l, t.Context(), job("echo first >&2; echo last words >&2; exit 3"))
	var ee *executor.ExitError
	if !errors.As(o.Err, &ee) || ee.Code != 3 {
		t.Fatalf("Err = %#v, want *ExitError with code 3", o.Err)
	}
	if msg := o.Err.Error(); !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "last words") {
		t.Errorf("reason %q lacks the status or the stderr tail", msg)
	}
}

func testMissingProgram(t *testing.T, l executor.Launcher) {
	j := job("")
	j.Argv = []string{"freshet-no-such-program-xyz", "arg"}
	o, _ := launch(t, l, t.Context(), j)
	var se *executor.StartError
	if !errors.As(o.Err, &se) || !strings.Contains(o.Err.Error(), "freshet-no-such-program-xyz") {
		t.Fatalf("Err = %v, want a *StartError naming the program", o.Err)
	}
}

func testBadDir(t *testing.T, l executor.Launcher) {
	j := job("true")
	j.Dir = "/nonexistent/freshet-dir"
	o, _ := launch(t, l, t.Context(), j)
	var se *executor.StartError
	if !errors.As(o.Err, &se) || !strings.Contains(o.Err.Error(), "/nonexistent/freshet-dir") {
		t.Fatalf("Err = %v, want a *StartError naming the directory", o.Err)
	}
}

func testEnv(t *testing.T, l executor.Launcher) {
	j := job(`echo "$FRESHET_TEST_A/$FRESHET_TEST_B"`)
	j.Env = []string{"FRESHET_TEST_A=one", "FRESHET_TEST_B=two words"}
	o, lines := launch(t, l, t.Context(), j)
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	if got := lines.Texts(executor.Stdout); len(got) != 1 || got[0] != "one/two words" {
		t.Errorf("stdout = %q", got)
	}
}

func testTimeout(t *testing.T, l executor.Launcher) {
	j := job("echo going >&2; sleep 1000")
	j.Timeout = 200 * time.Millisecond
	o, _ := launch(t, l, t.Context(), j)
	var te *executor.TimeoutError
	if !errors.As(o.Err, &te) || !strings.Contains(o.Err.Error(), "timed out after 200ms") {
		t.Fatalf("Err = %v, want a *TimeoutError", o.Err)
	}
	if !strings.Contains(o.Err.Error(), "going") {
		t.Errorf("reason %q lacks the stderr tail", o.Err)
	}
}

func testCancel(t *testing.T, l executor.Launcher) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	lines := NewLines()
	done := make(chan executor.Outcome, 1)
	go func() { done <- l.Launch(ctx, job("echo ready; sleep 1000"), lines.Func) }()
	lines.WaitFor(t, "ready")
	cancel()
	select {
	case o := <-done:
		if !errors.Is(o.Err, context.Canceled) {
			t.Fatalf("Err = %v, want context.Canceled", o.Err)
		}
	case <-time.After(deadline):
		t.Fatalf("canceled Launch did not return within %s", deadline)
	}
}

func testNoOutputAfterReturn(t *testing.T, l executor.Launcher) {
	// A background process keeps writing after the main one exits.
	_, lines := launch(t, l, t.Context(), job("(while :; do echo tick; sleep 0.01; done) & sleep 0.1; exit 0"))
	time.Sleep(100 * time.Millisecond)
	lines.mu.Lock()
	defer lines.mu.Unlock()
	if lines.late > 0 {
		t.Errorf("%d lines delivered after Launch returned", lines.late)
	}
}

// testOnStart: Job.OnStart is called exactly once, before Launch returns,
// for a command that runs; never for one that cannot start.
func testOnStart(t *testing.T, l executor.Launcher) {
	var (
		mu    sync.Mutex
		calls []executor.Process
	)
	j := job("echo hi")
	j.OnStart = func(p executor.Process) {
		mu.Lock()
		calls = append(calls, p)
		mu.Unlock()
	}
	o, _ := launch(t, l, t.Context(), j)
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	mu.Lock()
	if len(calls) != 1 || calls[0].PID < 0 {
		t.Errorf("OnStart calls %+v, want one", calls)
	}
	calls = nil
	mu.Unlock()

	j.Argv = []string{"freshet-no-such-program-xyz"}
	if o, _ := launch(t, l, t.Context(), j); o.Err == nil {
		t.Fatal("a missing program started")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 0 {
		t.Errorf("OnStart called for a command that did not start: %+v", calls)
	}
}
