package freshness

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// The benchmark graph: 100,000 assets in 20 layers of 5,000, exactly
// 300,000 edges. Each asset below the first layer reads 3 distinct assets
// of the layer above within ±3 of its own position (lineage is local: a
// mart reads a few staging tables, not a random sample of the warehouse),
// and the first 15,000 of them also read one asset from any earlier layer.
// Every asset has 4 materializations in its history, half with run
// durations, and a policy: 90% max_lag (half with warn_after), 10% one of
// three cron deadlines. Two variants: "healthy", where 0.01% of the roots
// (and so a few percent of the graph) stopped 10 hours ago, and
// "incident", where 5% did, so that most of the graph FAILs and every
// failing asset walks its chain to a root cause.
const (
	benchLayers = 20
	benchWidth  = 5000
	benchAssets = benchLayers * benchWidth
)

type benchFixture struct {
	graph    mapGraph
	keys     []asset.Key
	policies map[asset.Key]asset.FreshnessPolicy
	tracker  *Tracker
	now      time.Time
	edges    int
}

var (
	benchHealthy  = sync.OnceValue(func() *benchFixture { return buildBench(10) })
	benchIncident = sync.OnceValue(func() *benchFixture { return buildBench(500) })
)

func buildBench(stalePer10k int) *benchFixture {
	rng := rand.New(rand.NewPCG(7, 7))
	key := func(layer, pos int) asset.Key { return asset.Key(fmt.Sprintf("l%02d/a%04d", layer, pos)) }
	f := &benchFixture{graph: mapGraph{}, policies: map[asset.Key]asset.FreshnessPolicy{}, tracker: NewTracker()}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.now = base.Add(4*time.Hour + 55*time.Minute)
	crons := []asset.FreshnessPolicy{
		{Cron: "0 7 * * *", Timezone: "Europe/Paris", MaxLag: 8 * time.Hour},
		{Cron: "0 * * * *", Timezone: "America/New_York", MaxLag: 3 * time.Hour},
		{Cron: "30 6 * * 1-5", Timezone: "UTC", MaxLag: 12 * time.Hour},
	}
	extra := 0
	for l := range benchLayers {
		for p := range benchWidth {
			k := key(l, p)
			f.keys = append(f.keys, k)
			var ps []asset.Key
			if l > 0 {
				for _, off := range rng.Perm(7)[:3] { // 3 distinct parents within ±3
					ps = append(ps, key(l-1, (p+off-3+benchWidth)%benchWidth))
				}
				if extra < 15000 {
					extra++
					for {
						x := key(rng.IntN(l), rng.IntN(benchWidth))
						if !slices.Contains(ps, x) {
							ps = append(ps, x)
							break
						}
					}
				}
			}
			f.graph[k] = ps
			f.edges += len(ps)
			switch r := rng.IntN(20); {
			case r < 2:
				f.policies[k] = crons[rng.IntN(len(crons))]
			case r < 11:
				f.policies[k] = asset.FreshnessPolicy{MaxLag: time.Duration(3+rng.IntN(5)) * time.Hour, WarnAfter: 2 * time.Hour}
			default:
				f.policies[k] = asset.FreshnessPolicy{MaxLag: time.Duration(3+rng.IntN(5)) * time.Hour}
			}
			f.tracker.SetMaterializable(k, rng.IntN(2) == 0)
			stopped := l == 0 && rng.IntN(10000) < stalePer10k
			for h := range 4 {
				// Layers run 5 minutes apart, so each run starts after its
				// parents' run of the same hour has landed.
				tm := base.Add(time.Duration(h)*time.Hour + time.Duration(l)*5*time.Minute + time.Duration(rng.IntN(60))*time.Second)
				if stopped {
					tm = tm.Add(-10 * time.Hour)
				}
				e := asset.Event{ID: fmt.Sprintf("%s#%d", k, h), Kind: asset.KindMaterialization, Asset: k, Time: tm}
				if rng.IntN(2) == 0 {
					e.Metadata = asset.Metadata{DurationKey: asset.Int(int64(30 + rng.IntN(60)))}
				}
				f.tracker.Apply(e)
			}
		}
	}
	return f
}

