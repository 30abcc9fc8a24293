package monitor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
)

// These tests drive the monitor only through Run: events go in through the
// pipeline (whose observer is Observe), the clock is fake, and what Run
// does is read back from the store and from Snapshot.

// syncClock is a fake clock that Run's goroutine may read while the test
// moves it.
type syncClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *syncClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *syncClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// runDeadline bounds every wait below. It is a failure bound, not a
// timing assertion: on a healthy machine each wait takes milliseconds.
const runDeadline = 20 * time.Second

// startRun runs m.Run in a goroutine. The returned stop cancels its
// context and fails the test unless Run then returns nil.
func startRun(t *testing.T, m *Monitor) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after its context was cancelled, want nil", err)
			}
		case <-time.After(runDeadline):
			t.Fatalf("Run did not return within %v of its context being cancelled", runDeadline)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds, failing the test at the deadline with
// what was awaited and the last observation.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(runDeadline)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run never got to %s within %v; last: %s", what, runDeadline, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorded waits until the freshness_changed events stored for key are
// exactly want (space-separated states, oldest first).
func (r *rig) recorded(t *testing.T, key asset.Key, want string) {
	t.Helper()
	waitFor(t, string(key)+" recorded as "+want, func() (bool, string) {
		got := states(r.changes(t, key))
		return got == want, got
	})
}

// published waits until Snapshot shows key in state want.
func (r *rig) published(t *testing.T, key asset.Key, want freshness.State) {
	t.Helper()
	waitFor(t, string(key)+" published as "+want.String(), func() (bool, string) {
		res, ok := r.m.Snapshot().Results[key]
		return ok && res.State == want, res.State.String()
	})
}

// TestRunEvaluatesOnEvents: with the timer out of the way (an hour), Run's
// passes come from events alone. Events submitted while it runs turn both
// assets from UNKNOWN to PASS, recorded once each and published.
func TestRunEvaluatesOnEvents(t *testing.T) {
	t.Parallel()
	clock := &syncClock{now: t0}
	r := newRig(t, t.TempDir(), func(o *Options) {
		o.Now, o.Interval, o.Coalesce = clock.Now, time.Hour, time.Millisecond
	})
	t.Cleanup(r.stop) // after Run has stopped (cleanups run last-in first-out)
	stop := startRun(t, r.m)

	// Run's first pass: nothing materialized yet.
	r.published(t, "marts/b", freshness.Unknown)
	r.recorded(t, "marts/b", "UNKNOWN")

	r.submit(t, mat("a1", "raw/a", t0.Add(-10*time.Minute)), mat("b1", "marts/b", t0.Add(-5*time.Minute)))
	r.published(t, "marts/b", freshness.Pass)
	r.published(t, "raw/a", freshness.Pass)
	r.recorded(t, "marts/b", "UNKNOWN PASS")
	r.recorded(t, "raw/a", "UNKNOWN PASS")
	if at := r.m.Snapshot().LastSuccess["marts/b"]; !at.Equal(t0.Add(-5 * time.Minute)) {
		t.Errorf("published last success of marts/b = %v, want %v", at, t0.Add(-5*time.Minute))
	}
	stop()
}

// TestRunEvaluatesOnTimer: no event arrives, only time passes (the fake
// clock); Run's timer passes notice the deadlines and record each change
// exactly once, however many passes follow.
func TestRunEvaluatesOnTimer(t *testing.T) {
	t.Parallel()
	clock := &syncClock{now: t0}
	r := newRig(t, t.TempDir(), func(o *Options) {
		o.Now, o.Interval, o.Coalesce = clock.Now, time.Millisecond, time.Millisecond
	})
	t.Cleanup(r.stop) // after Run has stopped (cleanups run last-in first-out)
	r.submit(t, mat("a1", "raw/a", t0.Add(-10*time.Minute)), mat("b1", "marts/b", t0.Add(-5*time.Minute)))
	stop := startRun(t, r.m)
	r.published(t, "marts/b", freshness.Pass)

	// 70 minutes on, raw/a is past its 1h max lag and marts/b, built from
	// it, past its 1h warn_after.
	clock.Set(t0.Add(70 * time.Minute))
	r.published(t, "marts/b", freshness.Warn)
	r.published(t, "raw/a", freshness.Fail)
	r.recorded(t, "marts/b", "PASS WARN")
	r.recorded(t, "raw/a", "PASS FAIL")

	// More timer passes with nothing new: nothing more recorded.
	for range 3 {
		select {
		case <-r.m.Evaluated():
		case <-time.After(runDeadline):
			t.Fatalf("no pass completed within %v", runDeadline)
		}
	}
	if got := states(r.changes(t, "marts/b")); got != "PASS WARN" {
		t.Errorf("marts/b changes after more passes = %q, want PASS WARN", got)
	}
	stop()
}
