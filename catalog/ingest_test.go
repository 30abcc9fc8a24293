package catalog

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// refCatalog is Apply and Stored as they were before their fast paths (a
// Go map of pending ids, a lookup for every key, a new copy for every
// latest event), kept to check that the fast paths change no answer.
type refCatalog struct {
	entries map[asset.Key]*refEntry
	pending map[string]refCounted
}

type refEntry struct {
	counts                              map[asset.Kind]int64
	slots                               map[string]*[2]*asset.Event // by slot name: shown, stored
	firstTime, lastTime, storedLastTime time.Time
}

type refCounted struct {
	key  asset.Key
	kind asset.Kind
}

func refSlotName(ev *asset.Event) string {
	switch ev.Kind {
	case asset.KindMaterialization, asset.KindMaterializationFailed, asset.KindObservation:
		return string(ev.Kind)
	case asset.KindCheckResult:
		if ev.Check != nil {
			return "check:" + ev.Check.Name
		}
	}
	return ""
}

func refLater(cur, ev *asset.Event) *asset.Event {
	if cur != nil && !ev.After(cur) {
		return cur
	}
	cp := *ev
	return &cp
}

func (c *refCatalog) get(k asset.Key, discovered *[]asset.Key) *refEntry {
	e, ok := c.entries[k]
	if !ok {
		e = &refEntry{counts: map[asset.Kind]int64{}, slots: map[string]*[2]*asset.Event{}}
		c.entries[k] = e
		*discovered = append(*discovered, k)
	}
	return e
}

func (c *refCatalog) apply(events []asset.Event) (discovered []asset.Key) {
	for i := range events {
		ev := &events[i]
		if _, ok := c.pending[ev.ID]; ok {
			continue
		}
		e := c.get(ev.Asset, &discovered)
		c.pending[ev.ID] = refCounted{ev.Asset, ev.Kind}
		for _, u := range ev.Upstream {
			c.get(u, &discovered)
		}
		e.counts[ev.Kind]++
		if e.firstTime.IsZero() || ev.Time.Before(e.firstTime) {
			e.firstTime = ev.Time
		}
		if ev.Time.After(e.lastTime) {
			e.lastTime = ev.Time
		}
		if n := refSlotName(ev); n != "" {
			if e.slots[n] == nil {
				e.slots[n] = &[2]*asset.Event{}
			}
			e.slots[n][0] = refLater(e.slots[n][0], ev)
		}
	}
	return discovered
}

func (c *refCatalog) stored(batch, added []asset.Event) {
	isAdded := map[string]bool{}
	for i := range added {
		isAdded[added[i].ID] = true
	}
	for i := range batch {
		ev := &batch[i]
		if p, ok := c.pending[ev.ID]; ok {
			delete(c.pending, ev.ID)
			c.entries[p.key].counts[p.kind]--
		}
		e, ok := c.entries[ev.Asset]
		if !ok {
			continue
		}
		wasAdded := isAdded[ev.ID]
		if sl := e.slots[refSlotName(ev)]; sl != nil {
			same := func(x *asset.Event) bool { return x != nil && x.ID == ev.ID && x.Time.Equal(ev.Time) }
			switch {
			case wasAdded && same(sl[0]):
				if sl[1] == nil || ev.After(sl[1]) {
					sl[1] = sl[0]
				}
			case wasAdded:
				sl[1] = refLater(sl[1], ev)
			case same(sl[0]) && !same(sl[1]):
				sl[0] = sl[1]
			}
		}
		if wasAdded {
			e.storedLastTime = maxTime(e.storedLastTime, ev.Time)
		} else if e.lastTime.Equal(ev.Time) && ev.Time.After(e.storedLastTime) {
			e.lastTime = e.storedLastTime
		}
	}
	for i := range added {
		if e, ok := c.entries[added[i].Asset]; ok {
			e.counts[added[i].Kind]++
		}
	}
}

