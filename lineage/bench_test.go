package lineage

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

// bigGraph generates the benchmark graph: 100,000 assets and
// 300,000 edges, a DAG in which each asset after the first 100 draws three
// distinct parents from the assets before it, so asset 0's downstream
// closure covers most of the graph.
func bigGraph() ([]asset.Key, []asset.Edge) {
	const n, perNode = 100_000, 3
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]asset.Key, n)
	for i := range keys {
		keys[i] = asset.Key(fmt.Sprintf("group%02d/asset%06d", i%50, i))
	}
	var edges []asset.Edge
	for i := 1; i < n; i++ {
		seen := map[int]bool{}
		for len(seen) < min(perNode, i) {
			// Bias toward recent assets, as real pipelines are layered.
			j := i - 1 - r.IntN(min(i, 2000))
			if i < 100 {
				j = r.IntN(i)
			}
			if !seen[j] {
				seen[j] = true
				edges = append(edges, asset.Edge{Upstream: keys[j], Downstream: keys[i]})
			}
		}
	}
	for len(edges) < 300_000 { // top up to exactly 300,000 edges
		i := 100 + r.IntN(n-100)
		j := r.IntN(i)
		edges = append(edges, asset.Edge{Upstream: keys[j], Downstream: keys[i]})
	}
	return keys, edges
}

// bigSnapshot publishes bigGraph through an Index, as the server would.
func bigSnapshot() ([]asset.Key, *Graph) {
	keys, edges := bigGraph()
	x := NewIndex()
	x.Reset(keys, edges, nil)
	return keys, x.Current()
}

// BenchmarkDownstreamClosure: the full downstream subgraph (nodes with
// depths and every edge followed) of asset 0.
func BenchmarkDownstreamClosure(b *testing.B) {
	keys, g := bigSnapshot()
	b.ResetTimer()
	var nodes int
	for b.Loop() {
		sub, err := g.Downstream(keys[0], 0)
		if err != nil {
			b.Fatal(err)
		}
		nodes = len(sub.Nodes)
	}
	b.ReportMetric(float64(nodes), "nodes")
}

// BenchmarkDownstreamReach: the closure as a set of assets only, the same
// work the baseline does.
func BenchmarkDownstreamReach(b *testing.B) {
	_, g := bigSnapshot()
	b.ResetTimer()
	var nodes int
	for b.Loop() {
		seen := g.reach(0, down)
		nodes = 0
		for _, w := range seen {
			nodes += bits.OnesCount64(w)
		}
	}
	b.ReportMetric(float64(nodes), "nodes")
}

// BenchmarkBaselineMapBFS is the baseline the issue asks for: a plain BFS
// over map[Key][]Key collecting only the reached keys.
func BenchmarkBaselineMapBFS(b *testing.B) {
	keys, edges := bigGraph()
	adj := make(map[asset.Key][]asset.Key, len(keys))
	for _, e := range edges {
		adj[e.Upstream] = append(adj[e.Upstream], e.Downstream)
	}
	b.ResetTimer()
	var nodes int
	for b.Loop() {
		seen := map[asset.Key]bool{keys[0]: true}
		queue := []asset.Key{keys[0]}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			for _, v := range adj[u] {
				if !seen[v] {
					seen[v] = true
					queue = append(queue, v)
				}
			}
		}
		nodes = len(seen)
	}
	b.ReportMetric(float64(nodes), "nodes")
}

// BenchmarkSnapshotBuild: what publishing a new snapshot costs at this size.
func BenchmarkSnapshotBuild(b *testing.B) {
	keys, edges := bigGraph()
	x := NewIndex()
	x.Reset(keys, edges, nil)
	b.ResetTimer()
	for b.Loop() {
		build(x.keys, x.edges)
	}
}

// BenchmarkObserve is what ingest asks of the index per 1,000-event
// request once the graph has seen its edges: 10,000 assets, each fed by
// one of 500 sources, the edges of the request all known. "baseline":
// one lookup of each edge in a map of the edges, in the same run.
func BenchmarkObserve(b *testing.B) {
	const assets, sources, batch = 10_000, 500, 1000
	var keys []asset.Key
	edges := make([]asset.Edge, assets)
	for i := range edges {
		edges[i] = asset.Edge{Upstream: asset.Key(fmt.Sprintf("raw/source%03d", i%sources)),
			Downstream: asset.Key(fmt.Sprintf("warehouse/schema%d/table%05d", i%10, i))}
		keys = append(keys, edges[i].Downstream)
	}
	// Requests carry their own copies of the keys, as decoded events do.
	reqs := make([][]asset.Edge, assets/batch)
	for j := range reqs {
		for _, e := range edges[j*batch : (j+1)*batch] {
			reqs[j] = append(reqs[j], asset.Edge{Upstream: asset.Key(string([]byte(e.Upstream))), Downstream: asset.Key(string([]byte(e.Downstream)))})
		}
	}
	b.Run("index", func(b *testing.B) {
		x := NewIndex()
		x.Reset(keys, nil, edges)
		g := x.Current()
		j := 0
		for b.Loop() {
			x.Observe(nil, reqs[j%len(reqs)])
			j++
		}
		if x.Current() != g {
			b.Fatal("known edges published a new snapshot")
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "edges/s")
	})
	b.Run("baseline", func(b *testing.B) {
		known := make(map[asset.Edge]origin, len(edges))
		for _, e := range edges {
			known[e] = observed
		}
		j, n := 0, 0
		for b.Loop() {
			for _, e := range reqs[j%len(reqs)] {
				if known[e]&observed != 0 {
					n++
				}
			}
			j++
		}
		if n != b.N*batch {
			b.Fatal("edges missing")
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "edges/s")
	})
}
