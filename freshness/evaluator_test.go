package freshness

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// mapGraph is a Graph over a parents map.
type mapGraph map[asset.Key][]asset.Key

func (g mapGraph) Keys() []asset.Key {
	keys := make([]asset.Key, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	return keys
}

func (g mapGraph) Parents(k asset.Key) []asset.Key { return g[k] }

// TestReevaluateMatchesFullPass drives random graphs (some with cycles)
// with random events and checks after every batch that each result of the
// incremental pass equals the full pass's, and that the incremental pass
// returned every asset whose result the batch changed.
func TestReevaluateMatchesFullPass(t *testing.T) {
	t.Parallel()
	for seed := range uint64(24) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 99))
			n := 20 + rng.IntN(150)
			key := func(i int) asset.Key { return asset.Key(fmt.Sprintf("a%03d", i)) }
			g := mapGraph{}
			policies := map[asset.Key]asset.FreshnessPolicy{}
			crons := []asset.FreshnessPolicy{
				{Cron: "0 7 * * *", Timezone: "Europe/Paris", MaxLag: 8 * time.Hour},
				{Cron: "30 * * * *", Timezone: "America/New_York", MaxLag: time.Hour},
			}
			for i := range n {
				var ps []asset.Key
				for range rng.IntN(4) {
					if i > 0 {
						ps = append(ps, key(rng.IntN(i)))
					}
				}
				if seed%3 == 0 && rng.IntN(20) == 0 { // a back edge: a cycle
					ps = append(ps, key(i+rng.IntN(n-i)))
				}
				g[key(i)] = ps
				switch rng.IntN(4) {
				case 0:
					policies[key(i)] = asset.FreshnessPolicy{MaxLag: time.Duration(1+rng.IntN(8)) * time.Hour}
				case 1:
					policies[key(i)] = asset.FreshnessPolicy{MaxLag: 6 * time.Hour, WarnAfter: time.Duration(1+rng.IntN(5)) * time.Hour}
				case 2:
					policies[key(i)] = crons[rng.IntN(len(crons))]
				}
			}
			full, err := NewEvaluator(g, policies)
			if err != nil {
				t.Fatal(err)
			}
			inc, err := NewEvaluator(g, policies)
			if err != nil {
				t.Fatal(err)
			}
			tr := NewTracker()
			now := utc("2026-03-27T00:00:00Z") // the Paris spring-forward is inside the run
			var prev map[asset.Key]Result
			for step := range 60 {
				changed := map[asset.Key]bool{}
				for range 1 + rng.IntN(4) {
					k := key(rng.IntN(n))
					e := asset.Event{ID: fmt.Sprintf("%d-%d", step, rng.Int()), Asset: k, Time: now.Add(-time.Duration(rng.IntN(90)) * time.Minute)}
					switch rng.IntN(10) {
					case 0:
						e.Kind = asset.KindMaterializationFailed
					case 1:
						e.Kind = asset.KindObservation
					default:
						e.Kind = asset.KindMaterialization
						if rng.IntN(2) == 0 {
							e.Metadata = asset.Metadata{DurationKey: asset.Int(int64(60 * (1 + rng.IntN(120))))}
						}
						if rng.IntN(8) == 0 && len(g[k]) > 0 {
							e.Upstream = g[k][:1]
						}
						if rng.IntN(8) == 0 {
							dt := e.Time.Add(-3 * time.Hour)
							e.DataTime = &dt
						}
					}
					if tr.Apply(e) {
						changed[k] = true
					}
					if rng.IntN(10) == 0 && tr.SetMaterializable(k, true) {
						changed[k] = true
					}
				}
				keys := make([]asset.Key, 0, len(changed))
				for k := range changed {
					keys = append(keys, k)
				}
				want := map[asset.Key]Result{}
				pos := map[asset.Key]int{} // in the full pass's (topological) order
				for i, r := range full.EvaluateAll(nil, now, tr) {
					want[r.Key] = r
					pos[r.Key] = i
				}
				got := map[asset.Key]Result{}
				changedKeys := keys
				if step == 0 {
					changedKeys = g.Keys() // nothing memoised yet
				}
				last := -1
				for _, r := range inc.Reevaluate(nil, now, tr, changedKeys) {
					if !reflect.DeepEqual(r, want[r.Key]) {
						t.Fatalf("step %d %s:\n inc  %+v\n full %+v", step, r.Key, r, want[r.Key])
					}
					if pos[r.Key] <= last {
						t.Fatalf("step %d: %s out of the evaluation order", step, r.Key)
					}
					last = pos[r.Key]
					got[r.Key] = r
				}
				// Anything whose result moved must have been re-evaluated.
				for k, w := range want {
					if p, ok := prev[k]; ok && !sameOutcome(p, w) {
						if _, ok := got[k]; !ok {
							t.Fatalf("step %d: %s changed (%s -> %s) but was not re-evaluated", step, k, p.State, w.State)
						}
					}
				}
				prev = want
				if step%10 == 9 {
					// Move the clock (across the Paris spring-forward by the
					// end); the next step's completeness check would see
					// results that the clock, not an event, changed.
					now, prev = now.Add(11*time.Hour), nil
				}
			}
		})
	}
}