func benchEvaluator(b *testing.B, f *benchFixture) *Evaluator {
	if f.edges != 300000 {
		b.Fatalf("fixture has %d edges, want 300000", f.edges)
	}
	e, err := NewEvaluator(f.graph, f.policies)
	if err != nil {
		b.Fatal(err)
	}
	if len(e.par) != 300000 {
		b.Fatalf("evaluator has %d edges after dedup, want 300000", len(e.par))
	}
	return e
}

// BenchmarkEvaluateAll is one full pass: data times, states, root causes,
// AT_RISK predictions and reasons for all 100,000 assets.
func BenchmarkEvaluateAll(b *testing.B) {
	for _, v := range []struct {
		name string
		f    func() *benchFixture
	}{{"healthy", benchHealthy}, {"incident", benchIncident}} {
		b.Run(v.name, func(b *testing.B) {
			f := v.f()
			e := benchEvaluator(b, f)
			dst := e.EvaluateAll(nil, f.now, f.tracker)
			counts := map[State]int{}
			for _, r := range dst {
				counts[r.State]++
			}
			b.Logf("states: %v", counts)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				dst = e.EvaluateAll(dst[:0], f.now, f.tracker)
			}
			b.ReportMetric(float64(benchAssets)*float64(b.N)/b.Elapsed().Seconds(), "assets/s")
		})
	}
}

// BenchmarkReevaluateRootMaterialization applies one new materialization of
// a root and re-evaluates its downstream closure.
func BenchmarkReevaluateRootMaterialization(b *testing.B) {
	f := benchHealthy()
	e := benchEvaluator(b, f)
	tr := f.tracker
	e.EvaluateAll(nil, f.now, tr)
	root := f.keys[benchWidth/2]
	at := f.now.Add(-time.Minute)
	// The root's original runs leave its window after 16 iterations; a
	// long-running loop has them pinned (fetched once from the store,
	// because its children's history references them): so does this one.
	var hist []asset.Event
	for i, x := range tr.State(root).Successes() {
		hist = append(hist, asset.Event{ID: fmt.Sprintf("%s#%d", root, i), Kind: asset.KindMaterialization, Asset: root, Time: x.Time()})
	}
	tr.Pin(root, hist, time.Time{}, at)
	var dst []Result
	closure := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		at = at.Add(time.Millisecond)
		tr.Apply(asset.Event{Kind: asset.KindMaterialization, Asset: root, Time: at})
		dst = e.Reevaluate(dst[:0], f.now, tr, []asset.Key{root})
		closure = len(dst)
	}
	b.ReportMetric(float64(closure), "closure")
}

// BenchmarkBaselineLag is the raw baseline: one pass over the same assets
// computing only now - last_time (state looked up by key, as the evaluator does).
func BenchmarkBaselineLag(b *testing.B) {
	f := benchHealthy()
	var sink time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, k := range f.keys {
			if s := f.tracker.State(k); s != nil {
				if x, ok := s.Latest(); ok {
					sink += f.now.Sub(x.Time())
				}
			}
		}
	}
	b.ReportMetric(float64(benchAssets)*float64(b.N)/b.Elapsed().Seconds(), "assets/s")
	if sink == 42 {
		b.Log(sink)
	}
}

// BenchmarkNewEvaluator is building the evaluator: interning 100,000 keys,
// the compressed graph, topological order and policies. It runs when the
// graph or the policies change, not on every pass.
func BenchmarkNewEvaluator(b *testing.B) {
	f := benchHealthy()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewEvaluator(f.graph, f.policies); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeepStaleChain is one full pass over a 3,000-asset line in
// which every asset is stale, so each walks its chain towards the root
// (capped at maxChainLinks); TestDeepStaleChain checks the results.
func BenchmarkDeepStaleChain(b *testing.B) {
	const n = 3000
	e, tr, err := deepStaleChain(n)
	if err != nil {
		b.Fatal(err)
	}
	now := t0.Add(48 * time.Hour)
	var dst []Result
	b.ReportAllocs()
	for b.Loop() {
		if dst = e.EvaluateAll(dst[:0], now, tr); len(dst) != n {
			b.Fatalf("%d results", len(dst))
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "assets/s")
}
