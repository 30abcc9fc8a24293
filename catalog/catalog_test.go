package catalog

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func ev(id string, kind asset.Kind, key string, minutes int) asset.Event {
	return asset.Event{ID: id, Kind: kind, Asset: asset.Key(key), Time: t0.Add(time.Duration(minutes) * time.Minute)}
}

func check(id, key, name string, passed bool, minutes int) asset.Event {
	e := ev(id, asset.KindCheckResult, key, minutes)
	e.Check = &asset.CheckResult{Name: name, Passed: passed, Severity: asset.SeverityError}
	return e
}

func TestApplyLatestState(t *testing.T) {
	t.Parallel()
	c := New()
	c.SetSpecs([]asset.Spec{{Key: "raw/orders", Group: "raw", Origin: asset.OriginDeclared}})
	up := ev("m2", asset.KindMaterialization, "staging/orders", 5)
	up.Upstream = []asset.Key{"raw/orders", "raw/ghost"}
	discovered := c.Apply([]asset.Event{
		ev("m1", asset.KindMaterialization, "raw/orders", 10),
		ev("m0", asset.KindMaterialization, "raw/orders", 1), // older, arrives later
		ev("f1", asset.KindMaterializationFailed, "raw/orders", 20),
		ev("o1", asset.KindObservation, "raw/orders", 3),
		check("c1", "raw/orders", "not_null", true, 11),
		check("c2", "raw/orders", "not_null", false, 12),
		check("c3", "raw/orders", "unique", true, 11),
		ev("m1", asset.KindMaterialization, "raw/orders", 10), // retry of m1
		up,
	})
	if want := []asset.Key{"staging/orders", "raw/ghost"}; fmt.Sprint(discovered) != fmt.Sprint(want) {
		t.Errorf("discovered = %v, want %v", discovered, want)
	}
	a, ok := c.Get("raw/orders")
	if !ok {
		t.Fatal("raw/orders missing")
	}
	if a.LastMaterialization.ID != "m1" || a.LastFailure.ID != "f1" || a.LastObservation.ID != "o1" {
		t.Errorf("latest = %s/%s/%s", a.LastMaterialization.ID, a.LastFailure.ID, a.LastObservation.ID)
	}
	if len(a.LastChecks) != 2 || a.LastChecks[0].ID != "c2" || a.LastChecks[1].ID != "c3" {
		t.Errorf("checks = %+v", a.LastChecks)
	}
	wantCounts := map[asset.Kind]int64{asset.KindMaterialization: 2, asset.KindMaterializationFailed: 1,
		asset.KindObservation: 1, asset.KindCheckResult: 3}
	if fmt.Sprint(a.Counts) != fmt.Sprint(wantCounts) {
		t.Errorf("counts = %v, want %v", a.Counts, wantCounts)
	}
	if !a.FirstTime.Equal(t0.Add(time.Minute)) || !a.LastTime.Equal(t0.Add(20*time.Minute)) {
		t.Errorf("first/last = %v/%v", a.FirstTime, a.LastTime)
	}
	if g, _ := c.Get("raw/ghost"); g.Spec.Origin != asset.OriginDiscovered {
		t.Errorf("upstream-only asset origin = %q", g.Spec.Origin)
	}
}

func TestTieBrokenByID(t *testing.T) {
	t.Parallel()
	c := New()
	c.Apply([]asset.Event{ev("b", asset.KindMaterialization, "x", 0), ev("a", asset.KindMaterialization, "x", 0)})
	if a, _ := c.Get("x"); a.LastMaterialization.ID != "b" {
		t.Errorf("tie: latest = %s, want b (greatest id)", a.LastMaterialization.ID)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	c := New()
	c.SetSpecs([]asset.Spec{
		{Key: "raw/orders", Group: "raw", Owners: []string{"team:ing"}, Tags: []string{"pii"}, Kinds: []string{"table"}, Description: "Shop ORDERS", Origin: asset.OriginDeclared},
		{Key: "raw/customers", Group: "raw", Owners: []string{"team:ing"}, Kinds: []string{"table"}, Origin: asset.OriginDeclared},
		{Key: "marts/revenue", Group: "marts", Owners: []string{"finance"}, Tags: []string{"tier=gold"}, Kinds: []string{"dbt"}, Origin: asset.OriginDeclared},
	})
	c.Apply([]asset.Event{ev("e", asset.KindObservation, "ext/thing", 0)})
	tests := []struct {
		name string
		f    Filter
		want string
		more bool
	}{
		{"all", Filter{}, "[ext/thing marts/revenue raw/customers raw/orders]", false},
		{"group", Filter{Group: "raw"}, "[raw/customers raw/orders]", false},
		{"owner", Filter{Owner: "finance"}, "[marts/revenue]", false},
		{"tag", Filter{Tag: "pii"}, "[raw/orders]", false},
		{"kind", Filter{Kind: "dbt"}, "[marts/revenue]", false},
		{"text key", Filter{Text: "CUSTOM"}, "[raw/customers]", false},
		{"text description", Filter{Text: "shop orders"}, "[raw/orders]", false},
		{"origin", Filter{Origin: asset.OriginDiscovered}, "[ext/thing]", false},
		{"no match", Filter{Group: "nope"}, "[]", false},
		{"page 1", Filter{Limit: 2}, "[ext/thing marts/revenue]", true},
		{"page 2", Filter{Limit: 2, After: "marts/revenue"}, "[raw/customers raw/orders]", false},
		{"combined", Filter{Group: "raw", Tag: "pii"}, "[raw/orders]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, more := c.List(tt.f)
			keys := make([]asset.Key, len(got))
			for i, a := range got {
				keys[i] = a.Spec.Key
			}
			if fmt.Sprint(keys) != tt.want || more != tt.more {
				t.Errorf("List(%+v) = %v more=%v, want %s more=%v", tt.f, keys, more, tt.want, tt.more)
			}
		})
	}
}

