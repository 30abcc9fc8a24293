package monitor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// clock is a settable fake clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// rig is a monitor on the real pipeline: WAL, writer, embedded store.
type rig struct {
	st    store.Store
	p     *ingest.Pipeline
	m     *Monitor
	clock *clock
	idx   *lineage.Index
	stop  func()
}

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func specs() []asset.Spec {
	return []asset.Spec{
		{Key: "raw/a", Group: "raw", Freshness: &asset.FreshnessPolicy{MaxLag: time.Hour}},
		{Key: "marts/b", Group: "marts", Deps: []asset.Key{"raw/a"},
			Freshness: &asset.FreshnessPolicy{MaxLag: 2 * time.Hour, WarnAfter: time.Hour}},
	}
}

// newRig starts the rig's pipeline (not the monitor's Run) on the graph
// raw/a -> marts/b (and raw/c, known without an edge); tune adjusts the
// monitor's options.
func newRig(t *testing.T, dir string, tune ...func(*Options)) *rig {
	t.Helper()
	w := sworld{edges: [][2]asset.Key{{"raw/a", "marts/b"}}, specs: append(specs(), asset.Spec{Key: "raw/c"})}
	return newWorldRig(t, dir, w, t0, tune...)
}

func (r *rig) submit(t *testing.T, events ...asset.Event) {
	t.Helper()
	if err := r.p.Submit(context.Background(), events); err != nil {
		t.Fatal(err)
	}
}

// changes returns the freshness_changed events stored for key, oldest first.
func (r *rig) changes(t *testing.T, key asset.Key) []asset.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := r.st.Events(ctx, store.EventQuery{Asset: key, Kinds: []asset.Kind{asset.KindFreshnessChanged}, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func states(events []asset.Event) string {
	var out []string
	for _, e := range events {
		out = append(out, e.Metadata["state"].Text)
	}
	return strings.Join(out, " ")
}

func mat(id string, key asset.Key, at time.Time) asset.Event {
	return asset.Event{ID: id, Kind: asset.KindMaterialization, Asset: key, Time: at}
}

// gauges scrapes the collector through the real exposition handler and
// parses it with Prometheus' own text parser.
func gauges(t *testing.T, m *Monitor) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collector())
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, mt := range f.GetMetric() {
			var a, g string
			for _, l := range mt.GetLabel() {
				switch l.GetName() {
				case "asset":
					a = l.GetValue()
				case "group":
					g = l.GetValue()
				}
			}
			out[name+"{"+a+","+g+"}"] = mt.GetGauge().GetValue()
		}
	}
	return out
}

