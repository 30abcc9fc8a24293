package monitor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/ingest/wal"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store/embedded"
)

// Scenario tests for issue 7: each runs through the real pipeline (WAL,
// writer, embedded store) with a fake clock, asserts state, root cause and
// data time, then closes everything, reopens it from the same directory,
// and asserts the same answer (and gauge) after the restart.

// sworld is a scenario's graph and specs.
type sworld struct {
	edges [][2]asset.Key // upstream, downstream
	specs []asset.Spec
}

// newWorldRig starts a rig's pipeline (not the monitor's Run) on any
// graph, with the seeding, the history fetch and the restart history
// wired as the app wires them; tune adjusts the monitor's options.
func newWorldRig(t *testing.T, dir string, w sworld, now time.Time, tune ...func(*Options)) *rig {
	t.Helper()
	st, err := embedded.Open(context.Background(), dir+"/store")
	if err != nil {
		t.Fatal(err)
	}
	log, err := wal.Open(dir+"/wal", wal.Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{st: st, clock: &clock{now: now}, idx: lineage.NewIndex()}
	seen := map[asset.Key]bool{}
	var keys []asset.Key
	var edges []asset.Edge
	add := func(k asset.Key) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, s := range w.specs {
		add(s.Key)
	}
	for _, e := range w.edges {
		add(e[0])
		add(e[1])
		edges = append(edges, asset.Edge{Upstream: e[0], Downstream: e[1]})
	}
	r.idx.Reset(keys, edges, nil)
	var m *Monitor
	r.p = ingest.NewPipeline(log, st, ingest.Options{Logger: quiet, BatchDelay: time.Millisecond},
		func(ev []asset.Event) { m.Observe(ev) })
	opts := Options{Now: r.clock.Now, Logger: quiet, History: st, Seed: func(k asset.Key) []asset.Event {
		// The app seeds from the catalog's latest events; the store's summaries hold the same.
		sums, err := st.Summaries(context.Background())
		if err != nil {
			t.Error(err)
		}
		var out []asset.Event
		for _, s := range sums {
			if s.Asset == k {
				for _, e := range []*asset.Event{s.LastObservation, s.LastMaterialization, s.LastFailure} {
					if e != nil {
						out = append(out, *e)
					}
				}
			}
		}
		return out
	}}
	for _, f := range tune {
		f(&opts)
	}
	m = New(r.idx, r.p, opts)
	r.m = m
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.p.Run(ctx); close(done) }()
	r.stop = func() {
		cancel()
		<-done
		log.Close()
		st.Close()
	}
	m.SetSpecs(w.specs)
	sums, err := st.Summaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	recent, err := st.RecentSuccesses(context.Background(), RestartHistory)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(sums, recent); err != nil {
		t.Fatal(err)
	}
	return r
}

// expectation is one asset's expected result; a zero dataTime expects none.
type expectation struct {
	key      asset.Key
	state    freshness.State
	root     asset.Key
	dataTime time.Time
}

func (r *rig) check(t *testing.T, when string, wants []expectation) {
	t.Helper()
	snap := r.m.Snapshot()
	g := gauges(t, r.m)
	for _, w := range wants {
		got, ok := snap.Results[w.key]
		if !ok {
			t.Errorf("%s: no result for %s", when, w.key)
			continue
		}
		if got.State != w.state || got.RootCause != w.root || !got.DataTime.Equal(w.dataTime) {
			t.Errorf("%s: %s = %s root %q data time %v (%s); want %s root %q data time %v",
				when, w.key, got.State, got.RootCause, got.DataTime, got.Reason, w.state, w.root, w.dataTime)
		}
		name := fmt.Sprintf("freshet_asset_freshness_state{%s,%s}", w.key, snap.Groups[w.key])
		if v, ok := g[name]; !ok || v != float64(w.state.Severity()) {
			t.Errorf("%s: gauge %s = %v (present %v), want %d", when, name, v, ok, w.state.Severity())
		}
	}
}

