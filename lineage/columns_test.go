package lineage

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func ref(a, c string) asset.ColumnRef { return asset.ColumnRef{Asset: asset.Key(a), Column: c} }

func in(a, c, tr string) asset.ColumnInput {
	return asset.ColumnInput{ColumnRef: ref(a, c), Transformation: tr}
}

// raw.orders.amount -> stg.orders.amount -> mart.revenue.total <- raw.fx.rate;
// upstream columns come in the order the report lists them
func chain() *Columns {
	c := NewColumns()
	c.Set("stg/orders", asset.ColumnLineage{"amount": {in("raw/orders", "amount", "DIRECT/IDENTITY")}, "id": {in("raw/orders", "id", "")}}, time.Time{})
	c.Set("mart/revenue", asset.ColumnLineage{"total": {in("stg/orders", "amount", "DIRECT/AGGREGATION"), in("raw/fx", "rate", "DIRECT/TRANSFORMATION")}}, time.Time{})
	return c
}

func TestColumnsTrace(t *testing.T) {
	t.Parallel()
	c := chain()
	for _, tt := range []struct {
		name       string
		start      asset.ColumnRef
		up, down   bool
		depth, max int
		nodes      []string
		edges      []string
		truncated  bool
	}{
		{"upstream of the mart", ref("mart/revenue", "total"), true, false, 0, 0,
			[]string{"mart/revenue#total@0", "stg/orders#amount@-1", "raw/fx#rate@-1", "raw/orders#amount@-2"},
			[]string{"stg/orders#amount->mart/revenue#total", "raw/fx#rate->mart/revenue#total", "raw/orders#amount->stg/orders#amount"}, false},
		{"one level up", ref("mart/revenue", "total"), true, false, 1, 0,
			[]string{"mart/revenue#total@0", "stg/orders#amount@-1", "raw/fx#rate@-1"},
			[]string{"stg/orders#amount->mart/revenue#total", "raw/fx#rate->mart/revenue#total"}, false},
		{"downstream of a source column", ref("raw/orders", "amount"), false, true, 0, 0,
			[]string{"raw/orders#amount@0", "stg/orders#amount@1", "mart/revenue#total@2"},
			[]string{"raw/orders#amount->stg/orders#amount", "stg/orders#amount->mart/revenue#total"}, false},
		{"both ways from the middle", ref("stg/orders", "amount"), true, true, 0, 0,
			[]string{"stg/orders#amount@0", "raw/orders#amount@-1", "mart/revenue#total@1"},
			[]string{"raw/orders#amount->stg/orders#amount", "stg/orders#amount->mart/revenue#total"}, false},
		{"capped", ref("mart/revenue", "total"), true, false, 0, 2,
			[]string{"mart/revenue#total@0", "stg/orders#amount@-1"},
			[]string{"stg/orders#amount->mart/revenue#total"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := c.Trace(tt.start, tt.up, tt.down, tt.depth, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			var nodes, edges []string
			for _, n := range g.Nodes {
				nodes = append(nodes, fmt.Sprintf("%s@%d", n.ColumnRef, n.Depth))
			}
			for _, e := range g.Edges {
				edges = append(edges, e.From.String()+"->"+e.To.String())
			}
			if !reflect.DeepEqual(nodes, tt.nodes) || !reflect.DeepEqual(edges, tt.edges) || g.Truncated != tt.truncated {
				t.Fatalf("nodes %v\nedges %v\ntruncated %v", nodes, edges, g.Truncated)
			}
		})
	}
	if _, err := c.Trace(ref("raw/orders", "nope"), true, true, 0, 0); !errors.Is(err, ErrUnknownColumn) {
		t.Fatalf("unknown column: %v", err)
	}
}

func TestColumnsSetReplaces(t *testing.T) {
	t.Parallel()
	c := chain()
	// an older report does not replace a newer one
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c.Set("late", asset.ColumnLineage{"x": {in("new", "x", "")}}, t0)
	c.Set("late", asset.ColumnLineage{"x": {in("old", "x", "")}}, t0.Add(-time.Hour))
	if got := c.Of("late")["x"][0].Asset; got != "new" {
		t.Fatalf("an older report won: %s", got)
	}
	// the mart is rebuilt without the fx rate
	c.Set("mart/revenue", asset.ColumnLineage{"total": {in("stg/orders", "amount", "")}}, time.Time{})
	if got := c.ReadBy("raw/fx", []string{"rate"}); len(got["rate"]) != 0 {
		t.Fatalf("a replaced input is still read: %v", got)
	}
	if got := c.ReadBy("stg/orders", []string{"amount", "id"}); !reflect.DeepEqual(got, map[string][]asset.ColumnInput{"amount": {in("mart/revenue", "total", "")}}) {
		t.Fatalf("read by: %v", got)
	}
	if got := c.Downstreamed("raw/orders"); !reflect.DeepEqual(got, []string{"amount", "id"}) {
		t.Fatalf("downstreamed: %v", got)
	}
	c.Set("stg/orders", nil, time.Time{})
	if got := c.Downstreamed("raw/orders"); len(got) != 0 {
		t.Fatalf("after removing stg/orders' lineage: %v", got)
	}
	if got := c.Of("stg/orders"); len(got) != 0 {
		t.Fatalf("of: %v", got)
	}
}

func TestColumnsCycleAndConcurrency(t *testing.T) {
	t.Parallel()
	c := NewColumns()
	c.Set("a", asset.ColumnLineage{"x": {in("b", "x", "")}}, time.Time{})
	c.Set("b", asset.ColumnLineage{"x": {in("a", "x", "")}}, time.Time{})
	g, err := c.Trace(ref("a", "x"), true, true, 0, 0)
	if err != nil || len(g.Nodes) != 2 {
		t.Fatalf("cycle: %v %+v", err, g)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				k := asset.Key(fmt.Sprintf("t%d", (i+j)%7))
				c.Set(k, asset.ColumnLineage{"c": {in("a", "x", "")}}, time.Time{})
				_, _ = c.Trace(ref("a", "x"), false, true, 3, 100)
				_ = c.Of(k)
			}
		})
	}
	wg.Wait()
}
