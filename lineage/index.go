package lineage

import (
	"sync"
	"sync/atomic"

	"github.com/freshet-dev/freshet/asset"
)

// Index publishes lineage snapshots. Current is lock-free; Reset and
// Observe serialise among themselves, build the next Graph off to the side
// and swap it in, so readers keep using the snapshot they hold.
type Index struct {
	cur atomic.Pointer[Graph]

	mu    sync.Mutex // guards keys and edges, the writer's master copy
	keys  map[asset.Key]struct{}
	edges map[asset.Edge]origin
}

// NewIndex returns an index holding an empty graph.
func NewIndex() *Index {
	x := &Index{keys: map[asset.Key]struct{}{}, edges: map[asset.Edge]origin{}}
	x.cur.Store(build(x.keys, x.edges))
	return x
}

// Current returns the latest snapshot.
func (x *Index) Current() *Graph { return x.cur.Load() }

// Reset replaces the whole graph: keys plus the ends of every edge become
// assets. Self-edges are dropped (an asset does not feed itself).
func (x *Index) Reset(keys []asset.Key, declaredEdges, observedEdges []asset.Edge) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.keys = make(map[asset.Key]struct{}, len(keys))
	x.edges = make(map[asset.Edge]origin, len(declaredEdges)+len(observedEdges))
	for _, k := range keys {
		x.keys[k] = struct{}{}
	}
	x.add(declaredEdges, declared)
	x.add(observedEdges, observed)
	x.cur.Store(build(x.keys, x.edges))
}

// Observe adds assets and observed edges. It publishes a new snapshot only
// when something is new, which after warm-up is rare: most events repeat
// edges the graph already has, and those cost a map lookup each.
func (x *Index) Observe(keys []asset.Key, edges []asset.Edge) {
	x.mu.Lock()
	defer x.mu.Unlock()
	changed := false
	for _, k := range keys {
		if _, ok := x.keys[k]; !ok {
			x.keys[k] = struct{}{}
			changed = true
		}
	}
	if x.add(edges, observed) {
		changed = true
	}
	if changed {
		x.cur.Store(build(x.keys, x.edges))
	}
}

// add merges edges with the given origin and reports whether anything
// changed (a new edge, a new origin on a known edge, or a new end asset).
func (x *Index) add(edges []asset.Edge, o origin) bool {
	changed := false
	for _, e := range edges {
		if e.Upstream == e.Downstream {
			continue
		}
		old, known := x.edges[e]
		if old&o == 0 {
			x.edges[e] = old | o
			changed = true
		}
		if known {
			continue // a known edge's ends are known assets
		}
		for _, k := range [2]asset.Key{e.Upstream, e.Downstream} {
			if _, ok := x.keys[k]; !ok {
				x.keys[k] = struct{}{}
				changed = true
			}
		}
	}
	return changed
}