func TestLoadFromSummaries(t *testing.T) {
	t.Parallel()
	m := ev("m", asset.KindMaterialization, "a", 1)
	chk := check("c", "a", "n", true, 2)
	c := New()
	c.Load(
		[]asset.Spec{{Key: "a", Group: "g", Origin: asset.OriginDeclared}},
		[]store.Summary{{Asset: "a", LastMaterialization: &m, LastChecks: []asset.Event{chk},
			Counts: map[asset.Kind]int64{asset.KindMaterialization: 4}, FirstTime: t0, LastTime: t0.Add(time.Hour)}},
		[]asset.Edge{{Upstream: "u", Downstream: "a"}},
	)
	a, ok := c.Get("a")
	if !ok || a.Spec.Group != "g" || a.LastMaterialization.ID != "m" || a.Counts[asset.KindMaterialization] != 4 || len(a.LastChecks) != 1 {
		t.Fatalf("loaded = %+v", a)
	}
	if _, ok := c.Get("u"); !ok {
		t.Error("edge endpoint u not in catalog")
	}
	// A later event updates on top of the loaded state.
	c.Apply([]asset.Event{ev("m2", asset.KindMaterialization, "a", 90)})
	if a, _ := c.Get("a"); a.LastMaterialization.ID != "m2" || a.Counts[asset.KindMaterialization] != 5 {
		t.Errorf("after apply = %+v", a)
	}
}

// TestViewsAreCopies: what Get and List return is the caller's to change.
// Every pointer, map and slice of a view is mutated; the catalog's state,
// compared as JSON (which follows pointers), must not move.
func TestViewsAreCopies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		view func(c *Catalog) (Asset, bool)
	}{
		{"Get", func(c *Catalog) (Asset, bool) { return c.Get("a") }},
		{"List", func(c *Catalog) (Asset, bool) {
			list, _ := c.List(Filter{Group: "g"})
			if len(list) != 1 {
				return Asset{}, false
			}
			return list[0], true
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fullCatalog()
			want := catalogJSON(t, c)
			a, ok := tt.view(c)
			if !ok {
				t.Fatalf("%s did not return asset a", tt.name)
			}
			mutateView(t, &a)
			if diff := jsonDiff(want, catalogJSON(t, c)); len(diff) > 0 {
				t.Errorf("mutating a view from %s changed the catalog at %s", tt.name, strings.Join(diff, ", "))
			}
		})
	}
}

// fullCatalog holds one asset "a" whose view has every pointer, map and
// slice field set.
func fullCatalog() *Catalog {
	c := New()
	c.SetSpecs([]asset.Spec{{
		Key: "a", Group: "g", Owners: []string{"team:x"}, Tags: []string{"pii"}, Kinds: []string{"table"},
		Deps:        []asset.Key{"u"},
		Partitions:  &asset.PartitionsSpec{Type: "static", Values: []string{"eu", "us"}},
		Freshness:   &asset.FreshnessPolicy{MaxLag: time.Hour, WarnAfter: time.Minute},
		Checks:      []asset.CheckSpec{{Name: "not_null", Severity: asset.SeverityError}},
		Materialize: &asset.MaterializeSpec{Argv: []string{"make", "a"}, Env: map[string]string{"K": "v"}},
		Origin:      asset.OriginDeclared,
	}})
	full := func(e asset.Event) asset.Event {
		dt := t0.Add(-time.Hour)
		e.DataTime = &dt
		e.Upstream = []asset.Key{"u"}
		e.Metadata = asset.Metadata{"row_count": asset.Int(10)}
		return e
	}
	c.Apply([]asset.Event{
		full(ev("m", asset.KindMaterialization, "a", 1)),
		full(ev("f", asset.KindMaterializationFailed, "a", 2)),
		full(ev("o", asset.KindObservation, "a", 3)),
		full(check("c", "a", "not_null", true, 4)),
	})
	return c
}