// sameOutcome compares what an event (not the clock) can change.
func sameOutcome(a, b Result) bool {
	return a.State == b.State && a.DataTime.Equal(b.DataTime) && a.RootCause == b.RootCause
}

func TestEvaluateAllOrderAndCoverage(t *testing.T) {
	t.Parallel()
	g := mapGraph{"c": {"b"}, "b": {"a"}, "a": nil, "x": nil}
	policies := map[asset.Key]asset.FreshnessPolicy{"c": {MaxLag: time.Hour}, "a": {MaxLag: time.Hour}, "orphan": {MaxLag: time.Hour}}
	e, err := NewEvaluator(g, policies)
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != 5 {
		t.Errorf("Len %d, want 5 (4 graph assets and the orphan policy)", e.Len())
	}
	var keys []asset.Key
	for _, r := range e.EvaluateAll(nil, t0, NewTracker()) {
		keys = append(keys, r.Key)
		if r.State != Unknown {
			t.Errorf("%s: %s without any event", r.Key, r.State)
		}
	}
	if !slices.Equal(keys, []asset.Key{"a", "orphan", "c"}) {
		t.Errorf("results for %v, want a and orphan (roots) before c", keys)
	}
	if got := e.Reevaluate(nil, t0, NewTracker(), []asset.Key{"b", "nope"}); len(got) != 1 || got[0].Key != "c" {
		t.Errorf("closure of b: %v", got)
	}
}

func TestNewEvaluatorReportsEveryBadPolicy(t *testing.T) {
	t.Parallel()
	_, err := NewEvaluator(mapGraph{"a": nil, "b": nil}, map[asset.Key]asset.FreshnessPolicy{
		"a": {MaxLag: time.Hour, WarnAfter: 2 * time.Hour},
		"b": {Cron: "nonsense", MaxLag: time.Hour},
	})
	if err == nil || !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("error %v, want ErrInvalidPolicy", err)
	}
	for _, want := range []string{"asset a: ", "asset b: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}

// A deep line of stale assets, each with a policy: chains are capped so the
// pass stays linear, and the resolution's recursion stays shallow. How long
// the pass takes is measured by BenchmarkDeepStaleChain, not asserted here.
func TestDeepStaleChain(t *testing.T) {
	t.Parallel()
	const n = 3000
	e, tr, err := deepStaleChain(n)
	if err != nil {
		t.Fatal(err)
	}
	res := e.EvaluateAll(nil, t0.Add(48*time.Hour), tr)
	if len(res) != n {
		t.Fatalf("%d results", len(res))
	}
	if r := res[10]; r.RootCause != "n00000" || r.State != Fail {
		t.Errorf("near the root: %+v", r)
	}
	if r := res[n-1]; r.State != Fail || r.RootCause != asset.Key(fmt.Sprintf("n%05d", n-1-maxChainLinks)) {
		t.Errorf("deep: root %s, want the chain cut after %d links", r.RootCause, maxChainLinks)
	}
}

// deepStaleChain is a line of n assets, n00000 upstream of n00001 and so
// on, each with a 1h max lag and one materialization a second after the
// previous asset's, starting at t0.
func deepStaleChain(n int) (*Evaluator, *Tracker, error) {
	g := mapGraph{}
	policies := map[asset.Key]asset.FreshnessPolicy{}
	tr := NewTracker()
	for i := range n {
		k := asset.Key(fmt.Sprintf("n%05d", i))
		if i > 0 {
			g[k] = []asset.Key{asset.Key(fmt.Sprintf("n%05d", i-1))}
		} else {
			g[k] = nil
		}
		policies[k] = asset.FreshnessPolicy{MaxLag: time.Hour}
		tr.Apply(asset.Event{Kind: asset.KindMaterialization, Asset: k, Time: t0.Add(time.Duration(i) * time.Second)})
	}
	e, err := NewEvaluator(g, policies)
	return e, tr, err
}