// TestApplyStoredMatchesReference feeds the catalog and refCatalog the
// same acknowledged batches and stored batches, shaped as each fast path
// expects them or not, and compares every asset after every step.
func TestApplyStoredMatchesReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		requests  int     // acknowledged batches
		size      int     // events per request
		assets    int     // distinct assets
		ups       int     // upstreams per event, from 3*assets sources
		perStore  int     // requests per stored batch
		retry     float64 // share of events that repeat an earlier id (other time, maybe other asset or kind)
		replay    float64 // share of a stored batch the store already held (not added)
		dead      float64 // share of a stored batch that became dead letters (not added)
		shuffle   bool    // the stored batch is not in acknowledgement order
		storeLate float64 // share of requests stored before they are applied
	}{
		{name: "all new, a request per stored batch", requests: 30, size: 200, assets: 50, ups: 1, perStore: 1},
		{name: "all new, backlog of requests per stored batch", requests: 40, size: 300, assets: 40, ups: 1, perStore: 8},
		{name: "retries while pending", requests: 30, size: 100, assets: 20, ups: 2, perStore: 3, retry: 0.2},
		{name: "replays of stored ids", requests: 30, size: 100, assets: 20, ups: 1, perStore: 2, retry: 0.3, replay: 0.3},
		{name: "dead letters", requests: 20, size: 100, assets: 10, ups: 0, perStore: 2, dead: 0.1},
		{name: "stored out of acknowledgement order", requests: 30, size: 100, assets: 30, ups: 1, perStore: 4, retry: 0.1, shuffle: true},
		{name: "stored before applied", requests: 30, size: 50, assets: 10, ups: 1, perStore: 1, storeLate: 0.2},
		{name: "stored before applied, then retried", requests: 40, size: 50, assets: 10, ups: 1, perStore: 1, storeLate: 0.3, retry: 0.3},
		{name: "more upstreams than remembered", requests: 10, size: 100, assets: 5, ups: maxKnownUps + 3, perStore: 2},
	}
	kinds := []asset.Kind{asset.KindMaterialization, asset.KindMaterializationFailed, asset.KindObservation, asset.KindCheckResult, asset.KindRunStarted}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(7, uint64(len(tt.name))))
			c, ref := New(), &refCatalog{entries: map[asset.Key]*refEntry{}, pending: map[string]refCounted{}}
			var sent []asset.Event // every event so far, for retries
			mk := func(n int) asset.Event {
				if len(sent) > 0 && r.Float64() < tt.retry {
					e := sent[r.IntN(len(sent))]
					e.Time = e.Time.Add(time.Duration(r.IntN(3)-1) * time.Minute)
					if r.IntN(4) == 0 {
						e.Asset = asset.Key(fmt.Sprintf("a%d", r.IntN(tt.assets)))
						e.Kind = kinds[r.IntN(len(kinds))]
					}
					return e
				}
				e := asset.Event{ID: fmt.Sprintf("e%d", n), Kind: kinds[r.IntN(len(kinds))],
					Asset: asset.Key(fmt.Sprintf("a%d", r.IntN(tt.assets))), Time: t0.Add(time.Duration(r.IntN(n+1)) * time.Second)}
				if e.Kind == asset.KindCheckResult {
					e.Check = &asset.CheckResult{Name: fmt.Sprint("c", r.IntN(2)), Passed: r.IntN(2) == 0}
				}
				for range tt.ups {
					e.Upstream = append(e.Upstream, asset.Key(fmt.Sprintf("src%d", r.IntN(3*tt.assets))))
				}
				return e
			}
			var acked []asset.Event // acknowledged, not stored
			edgesGot, edgesWant := map[asset.Edge]bool{}, map[asset.Edge]bool{}
			store := func(batch []asset.Event) {
				if tt.shuffle {
					r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
				}
				var added []asset.Event
				seen := map[string]bool{}
				for _, e := range batch {
					if !seen[e.ID] && r.Float64() >= tt.replay && r.Float64() >= tt.dead {
						added = append(added, e)
					}
					seen[e.ID] = true // the store's first copy wins
				}
				if tt.replay == 0 && tt.dead == 0 && len(added) == len(batch) {
					added = batch // the usual call: the whole batch was new
				}
				c.Stored(slices.Clone(batch), slices.Clone(added))
				ref.stored(batch, added)
			}
			for req := range tt.requests {
				batch := make([]asset.Event, tt.size)
				for i := range batch {
					batch[i] = mk(req*tt.size + i)
				}
				sent = append(sent, batch...)
				late := r.Float64() < tt.storeLate
				if late {
					store(slices.Clone(batch))
				}
				mine := slices.Clone(batch)
				gotD, gotE := c.ApplyLineage(mine)
				wantD := ref.apply(batch)
				for _, e := range gotE {
					edgesGot[e] = true
				}
				for _, e := range batch { // every edge of every event, retries too
					for _, u := range e.Upstream {
						edgesWant[asset.Edge{Upstream: u, Downstream: e.Asset}] = true
					}
				}
				if !maps.Equal(edgesGot, edgesWant) {
					t.Fatalf("request %d: the edges returned so far are not the edges sent", req)
				}
				for i := range mine { // the catalog keeps copies, not the caller's events
					mine[i].ID, mine[i].Time = "clobbered", time.Time{}
				}
				if !slices.Equal(gotD, wantD) {
					t.Fatalf("request %d: discovered %v, want %v", req, gotD, wantD)
				}
				if !late {
					acked = append(acked, batch...)
				}
				if (req+1)%tt.perStore == 0 || req == tt.requests-1 {
					store(acked)
					acked = nil
				}
				compareWithRef(t, fmt.Sprint("request ", req), c, ref)
			}
			if len(ref.pending) == 0 && c.pending.len() != 0 {
				t.Errorf("%d ids left pending", c.pending.len())
			}
		})
	}
}