func TestStateChangesRecordedOnceWithGauges(t *testing.T) {
	t.Parallel()
	r := newRig(t, t.TempDir())
	defer r.stop()
	ctx := context.Background()
	r.submit(t, mat("a1", "raw/a", t0.Add(-10*time.Minute)), mat("b1", "marts/b", t0.Add(-5*time.Minute)))
	r.m.pass(ctx, false)
	r.m.pass(ctx, true) // nothing changed: nothing recorded
	if got := states(r.changes(t, "marts/b")); got != "PASS" {
		t.Fatalf("marts/b changes = %q, want one PASS", got)
	}

	// 70 minutes later raw/a is past its 1h max lag; marts/b was built from
	// it, so its data is 80 minutes old: past warn_after, root cause raw/a.
	r.clock.now = t0.Add(70 * time.Minute)
	r.m.pass(ctx, true)
	r.m.pass(ctx, true)
	b := r.changes(t, "marts/b")
	if states(b) != "PASS WARN" {
		t.Fatalf("marts/b changes = %q, want PASS WARN (exactly one event per change)", states(b))
	}
	last := b[1].Metadata
	if last["previous_state"].Text != "PASS" || last["root_cause"].Text != "raw/a" || last["lag_seconds"].Float != 80*60 {
		t.Errorf("WARN event metadata = %+v", last)
	}
	if got := states(r.changes(t, "raw/a")); got != "PASS FAIL" {
		t.Errorf("raw/a changes = %q, want PASS FAIL", got)
	}

	g := gauges(t, r.m)
	want := map[string]float64{
		"freshet_asset_freshness_state{marts/b,marts}":                1, // WARN
		"freshet_asset_freshness_state{raw/a,raw}":                    4, // FAIL
		"freshet_asset_freshness_lag_seconds{marts/b,marts}":          80 * 60,
		"freshet_asset_freshness_lag_seconds{raw/a,raw}":              80 * 60,
		"freshet_asset_last_success_timestamp_seconds{raw/a,raw}":     float64(t0.Add(-10 * time.Minute).Unix()),
		"freshet_asset_last_success_timestamp_seconds{marts/b,marts}": float64(t0.Add(-5 * time.Minute).Unix()),
	}
	for k, v := range want {
		if got, ok := g[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}

	// A fresh raw/a makes both PASS again, through an event-driven pass.
	r.submit(t, mat("a2", "raw/a", r.clock.now), mat("b2", "marts/b", r.clock.now.Add(time.Second)))
	r.m.pass(ctx, false)
	if got := states(r.changes(t, "marts/b")); got != "PASS WARN PASS" {
		t.Errorf("after recovery marts/b changes = %q", got)
	}
	if s := r.m.Snapshot().Results["marts/b"]; s.State != freshness.Pass {
		t.Errorf("snapshot state = %v", s.State)
	}
}

// TestRestartDoesNotRepeat: after a restart the last recorded states and
// the API policies come back from the store, so an unchanged state is not
// recorded again.
func TestRestartDoesNotRepeat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := newRig(t, dir)
	ctx := context.Background()
	r.submit(t, mat("a1", "raw/a", t0.Add(-10*time.Minute)), mat("b1", "marts/b", t0.Add(-5*time.Minute)))
	r.m.pass(ctx, false)
	if _, err := r.m.SetPolicy(ctx, "raw/a", &asset.FreshnessPolicy{MaxLag: 3 * time.Hour}, "alice"); err != nil {
		t.Fatal(err)
	}
	r.changes(t, "raw/a") // drains
	r.stop()

	r = newRig(t, dir)
	defer r.stop()
	if p, ok := r.m.Effective("raw/a"); !ok || p.Source != freshness.SourceAPI || p.Policy.MaxLag != 3*time.Hour {
		t.Errorf("API policy after restart = %+v %v", p, ok)
	}
	r.m.pass(ctx, true)
	if got := states(r.changes(t, "marts/b")); got != "PASS" {
		t.Errorf("marts/b changes after restart = %q, want the one PASS from before", got)
	}
}

