package catalog

import (
	"fmt"
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

func TestViewsAreCopies(t *testing.T) {
	t.Parallel()
	c := New()
	c.Apply([]asset.Event{ev("m", asset.KindMaterialization, "a", 1)})
	a, _ := c.Get("a")
	a.Counts[asset.KindMaterialization] = 99
	a.LastMaterialization.ID = "mutated"
	if b, _ := c.Get("a"); b.Counts[asset.KindMaterialization] != 1 {
		t.Error("caller mutated catalog counts")
	}
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

func TestRecentIDsBounded(t *testing.T) {
	t.Parallel()
	r := newRecentIDs(2)
	for _, step := range []struct {
		id  string
		new bool
	}{{"a", true}, {"a", false}, {"b", true}, {"c", true}, {"a", true}, {"c", false}} {
		if got := r.add(step.id); got != step.new {
			t.Errorf("add(%s) = %v, want %v", step.id, got, step.new)
		}
	}
}
