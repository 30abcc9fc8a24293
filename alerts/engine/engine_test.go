package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/engine"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store/embedded"
)

// sent records what the engine hands the outbox.
type sent struct {
	mu sync.Mutex
	ns []record
}

type record struct {
	n         alerts.Notification
	receivers []string
	silenced  bool
}

func (s *sent) Enqueue(_ context.Context, n alerts.Notification, receivers []string, silenced bool) error {
	if err := n.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ns = append(s.ns, record{n, receivers, silenced})
	return nil
}

func (s *sent) take() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.ns
	s.ns = nil
	return out
}

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// world: raw/crm -> marts/s01..s20 and raw/crm -> y.
func world() (map[asset.Key]asset.Spec, *lineage.Graph) {
	specs := map[asset.Key]asset.Spec{
		"raw/crm": {Key: "raw/crm", Group: "raw", Owners: []string{"team:ingest"}},
		"y":       {Key: "y", Group: "marts", Deps: []asset.Key{"raw/crm"}},
	}
	var keys []asset.Key
	var edges []asset.Edge
	for i := 1; i <= 20; i++ {
		k := asset.Key(fmt.Sprintf("marts/s%02d", i))
		specs[k] = asset.Spec{Key: k, Group: "marts", Owners: []string{fmt.Sprintf("team:t%d", i%3)}, Deps: []asset.Key{"raw/crm"}}
	}
	for k, s := range specs {
		keys = append(keys, k)
		for _, d := range s.Deps {
			edges = append(edges, asset.Edge{Upstream: d, Downstream: k})
		}
	}
	ix := lineage.NewIndex()
	ix.Reset(keys, edges, nil)
	return specs, ix.Current()
}

func newEngine(t *testing.T, dir string, rules []config.AlertRule, out *sent) *engine.Engine {
	t.Helper()
	e, closeStore := openEngine(t, dir, rules, out)
	t.Cleanup(closeStore)
	return e
}

// openEngine opens the store in dir and an engine on it; closeStore
// closes the store (a restart reopens the directory).
func openEngine(t *testing.T, dir string, rules []config.AlertRule, out *sent) (*engine.Engine, func()) {
	t.Helper()
	st, err := embedded.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	closeStore := func() { st.Close() }
	specs, _ := world()
	e := engine.New(rules, st, out, engine.Options{Spec: func(k asset.Key) (asset.Spec, bool) { s, ok := specs[k]; return s, ok }})
	if err := e.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, closeStore
}

// incident: raw/crm FAIL and the 20 marts FAIL because of it.
func incident(now time.Time) *freshness.Snapshot {
	res := map[asset.Key]freshness.Result{
		"raw/crm": {Key: "raw/crm", State: freshness.Fail, RootCause: "raw/crm", Reason: "data is 2d old, over max_lag 1d", Lag: 48 * time.Hour},
	}
	for i := 1; i <= 20; i++ {
		k := asset.Key(fmt.Sprintf("marts/s%02d", i))
		res[k] = freshness.Result{Key: k, State: freshness.Fail, RootCause: "raw/crm", Reason: "root cause raw/crm"}
	}
	return &freshness.Snapshot{At: now, Results: res}
}

func healthy(now time.Time) *freshness.Snapshot {
	res := map[asset.Key]freshness.Result{"raw/crm": {Key: "raw/crm", State: freshness.Pass}}
	for i := 1; i <= 20; i++ {
		k := asset.Key(fmt.Sprintf("marts/s%02d", i))
		res[k] = freshness.Result{Key: k, State: freshness.Pass}
	}
	return &freshness.Snapshot{At: now, Results: res}
}

var failRule = config.AlertRule{Name: "sla", When: []string{config.WhenFreshnessFail, config.WhenCheckFailed, config.WhenMaterialization}, Receivers: []string{"pd"}}

func eval(t *testing.T, e *engine.Engine, snap *freshness.Snapshot, problems []catalog.Problem) {
	t.Helper()
	_, g := world()
	if err := e.Evaluate(context.Background(), engine.Input{Now: snap.At, Freshness: snap, Problems: problems, Graph: g}); err != nil {
		t.Fatal(err)
	}
}