func drain(t *testing.T, r *rig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func maxLag(d time.Duration) *asset.FreshnessPolicy { return &asset.FreshnessPolicy{MaxLag: d} }

func obs(id string, key asset.Key, at time.Time, md asset.Metadata) asset.Event {
	return asset.Event{ID: id, Kind: asset.KindObservation, Asset: key, Time: at, Metadata: md}
}

func TestIssue7Scenarios(t *testing.T) {
	t.Parallel()
	h := time.Hour
	tests := []struct {
		name  string
		world sworld
		// run drives the monitor (submits, sets SLAs, passes) and returns
		// the clock for the checks.
		run func(t *testing.T, r *rig) time.Time
		// afterRestart, when set, drives the reopened monitor before the
		// checks (its first pass at the returned clock has run).
		afterRestart func(t *testing.T, r *rig)
		want         []expectation
	}{
		{
			name: "history eviction: a daily mart over an hourly staging table over a stopped raw table",
			world: sworld{edges: [][2]asset.Key{{"raw", "stg"}, {"stg", "mart"}},
				specs: []asset.Spec{{Key: "mart", Freshness: maxLag(24 * h)}}},
			run: func(t *testing.T, r *rig) time.Time {
				raw := t0.Add(-3 * 24 * h)
				r.submit(t, mat("raw1", "raw", raw))
				for i := range 30 {
					r.submit(t, mat(fmt.Sprintf("stg-a%d", i), "stg", raw.Add(time.Duration(i+1)*h)))
				}
				r.submit(t, mat("mart1", "mart", raw.Add(31*h)))
				for i := range 20 { // more than a window of staging runs since the mart's
					r.submit(t, mat(fmt.Sprintf("stg-b%d", i), "stg", raw.Add(time.Duration(32+i)*h)))
				}
				drain(t, r)
				r.m.pass(context.Background(), true)
				return t0
			},
			want: []expectation{{"mart", freshness.Fail, "raw", t0.Add(-3 * 24 * h)}},
		},
		{
			name: "SLA set at run time on assets the monitor did not follow",
			world: sworld{edges: [][2]asset.Key{{"x", "y"}},
				specs: []asset.Spec{{Key: "x"}, {Key: "y"}}},
			run: func(t *testing.T, r *rig) time.Time {
				ctx := context.Background()
				r.m.pass(ctx, true) // no policy: nothing followed
				r.submit(t, mat("x1", "x", t0.Add(-5*h)), mat("y1", "y", t0.Add(-30*time.Minute)), mat("x2", "x", t0.Add(-5*time.Minute)))
				drain(t, r)
				if _, err := r.m.SetPolicy(ctx, "y", maxLag(2*h), "erin"); err != nil {
					t.Fatal(err)
				}
				r.m.pass(ctx, false)
				return t0
			},
			// y was built from x as of 5 hours ago; x has refreshed since, so
			// a rebuild of y would catch up: y itself is the root cause.
			want: []expectation{{"y", freshness.Fail, "y", t0.Add(-5 * h)}},
		},
		{
			name: "a row-count probe on a derived asset changes nothing; a Dagster timestamp does",
			world: sworld{edges: [][2]asset.Key{{"raw", "mart"}, {"raw", "mart2"}},
				specs: []asset.Spec{{Key: "mart", Freshness: maxLag(2 * h)}, {Key: "mart2", Freshness: maxLag(2 * h)}}},
			run: func(t *testing.T, r *rig) time.Time {
				r.submit(t, mat("raw1", "raw", t0.Add(-3*h)), mat("m1", "mart", t0.Add(-3*h+5*time.Minute)),
					mat("n1", "mart2", t0.Add(-3*h+5*time.Minute)))
				r.m.pass(context.Background(), false)
				r.submit(t, obs("probe", "mart", t0, asset.Metadata{"dagster/row_count": asset.Int(42)}),
					obs("dagster", "mart2", t0, asset.Metadata{freshness.DagsterLastUpdatedKey: asset.Float(float64(t0.Add(-10 * time.Minute).Unix()))}))
				drain(t, r)
				r.m.pass(context.Background(), false)
				return t0
			},
			want: []expectation{
				{"mart", freshness.Fail, "raw", t0.Add(-3 * h)},
				{"mart2", freshness.Pass, "", t0.Add(-10 * time.Minute)},
			},
		},
		{
			// 2026-03-13 is a Friday; 09:00 New York is 13:00Z (EDT).
			name: "cron without max_lag: each tick needs data from after the previous tick",
			world: sworld{specs: []asset.Spec{
				{Key: "report", Freshness: &asset.FreshnessPolicy{Cron: "0 9 * * 1-5", Timezone: "America/New_York"}},
				{Key: "early", Freshness: &asset.FreshnessPolicy{Cron: "0 9 * * 1-5", Timezone: "America/New_York"}},
			}},
			run: func(t *testing.T, r *rig) time.Time {
				friday := time.Date(2026, 3, 13, 13, 30, 0, 0, time.UTC) // after Friday's tick
				r.submit(t, mat("rep1", "report", friday), mat("early1", "early", friday.Add(-time.Hour)))
				drain(t, r)
				monday := time.Date(2026, 3, 16, 13, 0, 0, 0, time.UTC)
				r.clock.now = monday
				r.m.pass(context.Background(), true)
				snap := r.m.Snapshot().Results
				if rep := snap["report"]; rep.State != freshness.Pass || !rep.Deadline.Equal(monday.Add(24*h)) {
					t.Errorf("Monday 09:00: report %s deadline %v (%s); want PASS until Tuesday's tick", rep.State, rep.Deadline, rep.Reason)
				}
				tuesday := monday.Add(24 * h)
				r.clock.now = tuesday
				r.m.pass(context.Background(), true)
				return tuesday
			},
			want: []expectation{
				// Tuesday's tick needs data from after Monday's: Friday's fails it.
				{"report", freshness.Fail, "report", time.Date(2026, 3, 13, 13, 30, 0, 0, time.UTC)},
				// Data from before Friday's tick already failed Monday's.
				{"early", freshness.Fail, "early", time.Date(2026, 3, 13, 12, 30, 0, 0, time.UTC)},
			},
		},
		{
			name: "a dependency that never materialized: UNKNOWN, then FAIL after the grace period",
			world: sworld{edges: [][2]asset.Key{{"a", "b"}, {"x", "b"}, {"p", "q"}},
				specs: []asset.Spec{{Key: "b", Freshness: maxLag(2 * h)}, {Key: "q", Freshness: maxLag(2 * h)}}},
			run: func(t *testing.T, r *rig) time.Time {
				r.submit(t, mat("x1", "x", t0.Add(-time.Hour)), mat("b1", "b", t0.Add(-50*time.Minute)))
				r.m.pass(context.Background(), true) // q, never materialized, is first seen now
				snap := r.m.Snapshot().Results
				if b, q := snap["b"], snap["q"]; b.State != freshness.Unknown || b.RootCause != "a" || q.State != freshness.Unknown || q.RootCause != "q" {
					t.Errorf("within the grace period: b %s root %s, q %s root %s; want UNKNOWN a, UNKNOWN q", b.State, b.RootCause, q.State, q.RootCause)
				}
				drain(t, r)
				r.clock.now = t0.Add(3 * h)
				r.m.pass(context.Background(), true)
				return t0.Add(3 * h)
			},
			want: []expectation{{"b", freshness.Fail, "a", time.Time{}}, {"q", freshness.Fail, "q", time.Time{}}},
		},
		{
			name: "cycles: the same shape under other names gives the same answer",
			world: sworld{edges: [][2]asset.Key{{"raw", "a"}, {"a", "b"}, {"b", "a"}, {"raw2", "z"}, {"z", "y"}, {"y", "z"}},
				specs: []asset.Spec{{Key: "a", Freshness: maxLag(2 * h)}, {Key: "b", Freshness: maxLag(2 * h)},
					{Key: "z", Freshness: maxLag(2 * h)}, {Key: "y", Freshness: maxLag(2 * h)}}},
			run: func(t *testing.T, r *rig) time.Time {
				for _, p := range [][3]asset.Key{{"raw", "a", "b"}, {"raw2", "z", "y"}} {
					r.submit(t, mat(string(p[0])+"1", p[0], t0.Add(-4*h)), mat(string(p[1])+"1", p[1], t0.Add(-3*h)),
						mat(string(p[2])+"1", p[2], t0.Add(-2*h)), mat(string(p[1])+"2", p[1], t0.Add(-time.Hour)))
				}
				r.m.pass(context.Background(), true)
				return t0
			},
			want: []expectation{
				{"a", freshness.Fail, "raw", t0.Add(-4 * h)}, {"z", freshness.Fail, "raw2", t0.Add(-4 * h)},
				{"b", freshness.Fail, "raw", t0.Add(-4 * h)}, {"y", freshness.Fail, "raw2", t0.Add(-4 * h)},
			},
		},
		{
			// Issue 7 (5): a run in flight whose expected end (start + p50)
			// is before the deadline is not at risk; one that will land
			// late is, with its predicted completion. Runs in flight are
			// read back from the store after a restart: without them,
			// "a rebuild started now" would put ok at risk a minute later.
			name: "runs in flight: in time is not at risk, late is, across a restart",
			world: sworld{specs: []asset.Spec{
				{Key: "ok", Freshness: maxLag(h), Materialize: &asset.MaterializeSpec{Argv: []string{"true"}}},
				{Key: "late", Freshness: maxLag(h), Materialize: &asset.MaterializeSpec{Argv: []string{"true"}}}}},
			run: func(t *testing.T, r *rig) time.Time {
				// Both landed 55 minutes ago (deadline t0+5m) and take 10 minutes.
				r.submit(t, matRun("ok1", "ok", t0.Add(-55*time.Minute), "run-ok1", 600), matRun("late1", "late", t0.Add(-55*time.Minute), "run-late1", 600),
					runEvent("s-ok2", asset.KindRunStarted, "ok", t0.Add(-6*time.Minute), "run-ok2"),
					runEvent("s-late2", asset.KindRunStarted, "late", t0.Add(-2*time.Minute), "run-late2"))
				drain(t, r)
				r.m.pass(context.Background(), true)
				r.clock.now = t0.Add(time.Minute) // AT_RISK holds a minute before it is entered
				r.m.pass(context.Background(), true)
				late := r.m.Snapshot().Results["late"]
				if late.PredictedCompletion == nil || !late.PredictedCompletion.Equal(t0.Add(8*time.Minute)) {
					t.Errorf("late predicted %v, want %v (%s)", late.PredictedCompletion, t0.Add(8*time.Minute), late.Reason)
				}
				return t0.Add(time.Minute)
			},
			afterRestart: func(t *testing.T, r *rig) {
				r.clock.now = t0.Add(2 * time.Minute)
				r.m.pass(context.Background(), true)
			},
			want: []expectation{
				{"ok", freshness.Pass, "", t0.Add(-55 * time.Minute)},
				{"late", freshness.AtRisk, "late", t0.Add(-55 * time.Minute)},
			},
		},
		{
			// Issue 7 (6): backfilling an old partition of a daily asset
			// does not make it PASS while recent partitions are missing.
			// More partitions than the in-memory window: after a restart
			// the monitor reads them all back from the store.
			name: "partition backfill: the data time is the end of the contiguous partitions",
			world: sworld{specs: []asset.Spec{{Key: "events", Freshness: maxLag(h),
				Partitions: &asset.PartitionsSpec{Type: "daily", Start: day(-30)}}}},
			run: func(t *testing.T, r *rig) time.Time {
				for d := -30; d <= -4; d++ { // every day until four days ago, built an hour after it ended
					r.submit(t, matPart(fmt.Sprintf("p%d", d), "events", day(d+1).Add(h), day(d)))
				}
				r.submit(t, matPart("backfill", "events", t0.Add(-10*time.Minute), day(-8)))
				drain(t, r)
				r.m.pass(context.Background(), true)
				return t0
			},
			want: []expectation{{"events", freshness.Fail, "events", day(-3)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := newWorldRig(t, dir, tt.world, t0)
			now := tt.run(t, r)
			r.check(t, "before restart", tt.want)
			drain(t, r)
			r.stop()

			r = newWorldRig(t, dir, tt.world, now)
			defer r.stop()
			r.m.pass(context.Background(), true)
			if tt.afterRestart != nil {
				tt.afterRestart(t, r)
			}
			r.check(t, "after restart", tt.want)
		})
	}
}

// day is the start (UTC midnight) of the day d days from t0's.
func day(d int) time.Time { return t0.Truncate(24*time.Hour).AddDate(0, 0, d) }

func matRun(id string, key asset.Key, at time.Time, run string, seconds float64) asset.Event {
	return asset.Event{ID: id, Kind: asset.KindMaterialization, Asset: key, Time: at, RunID: run,
		Metadata: asset.Metadata{freshness.DurationKey: asset.Float(seconds)}}
}

func matPart(id string, key asset.Key, at, partition time.Time) asset.Event {
	return asset.Event{ID: id, Kind: asset.KindMaterialization, Asset: key, Time: at,
		Partition: partition.Format(freshness.DailyPartitionLayout)}
}

func runEvent(id string, kind asset.Kind, key asset.Key, at time.Time, run string) asset.Event {
	return asset.Event{ID: id, Kind: kind, Asset: key, Time: at, RunID: run}
}
