package monitor

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/lineage"
)

// countingRecorder counts the freshness_changed events a monitor records.
type countingRecorder struct{ n atomic.Int64 }

func (r *countingRecorder) Submit(_ context.Context, events []asset.Event) error {
	r.n.Add(int64(len(events)))
	return nil
}

// ingestWorld is the shape of `go run ./bench/ingest --policies`:
// materializations over 10,000 warehouse tables, each naming one of 500
// raw sources as its upstream, and a max_lag 1d policy on all 10,500.
type ingestWorld struct {
	idx    *lineage.Index
	specs  []asset.Spec
	first  []asset.Event // observed before the first round
	ring   []asset.Event // the events of one round, in 1,000-event batches
	span   time.Duration // how far one round moves the events' times
	tables int
}

const (
	benchTables  = 10_000
	benchSources = 500
	benchBatch   = 1_000
	// Passes as the ingest bench's profile shows them: ~50 per 1,000,000
	// events (~20,000 events each: the monitor shares 2 cores with
	// ingest), ~45,000 events/s, so a full pass (Interval 15 s) every 34.
	benchPerPass   = 20
	benchPassEvery = 440 * time.Millisecond
	benchFullEvery = 34
)

// newIngestWorld builds the world; with sourcesLand the raw sources
// materialize once before the round's events (every asset then PASSes),
// without they never do, as in the ingest bench (every table is UNKNOWN:
// built from a dependency that never materialized).
func newIngestWorld(events int, sourcesLand bool) *ingestWorld {
	w := &ingestWorld{idx: lineage.NewIndex(), tables: benchTables}
	policy := &asset.FreshnessPolicy{MaxLag: 24 * time.Hour}
	var keys []asset.Key
	var edges []asset.Edge
	table := func(a int) asset.Key { return asset.Key(fmt.Sprintf("warehouse/schema%d/table%05d", a%10, a)) }
	source := func(a int) asset.Key { return asset.Key(fmt.Sprintf("raw/source%03d", a%benchSources)) }
	for a := range benchSources {
		keys = append(keys, source(a))
	}
	for a := range benchTables {
		keys = append(keys, table(a))
		edges = append(edges, asset.Edge{Upstream: source(a), Downstream: table(a)})
	}
	for _, k := range keys {
		w.specs = append(w.specs, asset.Spec{Key: k, Freshness: policy})
	}
	w.idx.Observe(keys, edges)
	base := t0.Add(-time.Hour)
	if sourcesLand {
		for a := range benchSources {
			w.first = append(w.first, asset.Event{ID: fmt.Sprintf("s-%03d", a), Kind: asset.KindMaterialization,
				Asset: source(a), Time: base.Add(-time.Hour)})
		}
	}
	w.ring = make([]asset.Event, events)
	for i := range w.ring {
		a := i % benchTables
		w.ring[i] = asset.Event{
			ID: fmt.Sprintf("b-%08d", i), Kind: asset.KindMaterialization, Asset: table(a),
			Time: base.Add(time.Duration(i) * time.Microsecond), RunID: fmt.Sprintf("run-%d", i/100),
			Upstream: []asset.Key{source(a)},
			Metadata: asset.Metadata{"row_count": asset.Int(int64(i)), "uri": asset.URL("s3://lake/t/" + fmt.Sprint(a))},
		}
	}
	w.span = time.Duration(events) * time.Microsecond
	return w
}

// next moves the round's events on by one round, so that every round
// brings new successes (the ids repeat only past each asset's window).
func (w *ingestWorld) next() {
	for i := range w.ring {
		w.ring[i].Time = w.ring[i].Time.Add(w.span)
	}
}

// BenchmarkIngestWithPolicies is the monitor's share of ingest with a
// policy on every asset: 1,000-event batches handed to Observe, a pass
// after every 5 batches and a full one every 136 passes (Interval 15 s at
// ~45,000 events/s, as in the ingest bench). One op is 200,000 events.
// Its baseline, timed in the same iteration over the same batches, is the
// least a follower could do: one map update per event under a mutex.
// Both are timed in CPU time of the process (the garbage collector's
// included: the collections the monitor's garbage starts during its
// share), which a busy machine disturbs less than wall time; x-baseline
// is the monitor's over the baseline's.
func BenchmarkIngestWithPolicies(b *testing.B) {
	for _, c := range []struct {
		name        string
		sourcesLand bool
		want        freshness.State
	}{{"unknown", false, freshness.Unknown}, {"pass", true, freshness.Pass}} {
		b.Run(c.name, func(b *testing.B) { benchIngest(b, newIngestWorld(200_000, c.sourcesLand), c.want) })
	}
}

func benchIngest(b *testing.B, w *ingestWorld, want freshness.State) {
	clk := &clock{now: t0}
	rec := &countingRecorder{}
	m := New(w.idx, rec, Options{Logger: quiet, Now: clk.Now, Seed: func(asset.Key) []asset.Event { return nil }})
	m.SetSpecs(w.specs)
	ctx := context.Background()
	passes := 0
	pass := func() {
		clk.now = clk.now.Add(benchPassEvery)
		passes++
		m.pass(ctx, passes%benchFullEvery == 0)
	}
	round := func() {
		for i := 0; i < len(w.ring); i += benchBatch {
			m.Observe(w.ring[i : i+benchBatch])
			if (i/benchBatch+1)%benchPerPass == 0 {
				pass()
			}
		}
	}
	m.pass(ctx, true)
	if len(w.first) > 0 {
		m.Observe(w.first)
	}
	round() // every asset has its first success: PASS from here on
	w.next()
	round()
	recorded := rec.n.Load()

	var mu = make(chan struct{}, 1)
	last := make(map[asset.Key]time.Time, benchTables)
	baseline := func() {
		for i := 0; i < len(w.ring); i += benchBatch {
			mu <- struct{}{}
			for j := range w.ring[i : i+benchBatch] {
				e := &w.ring[i+j]
				last[e.Asset] = e.Time
			}
			<-mu
		}
	}
	var mon, base time.Duration
	for b.Loop() {
		w.next()
		b.StopTimer()
		runtime.GC() // no collection of the monitor's garbage runs during the baseline
		b.StartTimer()
		start := cpuTime(b)
		baseline()
		base += cpuTime(b) - start
		start = cpuTime(b)
		round()
		mon += cpuTime(b) - start
	}
	if n := rec.n.Load() - recorded; n != 0 {
		b.Fatalf("%d state changes recorded in steady state, want 0", n)
	}
	snap := m.Snapshot()
	if len(snap.Results) != benchTables+benchSources {
		b.Fatalf("%d results published, want %d", len(snap.Results), benchTables+benchSources)
	}
	for _, r := range snap.Results {
		if r.State != want {
			b.Fatalf("%s is %s (%s), want %s", r.Key, r.State, r.Reason, want)
		}
	}
	n := float64(b.N) * float64(len(w.ring))
	b.ReportMetric(float64(mon.Nanoseconds())/n, "cpu-ns/event")
	b.ReportMetric(float64(base.Nanoseconds())/n, "baseline-cpu-ns/event")
	b.ReportMetric(float64(mon)/float64(base), "x-baseline")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
