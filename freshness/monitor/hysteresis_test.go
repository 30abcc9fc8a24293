package monitor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
)

// Issue 7 (5): an hourly job taking ten minutes with max_lag 1h was
// AT_RISK ten minutes of every hour, each flip recorded. Its normal cycle
// must record no AT_RISK at all: with run events (the executor's), the run
// in flight predicts the landing; without them, the cadence does.
func TestNormalCycleRecordsNoAtRiskFlip(t *testing.T) {
	t.Parallel()
	job := &asset.MaterializeSpec{Argv: []string{"true"}}
	w := sworld{specs: []asset.Spec{
		{Key: "job", Freshness: maxLag(time.Hour), Materialize: job}, // run by Freshet: run_started, then its materialization
		{Key: "ext", Freshness: maxLag(time.Hour)},                   // run elsewhere: materializations with durations only
	}}
	start := t0.Add(-3 * time.Hour)
	r := newWorldRig(t, t.TempDir(), w, start)
	defer r.stop()
	ctx := context.Background()
	for h := 1; h <= 3; h++ { // three earlier cycles: a cadence for ext
		at := start.Add(time.Duration(-h)*time.Hour + 10*time.Minute)
		r.submit(t, runEvent(fmt.Sprintf("s-%d", h), asset.KindRunStarted, "job", at.Add(-10*time.Minute), fmt.Sprintf("run--%d", h)),
			matRun(fmt.Sprintf("j-%d", h), "job", at, fmt.Sprintf("run--%d", h), 600), matRun(fmt.Sprintf("e-%d", h), "ext", at, "", 600))
	}
	for hour := range 6 {
		top := start.Add(time.Duration(hour) * time.Hour)
		for sec := 0; sec < 3600; sec += 15 { // a pass every 15 s, as the monitor's timer
			now := top.Add(time.Duration(sec) * time.Second)
			r.clock.now = now
			switch sec {
			case 0:
				r.submit(t, runEvent(fmt.Sprintf("s%d", hour), asset.KindRunStarted, "job", now, fmt.Sprintf("run-%d", hour)))
			case 600:
				r.submit(t, matRun(fmt.Sprintf("j%d", hour), "job", now, fmt.Sprintf("run-%d", hour), 600),
					matRun(fmt.Sprintf("e%d", hour), "ext", now, "", 600))
			}
			drain(t, r)
			r.m.pass(ctx, sec%60 == 0)
		}
	}
	for _, k := range []asset.Key{"job", "ext"} {
		if got := states(r.changes(t, k)); got != "PASS" {
			t.Errorf("%s recorded %q over six normal hours, want PASS only", k, got)
		}
	}
}

// A prediction that flips for less than RiskHold is not recorded; one
// that holds is; leaving because new data landed does not wait.
func TestAtRiskHysteresis(t *testing.T) {
	t.Parallel()
	w := sworld{specs: []asset.Spec{{Key: "job", Freshness: maxLag(time.Hour), Materialize: &asset.MaterializeSpec{Argv: []string{"true"}}}}}
	r := newWorldRig(t, t.TempDir(), w, t0.Add(-5*time.Minute-10*time.Second))
	defer r.stop()
	ctx := context.Background()
	at := func(d time.Duration) {
		t.Helper()
		r.clock.now = t0.Add(d)
		drain(t, r)
		r.m.pass(ctx, true)
	}
	// Deadline t0+5m; a rebuild takes ten minutes.
	r.submit(t, matRun("m1", "job", t0.Add(-55*time.Minute), "run-1", 600))
	at(-5*time.Minute - 10*time.Second) // a rebuild now lands at t0+4m50s: PASS
	at(-4*time.Minute - 50*time.Second) // t0+5m10s: AT_RISK predicted, not yet held
	if res := r.m.Snapshot().Results["job"]; res.State != freshness.Pass || !strings.Contains(res.Reason, "AT_RISK from") {
		t.Errorf("while AT_RISK is pending: %s (%s), want PASS saying when AT_RISK would start", res.State, res.Reason)
	}
	// The run had started 5m5s before the deadline (reported late): in time.
	r.submit(t, runEvent("s2", asset.KindRunStarted, "job", t0.Add(-5*time.Minute-5*time.Second), "run-2"))
	at(-4*time.Minute - 30*time.Second)
	at(-3*time.Minute - 30*time.Second)
	if got := states(r.changes(t, "job")); got != "PASS" {
		t.Fatalf("after a 20-second prediction: recorded %q, want PASS only", got)
	}
	// The run fails: a rebuild now would be late, and that holds.
	r.submit(t, asset.Event{ID: "f2", Kind: asset.KindMaterializationFailed, Asset: "job", Time: t0.Add(-3 * time.Minute), RunID: "run-2"})
	at(-3 * time.Minute)
	at(-2*time.Minute - 30*time.Second)
	if got := states(r.changes(t, "job")); got != "PASS" {
		t.Errorf("30 s into AT_RISK: recorded %q, want PASS only", got)
	}
	at(-2 * time.Minute)
	if got := states(r.changes(t, "job")); got != "PASS AT_RISK" {
		t.Errorf("a minute into AT_RISK: recorded %q, want PASS AT_RISK", got)
	}
	// New data lands: AT_RISK is left at once.
	r.submit(t, matRun("m3", "job", t0.Add(-90*time.Second), "run-3", 600))
	at(-time.Minute)
	if got := states(r.changes(t, "job")); got != "PASS AT_RISK PASS" {
		t.Errorf("after new data: recorded %q, want PASS AT_RISK PASS", got)
	}
}