func TestSetPolicy(t *testing.T) {
	t.Parallel()
	r := newRig(t, t.TempDir())
	defer r.stop()
	ctx := context.Background()
	if p, _ := r.m.Effective("raw/a"); p.Source != freshness.SourceFile {
		t.Fatalf("initial source = %q", p.Source)
	}
	tests := []struct {
		name    string
		policy  *asset.FreshnessPolicy
		wantErr error
		source  freshness.Source
		maxLag  time.Duration
	}{
		{"set", &asset.FreshnessPolicy{MaxLag: 30 * time.Minute, WarnAfter: 10 * time.Minute}, nil, freshness.SourceAPI, 30 * time.Minute},
		{"replace", &asset.FreshnessPolicy{Cron: "0 7 * * *", Timezone: "Europe/Paris", MaxLag: time.Hour}, nil, freshness.SourceAPI, time.Hour},
		{"warn not below max", &asset.FreshnessPolicy{MaxLag: time.Hour, WarnAfter: time.Hour}, freshness.ErrInvalidPolicy, freshness.SourceAPI, time.Hour},
		{"bad zone", &asset.FreshnessPolicy{Cron: "0 7 * * *", Timezone: "Mars/Olympus", MaxLag: time.Hour}, freshness.ErrInvalidPolicy, freshness.SourceAPI, time.Hour},
		{"delete reverts to the file", nil, nil, freshness.SourceFile, time.Hour},
		{"delete twice", nil, freshness.ErrNoAPIPolicy, freshness.SourceFile, time.Hour},
	}
	for _, tt := range tests {
		_, err := r.m.SetPolicy(ctx, "raw/a", tt.policy, "bob")
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		}
		p, _ := r.m.Effective("raw/a")
		if p.Source != tt.source || p.Policy.MaxLag != tt.maxLag {
			t.Errorf("%s: effective = %+v", tt.name, p)
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.p.Drain(ctx2); err != nil {
		t.Fatal(err)
	}
	page, err := r.st.Events(ctx, store.EventQuery{Asset: "raw/a", Kinds: []asset.Kind{asset.KindPolicyChanged}, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Events {
		actions = append(actions, e.Metadata["action"].Text+":"+e.Metadata["actor"].Text)
	}
	if got := strings.Join(actions, " "); got != "set:bob set:bob delete:bob" {
		t.Errorf("audit trail = %q (rejected policies must not be recorded)", got)
	}
	if prev := page.Events[0].Metadata["previous"].Text; !strings.Contains(prev, `"source":"file"`) || !strings.Contains(prev, `"max_lag":"1h"`) {
		t.Errorf("first change should record the file policy it replaced: %s", prev)
	}
}

// TestUnfollowedAssetIsSeeded: events of an asset no policy depends on are
// not tracked (once a pass knows it); when it gets a policy, its history so
// far is seeded, so it is evaluated on its real data rather than reported
// as never built.
func TestUnfollowedAssetIsSeeded(t *testing.T) {
	t.Parallel()
	r := newRig(t, t.TempDir())
	defer r.stop()
	ctx := context.Background()
	r.m.pass(ctx, true) // follows raw/a and marts/b only
	// A new asset is followed from its first event until a pass that
	// began after the previous pass finds that no policy needs it (the
	// previous one may not have seen a policy selected for it meanwhile);
	// then its events are dropped.
	r.submit(t, mat("c0", "raw/c", t0.Add(-5*time.Hour)))
	r.m.pass(ctx, true)
	r.m.pass(ctx, true)
	r.submit(t, mat("c1", "raw/c", t0.Add(-3*time.Hour)))
	r.changes(t, "raw/c") // drain to the store
	r.m.mu.Lock()
	pending := len(r.m.pending)
	r.m.mu.Unlock()
	if pending != 0 {
		t.Errorf("an event of an asset no policy needs was queued (%d pending)", pending)
	}
	if _, err := r.m.SetPolicy(ctx, "raw/c", &asset.FreshnessPolicy{MaxLag: 2 * time.Hour}, "dana"); err != nil {
		t.Fatal(err)
	}
	r.m.pass(ctx, false)
	got := r.m.Snapshot().Results["raw/c"]
	if got.State != freshness.Fail || got.Lag != 3*time.Hour {
		t.Errorf("raw/c = %v lag %v, want FAIL 3h from its seeded history", got.State, got.Lag)
	}
}

// TestReplayedPolicyAndStateEvents: after a crash, the write-ahead log
// replays policy and state changes the store may not have yet; the monitor
// applies them (the latest wins), so an acknowledged SLA change is in force.
func TestReplayedPolicyAndStateEvents(t *testing.T) {
	t.Parallel()
	m := New(lineage.NewIndex(), nil, Options{Logger: quiet})
	m.SetSpecs(specs())
	set := func(id string, at time.Time, lag string) asset.Event {
		md := asset.Metadata{"action": asset.Text("set"), "actor": asset.Text("x"), "policy": asset.JSONValue(`{"max_lag":"` + lag + `"}`)}
		return asset.Event{ID: id, Kind: asset.KindPolicyChanged, Asset: "raw/a", Time: at, Metadata: md}
	}
	del := asset.Event{ID: "p0", Kind: asset.KindPolicyChanged, Asset: "raw/a", Time: t0.Add(-time.Hour),
		Metadata: asset.Metadata{"action": asset.Text("delete"), "actor": asset.Text("x")}}
	state := asset.Event{ID: "s1", Kind: asset.KindFreshnessChanged, Asset: "raw/a", Time: t0,
		Metadata: asset.Metadata{"state": asset.Text("FAIL")}}
	// Out of order on purpose: the latest (time, id) must win.
	m.Observe([]asset.Event{set("p2", t0.Add(time.Minute), "5h"), set("p1", t0, "3h"), del, state})
	if p, ok := m.Effective("raw/a"); !ok || p.Source != freshness.SourceAPI || p.Policy.MaxLag != 5*time.Hour {
		t.Errorf("effective = %+v %v, want the API policy of the latest change (5h)", p, ok)
	}
	m.mu.Lock()
	got := m.last["raw/a"]
	m.mu.Unlock()
	if got != freshness.Fail {
		t.Errorf("recorded state = %v, want FAIL from the replayed event", got)
	}
}

// TestRestartKeepsHistory: after a restart the tracker gets each asset's
// recent successes back, not just the latest, so a mart built from an
// older version of its upstream keeps that older data time.
func TestRestartKeepsHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := newRig(t, dir)
	ctx := context.Background()
	r.submit(t,
		mat("a-old", "raw/a", t0.Add(-3*time.Hour)),
		mat("b1", "marts/b", t0.Add(-2*time.Hour)), // read raw/a as of t0-3h
		mat("a-new", "raw/a", t0.Add(-10*time.Minute)))
	r.m.pass(ctx, false)
	before := r.m.Snapshot().Results["marts/b"]
	r.changes(t, "marts/b") // drain
	r.stop()

	r = newRig(t, dir)
	defer r.stop()
	r.m.pass(ctx, true)
	after := r.m.Snapshot().Results["marts/b"]
	if before.State != freshness.Fail || after.State != before.State || !after.DataTime.Equal(t0.Add(-3*time.Hour)) {
		t.Errorf("marts/b before restart %v (data time %v), after %v (data time %v); want FAIL with data as of t0-3h both times",
			before.State, before.DataTime, after.State, after.DataTime)
	}
}

// TestNewAssetFollowedFromItsFirstEvent: an asset first seen in events is
// followed from its first event, before any policy needs it, so when a
// policy (a selection reaching it, here an SLA) arrives its history is
// whole: y's data time comes from x's older run, with no store to ask.
func TestNewAssetFollowedFromItsFirstEvent(t *testing.T) {
	t.Parallel()
	w := sworld{edges: [][2]asset.Key{{"x", "y"}}}
	r := newWorldRig(t, t.TempDir(), w, t0, func(o *Options) { o.History = nil })
	defer r.stop()
	ctx := context.Background()
	r.m.pass(ctx, true) // no policy yet: nothing is relevant
	r.submit(t, mat("x1", "x", t0.Add(-5*time.Hour)), mat("y1", "y", t0.Add(-30*time.Minute)), mat("x2", "x", t0.Add(-5*time.Minute)))
	drain(t, r)
	if _, err := r.m.SetPolicy(ctx, "y", &asset.FreshnessPolicy{MaxLag: 2 * time.Hour}, "test"); err != nil {
		t.Fatal(err)
	}
	r.m.pass(ctx, false)
	got, ok := r.m.Snapshot().Results["y"]
	if !ok || got.State != freshness.Fail || !got.DataTime.Equal(t0.Add(-5*time.Hour)) {
		t.Errorf("y = %+v (present %v), want FAIL with x1's data time, from a whole history", got, ok)
	}
}
