// Package lineage holds the asset graph: declared dependencies from the
// definitions plus edges observed in events. Readers get an immutable
// snapshot (Graph) through an Index; writers build the next snapshot and
// swap it in atomically, so a traversal never blocks ingest and ingest never
// waits for a traversal.
package lineage

import (
	"errors"
	"fmt"
	"slices"

	"github.com/freshet-dev/freshet/asset"
)

// ErrUnknownAsset is returned for a key that is not in the graph.
var ErrUnknownAsset = errors.New("asset is not in the lineage graph")

// Edge is a lineage edge as the API returns it: Upstream feeds Downstream,
// declared in the definitions, observed in events, or both.
type Edge struct {
	Upstream   asset.Key `json:"upstream"`
	Downstream asset.Key `json:"downstream"`
	Declared   bool      `json:"declared"`
	Observed   bool      `json:"observed"`
}

// Node is an asset in a subgraph with its distance (in edges) from the
// asset the traversal started at.
type Node struct {
	Key   asset.Key `json:"key"`
	Depth int       `json:"depth"`
}

// Subgraph is the answer to a traversal: nodes in breadth-first order
// (ties by key) and the edges between them that the traversal followed.
type Subgraph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// origin flags of an edge.
type origin uint8

const (
	declared origin = 1 << iota
	observed
)

// Graph is an immutable snapshot. Assets are interned to int32 indices in
// key order and adjacency is held in compressed form (one offsets slice and
// one targets slice per direction), which keeps a 100,000-asset graph in a
// few megabytes and makes traversals cache-friendly. Safe for concurrent use.
type Graph struct {
	keys  []asset.Key // index -> key, sorted
	index map[asset.Key]int32

	chOff, parOff []int32 // node i's children are ch[chOff[i]:chOff[i+1]]
	ch, par       []int32
	chOrig        []origin // parallel to ch
	parOrig       []origin // parallel to par
}

// Len is the number of assets.
func (g *Graph) Len() int { return len(g.keys) }

// Keys returns every asset key, sorted. The slice is shared: do not modify it.
func (g *Graph) Keys() []asset.Key { return g.keys }

// Has reports whether key is in the graph.
func (g *Graph) Has(key asset.Key) bool {
	_, ok := g.index[key]
	return ok
}

// Parents returns the direct upstream of key, sorted (nil if unknown).
func (g *Graph) Parents(key asset.Key) []asset.Key {
	i, ok := g.index[key]
	if !ok {
		return nil
	}
	return g.names(g.par[g.parOff[i]:g.parOff[i+1]])
}

// Children returns the direct downstream of key, sorted (nil if unknown).
func (g *Graph) Children(key asset.Key) []asset.Key {
	i, ok := g.index[key]
	if !ok {
		return nil
	}
	return g.names(g.ch[g.chOff[i]:g.chOff[i+1]])
}

func (g *Graph) names(ids []int32) []asset.Key {
	if len(ids) == 0 {
		return nil
	}
	out := make([]asset.Key, len(ids))
	for j, id := range ids {
		out[j] = g.keys[id]
	}
	return out
}

// Roots are the assets with no upstream; Leaves those with no downstream.
// An isolated asset is both.
func (g *Graph) Roots() []asset.Key  { return g.where(g.parOff) }
func (g *Graph) Leaves() []asset.Key { return g.where(g.chOff) }

func (g *Graph) where(off []int32) []asset.Key {
	var out []asset.Key
	for i := range g.keys {
		if off[i] == off[i+1] {
			out = append(out, g.keys[i])
		}
	}
	return out
}

// All returns the whole graph: every asset (depth 0) and every edge.
func (g *Graph) All() Subgraph {
	sub := Subgraph{Nodes: make([]Node, len(g.keys)), Edges: make([]Edge, 0, len(g.ch))}
	for i, k := range g.keys {
		sub.Nodes[i] = Node{Key: k}
		for j := g.chOff[i]; j < g.chOff[i+1]; j++ {
			sub.Edges = append(sub.Edges, g.edge(int32(i), g.ch[j], g.chOrig[j]))
		}
	}
	return sub
}

func (g *Graph) edge(up, down int32, o origin) Edge {
	return Edge{Upstream: g.keys[up], Downstream: g.keys[down], Declared: o&declared != 0, Observed: o&observed != 0}
}

func (g *Graph) lookup(key asset.Key) (int32, error) {
	i, ok := g.index[key]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrUnknownAsset, key)
	}
	return i, nil
}

// build makes a snapshot from a key set and an edge set. Every edge's ends
// must be in keys.
func build(keys map[asset.Key]struct{}, edges map[asset.Edge]origin) *Graph {
	g := &Graph{keys: make([]asset.Key, 0, len(keys)), index: make(map[asset.Key]int32, len(keys))}
	for k := range keys {
		g.keys = append(g.keys, k)
	}
	slices.Sort(g.keys)
	for i, k := range g.keys {
		g.index[k] = int32(i)
	}
	n := len(g.keys)
	g.chOff = make([]int32, n+1)
	g.parOff = make([]int32, n+1)
	for e := range edges {
		g.chOff[g.index[e.Upstream]+1]++
		g.parOff[g.index[e.Downstream]+1]++
	}
	for i := 0; i < n; i++ {
		g.chOff[i+1] += g.chOff[i]
		g.parOff[i+1] += g.parOff[i]
	}
	g.ch = make([]int32, len(edges))
	g.par = make([]int32, len(edges))
	g.chOrig = make([]origin, len(edges))
	g.parOrig = make([]origin, len(edges))
	chPos := slices.Clone(g.chOff[:n])
	parPos := slices.Clone(g.parOff[:n])
	for e, o := range edges {
		u, d := g.index[e.Upstream], g.index[e.Downstream]
		g.ch[chPos[u]], g.chOrig[chPos[u]] = d, o
		chPos[u]++
		g.par[parPos[d]], g.parOrig[parPos[d]] = u, o
		parPos[d]++
	}
	// Sorted adjacency (indices follow key order) makes every answer
	// deterministic whatever the map iteration order was.
	for i := 0; i < n; i++ {
		sortAdj(g.ch[g.chOff[i]:g.chOff[i+1]], g.chOrig[g.chOff[i]:g.chOff[i+1]])
		sortAdj(g.par[g.parOff[i]:g.parOff[i+1]], g.parOrig[g.parOff[i]:g.parOff[i+1]])
	}
	return g
}

// sortAdj sorts ids and keeps orig aligned: insertion sort for the short
// lists most assets have, a pair sort for hubs.
func sortAdj(ids []int32, orig []origin) {
	if len(ids) > 32 {
		type pair struct {
			id int32
			o  origin
		}
		ps := make([]pair, len(ids))
		for i := range ids {
			ps[i] = pair{ids[i], orig[i]}
		}
		slices.SortFunc(ps, func(a, b pair) int { return int(a.id) - int(b.id) })
		for i, p := range ps {
			ids[i], orig[i] = p.id, p.o
		}
		return
	}
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
			orig[j], orig[j-1] = orig[j-1], orig[j]
		}
	}
}