// TestOnePagePerRootCause: a root failure with 20 stale descendants is one
// trigger listing the 20, never repeated while it lasts, one resolve
// after recovery; a restart in between changes nothing.
func TestOnePagePerRootCause(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := &sent{}
	e, closeStore := openEngine(t, dir, []config.AlertRule{failRule}, out)
	for i := range 5 {
		eval(t, e, incident(t0.Add(time.Duration(i)*time.Minute)), nil)
	}
	got := out.take()
	if len(got) != 1 {
		t.Fatalf("%d notifications, want 1: %+v", len(got), got)
	}
	n := got[0].n
	// The 20 stale marts, and y: downstream of raw/crm without an SLA.
	if n.Status != alerts.Firing || n.RootCause != "raw/crm" || len(n.Impacted) != 21 || !slices.Contains(n.Impacted, "y") ||
		n.Key != engine.Key("sla", "raw/crm") || n.Severity != alerts.Error || !slices.Equal(got[0].receivers, []string{"pd"}) ||
		n.Details["impacted_count"] != "21" {
		t.Errorf("notification = %+v", n)
	}
	if n.Details["impacted_owners"] != "team:t0, team:t1, team:t2" {
		t.Errorf("impacted owners = %q", n.Details["impacted_owners"])
	}
	if f := e.Firing(); len(f) != 1 || f[0].Held != "" {
		t.Errorf("firing = %+v", f)
	}

	// Restart: the open incident is loaded; still firing sends nothing.
	closeStore()
	e2 := newEngine(t, dir, []config.AlertRule{failRule}, out)
	eval(t, e2, incident(t0.Add(10*time.Minute)), nil)
	if got := out.take(); len(got) != 0 {
		t.Fatalf("after a restart: %d notifications, want none: %+v", len(got), got)
	}
	eval(t, e2, healthy(t0.Add(11*time.Minute)), nil)
	eval(t, e2, healthy(t0.Add(12*time.Minute)), nil)
	got = out.take()
	if len(got) != 1 || got[0].n.Status != alerts.Resolved || got[0].n.Key != n.Key || !got[0].n.StartsAt.Equal(t0) {
		t.Fatalf("after recovery: %+v, want one resolve of %s", got, n.Key)
	}
	if f := e2.Firing(); len(f) != 0 {
		t.Errorf("still open: %+v", f)
	}
}

func TestSilenceHoldsThenReleases(t *testing.T) {
	t.Parallel()
	out := &sent{}
	e := newEngine(t, t.TempDir(), []config.AlertRule{failRule}, out)
	ctx := context.Background()
	if _, err := e.AddSilence(ctx, engine.Silence{Match: engine.Matcher{KeyPrefix: "raw"}, Comment: "CRM vendor outage", CreatedBy: "alice",
		EndsAt: t0.Add(30 * time.Minute)}, t0); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []engine.Silence{
		{Comment: "x", CreatedBy: "a", EndsAt: t0.Add(time.Hour)},
		{Match: engine.Matcher{Group: "raw"}, CreatedBy: "a", EndsAt: t0.Add(time.Hour)},
		{Match: engine.Matcher{Group: "raw"}, Comment: "x", CreatedBy: "a", EndsAt: t0.Add(-time.Hour)},
	} {
		if _, err := e.AddSilence(ctx, bad, t0); err == nil {
			t.Errorf("AddSilence(%+v) accepted", bad)
		}
	}
	eval(t, e, incident(t0.Add(time.Minute)), nil)
	eval(t, e, incident(t0.Add(2*time.Minute)), nil)
	got := out.take()
	if len(got) != 1 || !got[0].silenced {
		t.Fatalf("while silenced: %+v, want one silenced record", got)
	}
	if f := e.Firing(); len(f) != 1 || f[0].Held != engine.HeldSilenced {
		t.Errorf("firing = %+v", f)
	}
	// The silence ends while it still fires: sent once.
	eval(t, e, incident(t0.Add(31*time.Minute)), nil)
	eval(t, e, incident(t0.Add(32*time.Minute)), nil)
	got = out.take()
	if len(got) != 1 || got[0].silenced || got[0].n.Status != alerts.Firing {
		t.Fatalf("after the silence: %+v, want one firing", got)
	}
}