func compareWithRef(t *testing.T, step string, c *Catalog, ref *refCatalog) {
	t.Helper()
	if c.Len() != len(ref.entries) {
		t.Fatalf("%s: %d assets, want %d", step, c.Len(), len(ref.entries))
	}
	name := func(e *asset.Event) string {
		if e == nil {
			return "-"
		}
		return e.ID + "@" + e.Time.Format(time.TimeOnly)
	}
	for k, want := range ref.entries {
		got, ok := c.Get(k)
		if !ok {
			t.Fatalf("%s: %s missing", step, k)
		}
		wantCounts := maps.Clone(want.counts)
		maps.DeleteFunc(wantCounts, func(_ asset.Kind, n int64) bool { return n == 0 })
		if !maps.Equal(got.Counts, wantCounts) {
			t.Fatalf("%s: %s counts %v, want %v", step, k, got.Counts, wantCounts)
		}
		gotShown := map[string]string{}
		for n, e := range map[string]*asset.Event{string(asset.KindMaterialization): got.LastMaterialization,
			string(asset.KindMaterializationFailed): got.LastFailure, string(asset.KindObservation): got.LastObservation} {
			if e != nil {
				gotShown[n] = name(e)
			}
		}
		for i := range got.LastChecks {
			gotShown["check:"+got.LastChecks[i].Check.Name] = name(&got.LastChecks[i])
		}
		wantShown := map[string]string{}
		for n, sl := range want.slots {
			if sl[0] != nil {
				wantShown[n] = name(sl[0])
			}
		}
		if !maps.Equal(gotShown, wantShown) {
			t.Fatalf("%s: %s shows %v, want %v", step, k, gotShown, wantShown)
		}
		if gotFirst := (got.FirstTime != nil); gotFirst != !want.firstTime.IsZero() ||
			gotFirst && (!got.FirstTime.Equal(want.firstTime) || !got.LastTime.Equal(want.lastTime)) {
			t.Fatalf("%s: %s first/last %v/%v, want %v/%v", step, k, got.FirstTime, got.LastTime, want.firstTime, want.lastTime)
		}
	}
}

// TestApplyLineageEdges: an edge is returned the first time the catalog
// sees it, again only past maxKnownUps upstreams of an asset, for a
// skipped retry, or after a Load.
func TestApplyLineageEdges(t *testing.T) {
	t.Parallel()
	withUps := func(id, key string, ups ...string) asset.Event {
		e := ev(id, asset.KindMaterialization, key, 1)
		for _, u := range ups {
			e.Upstream = append(e.Upstream, asset.Key(u))
		}
		return e
	}
	many := make([]string, maxKnownUps+2)
	for i := range many {
		many[i] = fmt.Sprint("src", i)
	}
	tests := []struct {
		name    string
		batches [][]asset.Event
		load    int   // Load (empty) before batch load-1; 0: never
		want    []int // edges returned per batch
	}{
		{name: "known edges are returned once", batches: [][]asset.Event{
			{withUps("1", "a", "u1"), withUps("2", "b", "u1"), withUps("3", "a", "u1", "u2")},
			{withUps("4", "a", "u1", "u2"), withUps("5", "b", "u1")},
		}, want: []int{3, 0}},
		{name: "a skipped retry returns its edges", batches: [][]asset.Event{
			{withUps("1", "a", "u1")},
			{withUps("1", "a", "u1", "u9")},
		}, want: []int{1, 2}},
		{name: "past the remembered upstreams", batches: [][]asset.Event{
			{withUps("1", "a", many...)},
			{withUps("2", "a", many...)},
		}, want: []int{len(many), len(many) - maxKnownUps}},
		{name: "Load forgets", batches: [][]asset.Event{
			{withUps("1", "a", "u1")},
			{withUps("2", "a", "u1")},
		}, load: 2, want: []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := New()
			for i, b := range tt.batches {
				if tt.load == i+1 {
					c.Load(nil, nil, nil)
				}
				if _, edges := c.ApplyLineage(b); len(edges) != tt.want[i] {
					t.Errorf("batch %d: %d edges %v, want %d", i, len(edges), edges, tt.want[i])
				}
			}
		})
	}
}
