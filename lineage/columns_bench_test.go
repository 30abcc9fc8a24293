package lineage

import (
	"fmt"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// columnWorld: bigGraph's 100,000 assets and 300,000 edges with 10
// columns each, every column of an asset computed from the same-named
// column of each of its parents: 1,000,000 columns, 3,000,000 column edges.
func columnWorld() (*Graph, *Columns, []asset.Key) {
	keys, edges := bigGraph()
	x := NewIndex()
	x.Reset(keys, edges, nil)
	parents := map[asset.Key][]asset.Key{}
	for _, e := range edges {
		parents[e.Downstream] = append(parents[e.Downstream], e.Upstream)
	}
	c := NewColumns()
	for _, k := range keys {
		cl := asset.ColumnLineage{}
		for col := range 10 {
			name := fmt.Sprintf("c%d", col)
			for _, p := range parents[k] {
				cl[name] = append(cl[name], asset.ColumnInput{ColumnRef: asset.ColumnRef{Asset: p, Column: name}})
			}
		}
		if len(cl[fmt.Sprintf("c%d", 0)]) > 0 {
			c.Set(k, cl, time.Time{})
		}
	}
	return x.Current(), c, keys
}

// BenchmarkColumnTraceDepth20 traces one column of a late asset 20 levels
// upstream, uncapped, beside the asset-level traversal of the same asset at
// the same depth: the column graph of one column name has the asset
// graph's shape, so both visit the same number of nodes; the asset graph
// (compressed, integer-keyed) is the baseline the map-based column index
// is measured against. The API caps a column trace at 5,000 columns.
func BenchmarkColumnTraceDepth20(b *testing.B) {
	g, c, keys := columnWorld()
	start := keys[len(keys)-1]
	b.Run("columns", func(b *testing.B) {
		for b.Loop() {
			cg, err := c.Trace(asset.ColumnRef{Asset: start, Column: "c3"}, true, false, 20, 0)
			if err != nil || len(cg.Nodes) < 2 {
				b.Fatal(err, len(cg.Nodes))
			}
		}
	})
	b.Run("assets_baseline", func(b *testing.B) {
		for b.Loop() {
			sub, err := g.Upstream(start, 20)
			if err != nil || len(sub.Nodes) < 2 {
				b.Fatal(err)
			}
		}
	})
}