// mutateView changes everything a view points to.
func mutateView(t *testing.T, a *Asset) {
	t.Helper()
	if a.LastMaterialization == nil || a.LastFailure == nil || a.LastObservation == nil ||
		len(a.LastChecks) != 1 || a.FirstTime == nil || a.LastTime == nil || a.Spec.Partitions == nil {
		t.Fatalf("view lacks a field the test mutates: %+v", a)
	}
	later := t0.Add(99 * time.Hour)
	s := &a.Spec
	s.Owners[0], s.Tags[0], s.Kinds[0], s.Deps[0] = "mutated", "mutated", "mutated", "mutated"
	s.Partitions.Type, s.Partitions.Values[0] = "mutated", "mutated"
	s.Freshness.MaxLag = 99 * time.Hour
	s.Checks[0].Name = "mutated"
	s.Materialize.Argv[0], s.Materialize.Env["K"] = "mutated", "mutated"
	for _, e := range []*asset.Event{a.LastMaterialization, a.LastFailure, a.LastObservation, &a.LastChecks[0]} {
		*e.DataTime = later
		e.Upstream[0] = "mutated"
		e.Metadata["row_count"], e.Metadata["added"] = asset.Int(99), asset.Text("mutated")
	}
	a.LastMaterialization.ID, a.LastFailure.ID, a.LastObservation.ID = "mutated", "mutated", "mutated"
	a.LastChecks[0].Check.Name, a.LastChecks[0].Check.Passed = "mutated", false
	a.Counts[asset.KindMaterialization], a.Counts[asset.KindRunFailed] = 99, 99
	*a.FirstTime, *a.LastTime = later, later
}

// catalogJSON is asset "a" as the API would show it.
func catalogJSON(t *testing.T, c *Catalog) any {
	t.Helper()
	a, ok := c.Get("a")
	if !ok {
		t.Fatal("asset a missing")
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// jsonDiff returns the paths (such as "spec.owners[0]") at which two
// decoded JSON values differ.
func jsonDiff(want, got any) []string {
	var out []string
	add := func(prefix string, diffs []string) {
		for _, d := range diffs {
			if strings.HasPrefix(d, "[") || strings.HasPrefix(d, ":") {
				out = append(out, prefix+d)
			} else {
				out = append(out, prefix+"."+d)
			}
		}
	}
	switch w := want.(type) {
	case map[string]any:
		if g, ok := got.(map[string]any); ok {
			keys := slices.Concat(slices.Collect(maps.Keys(w)), slices.Collect(maps.Keys(g)))
			slices.Sort(keys)
			for _, k := range slices.Compact(keys) {
				add(k, jsonDiff(w[k], g[k]))
			}
			return out
		}
	case []any:
		if g, ok := got.([]any); ok && len(g) == len(w) {
			for i := range w {
				add(fmt.Sprintf("[%d]", i), jsonDiff(w[i], g[i]))
			}
			return out
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return []string{fmt.Sprintf(": %v -> %v", want, got)}
	}
	return nil
}

func TestConcurrentApplyAndList(t *testing.T) {
	t.Parallel()
	c := New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c.Apply([]asset.Event{ev(fmt.Sprintf("%d-%d", w, i), asset.KindMaterialization, fmt.Sprintf("a/%d", i%10), i)})
			}
		}()
	}
	for range 50 {
		c.List(Filter{Text: "a"})
	}
	wg.Wait()
	var total int64
	assets, _ := c.List(Filter{})
	for _, a := range assets {
		total += a.Counts[asset.KindMaterialization]
	}
	if total != 800 || len(assets) != 10 {
		t.Errorf("total = %d over %d assets, want 800 over 10", total, len(assets))
	}
}

// TestUnknown: the keys a batch would add to the catalog, each once,
// from assets and upstreams alike.
func TestUnknown(t *testing.T) {
	t.Parallel()
	c := New()
	c.Apply([]asset.Event{ev("e1", asset.KindMaterialization, "raw/a", 1)})
	batch := []asset.Event{
		ev("e2", asset.KindMaterialization, "raw/a", 2),
		ev("e3", asset.KindMaterialization, "new/b", 3),
		ev("e4", asset.KindMaterialization, "new/b", 4),
		{ID: "e5", Kind: asset.KindMaterialization, Asset: "raw/a", Upstream: []asset.Key{"new/c", "raw/a", "new/b"}},
	}
	got := c.Unknown(batch)
	if len(got) != 2 || got[0] != "new/b" || got[1] != "new/c" {
		t.Errorf("Unknown = %v, want [new/b new/c]", got)
	}
	if got := c.Unknown(batch[:1]); got != nil {
		t.Errorf("a batch of known assets: Unknown = %v", got)
	}
}