func TestSilencedThenRecoveredSendsNothing(t *testing.T) {
	t.Parallel()
	out := &sent{}
	e := newEngine(t, t.TempDir(), []config.AlertRule{failRule}, out)
	s, err := e.AddSilence(context.Background(), engine.Silence{Match: engine.Matcher{Rule: "sla"}, Comment: "maintenance", CreatedBy: "bob", EndsAt: t0.Add(time.Hour)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	eval(t, e, incident(t0.Add(time.Minute)), nil)
	eval(t, e, healthy(t0.Add(2*time.Minute)), nil)
	if got := out.take(); len(got) != 1 || !got[0].silenced {
		t.Fatalf("got %+v, want only the silenced record (no resolve of what was never sent)", got)
	}
	expired, err := e.ExpireSilence(context.Background(), s.ID, "carol", t0.Add(3*time.Minute))
	if err != nil || !expired.EndsAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("expire = %+v, %v", expired, err)
	}
	if _, err := e.ExpireSilence(context.Background(), "nope", "carol", t0); err == nil {
		t.Error("expiring an unknown silence succeeded")
	}
}

// TestInhibitAndChecks: y's own failed check (root y) is inhibited by the
// firing raw/crm upstream of it; a warn check does not fire the default
// rule; once raw/crm recovers, y's incident is sent.
func TestInhibitAndChecks(t *testing.T) {
	t.Parallel()
	out := &sent{}
	e := newEngine(t, t.TempDir(), []config.AlertRule{failRule}, out)
	chk := func(name string, sev asset.Severity) asset.Event {
		return asset.Event{Kind: asset.KindCheckResult, Asset: "y", Check: &asset.CheckResult{Name: name, Passed: false, Severity: sev}}
	}
	problems := []catalog.Problem{{Key: "y", FailedChecks: []asset.Event{chk("not_null", asset.SeverityError), chk("row_count", asset.SeverityWarn)}}}
	eval(t, e, incident(t0), problems)
	got := out.take()
	if len(got) != 1 || got[0].n.RootCause != "raw/crm" {
		t.Fatalf("got %+v, want only raw/crm's page", got)
	}
	var held bool
	for _, f := range e.Firing() {
		if f.Notification.RootCause == "y" {
			held = f.Held == engine.HeldInhibited
			if d := f.Notification.Details["check_failed"]; d != "check not_null failed (error)" {
				t.Errorf("y's details = %v", f.Notification.Details)
			}
		}
	}
	if !held {
		t.Errorf("y is not held as inhibited: %+v", e.Firing())
	}
	eval(t, e, healthy(t0.Add(time.Minute)), problems)
	got = out.take()
	var kinds []string
	for _, r := range got {
		kinds = append(kinds, string(r.n.RootCause)+":"+string(r.n.Status))
	}
	slices.Sort(kinds)
	if want := []string{"raw/crm:resolved", "y:firing"}; !slices.Equal(kinds, want) {
		t.Errorf("after raw/crm recovered: %v, want %v", kinds, want)
	}
}

func TestQuietHoursAndRepeat(t *testing.T) {
	t.Parallel()
	out := &sent{}
	rule := failRule
	rule.RepeatInterval = time.Hour
	// 11:00-13:00 UTC is quiet; t0 is 12:00.
	rule.QuietHours = &config.QuietHours{Start: 11 * time.Hour, End: 13 * time.Hour, Location: time.UTC}
	e := newEngine(t, t.TempDir(), []config.AlertRule{rule}, out)
	eval(t, e, incident(t0), nil)
	if got := out.take(); len(got) != 0 {
		t.Fatalf("in quiet hours: %+v", got)
	}
	eval(t, e, incident(t0.Add(61*time.Minute)), nil) // 13:01
	if got := out.take(); len(got) != 1 {
		t.Fatalf("after quiet hours: %d, want 1", len(got))
	}
	eval(t, e, incident(t0.Add(90*time.Minute)), nil)
	if got := out.take(); len(got) != 0 {
		t.Fatalf("before the repeat interval: %+v", got)
	}
	eval(t, e, incident(t0.Add(122*time.Minute)), nil)
	if got := out.take(); len(got) != 1 || got[0].n.Status != alerts.Firing {
		t.Fatalf("at the repeat interval: %+v", got)
	}
}

func TestSelectorAndWhen(t *testing.T) {
	t.Parallel()
	out := &sent{}
	rules := []config.AlertRule{
		{Name: "marts", When: []string{config.WhenFreshnessFail}, Select: &config.Selector{Group: "marts"}, Receivers: []string{"slack"}, Severity: "critical"},
		{Name: "warn-only", When: []string{config.WhenFreshnessWarn}, Receivers: []string{"slack"}},
	}
	e := newEngine(t, t.TempDir(), rules, out)
	eval(t, e, incident(t0), nil)
	got := out.take()
	// The marts rule does not match raw/crm itself, but its 20 marts stale
	// because of raw/crm make one incident with raw/crm as the root.
	if len(got) != 1 || got[0].n.Rule != "marts" || got[0].n.RootCause != "raw/crm" || len(got[0].n.Impacted) != 21 || got[0].n.Severity != alerts.Critical ||
		!strings.Contains(got[0].n.Summary, "raw/crm: root cause of marts/s01, FAIL") {
		t.Fatalf("got %+v", got)
	}
}

// TestResendToAlertmanager: a receiver with a re-send interval hears of a
// firing incident again at that interval (Alertmanager forgets alerts it
// has not heard of for resolve_timeout); the others do not.
func TestResendToAlertmanager(t *testing.T) {
	t.Parallel()
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	specs, _ := world()
	out := &sent{}
	rule := failRule
	rule.Receivers = []string{"pd", "am"}
	e := engine.New([]config.AlertRule{rule}, st, out, engine.Options{
		Spec:        func(k asset.Key) (asset.Spec, bool) { s, ok := specs[k]; return s, ok },
		ResendEvery: map[string]time.Duration{"am": time.Minute},
	})
	if err := e.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sec := range []int{0, 30, 61, 90, 125} {
		eval(t, e, incident(t0.Add(time.Duration(sec)*time.Second)), nil)
		for _, r := range out.take() {
			got = append(got, fmt.Sprintf("%ds:%s:%s", sec, strings.Join(r.receivers, "+"), r.n.Status))
		}
	}
	eval(t, e, healthy(t0.Add(130*time.Second)), nil)
	for _, r := range out.take() {
		got = append(got, fmt.Sprintf("130s:%s:%s", strings.Join(r.receivers, "+"), r.n.Status))
	}
	want := []string{"0s:pd+am:firing", "61s:am:firing", "125s:am:firing", "130s:pd+am:resolved"}
	if !slices.Equal(got, want) {
		t.Errorf("sends = %v, want %v", got, want)
	}
}
