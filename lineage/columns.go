package lineage

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Columns is column-level lineage: for each asset, which upstream columns
// each of its columns is computed from, as its latest report says (the
// column_lineage of its latest event that has one, else its declared
// columns), and the reverse index for "what reads this column". It is safe
// for concurrent use.
type Columns struct {
	mu sync.RWMutex
	up map[asset.Key]asset.ColumnLineage
	// down: an upstream column -> the downstream columns that read it,
	// with the transformation
	down map[asset.ColumnRef]map[asset.ColumnRef]string
	at   map[asset.Key]time.Time // time of the report in force, per asset
}

// NewColumns returns an empty column lineage.
func NewColumns() *Columns {
	return &Columns{up: map[asset.Key]asset.ColumnLineage{}, down: map[asset.ColumnRef]map[asset.ColumnRef]string{}, at: map[asset.Key]time.Time{}}
}

// Set replaces key's column lineage (nil or empty: it has none) with a
// report made at time at, unless the lineage in force was reported later
// (events can arrive out of order; a declaration has the zero time).
func (c *Columns) Set(key asset.Key, cl asset.ColumnLineage, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.at[key]; ok && at.Before(prev) {
		return
	}
	c.at[key] = at
	for col, ins := range c.up[key] {
		to := asset.ColumnRef{Asset: key, Column: col}
		for _, in := range ins {
			if m := c.down[in.ColumnRef]; m != nil {
				delete(m, to)
				if len(m) == 0 {
					delete(c.down, in.ColumnRef)
				}
			}
		}
	}
	if len(cl) == 0 {
		delete(c.up, key)
		delete(c.at, key)
		return
	}
	own := make(asset.ColumnLineage, len(cl))
	for col, ins := range cl {
		own[col] = slices.Clone(ins)
		to := asset.ColumnRef{Asset: key, Column: col}
		for _, in := range ins {
			m := c.down[in.ColumnRef]
			if m == nil {
				m = map[asset.ColumnRef]string{}
				c.down[in.ColumnRef] = m
			}
			m[to] = in.Transformation
		}
	}
	c.up[key] = own
}

// Of returns key's columns with their upstream columns (a copy).
func (c *Columns) Of(key asset.Key) asset.ColumnLineage {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(asset.ColumnLineage, len(c.up[key]))
	for col, ins := range c.up[key] {
		out[col] = slices.Clone(ins)
	}
	return out
}

// ReadBy returns the columns of other assets computed from key's columns,
// per column of key, sorted.
func (c *Columns) ReadBy(key asset.Key, columns []string) map[string][]asset.ColumnInput {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := map[string][]asset.ColumnInput{}
	for _, col := range columns {
		for to, tr := range c.down[asset.ColumnRef{Asset: key, Column: col}] {
			out[col] = append(out[col], asset.ColumnInput{ColumnRef: to, Transformation: tr})
		}
		sortInputs(out[col])
	}
	return out
}

// Downstreamed lists the columns of key that something reads, though key
// reported no lineage of its own (a source table's columns).
func (c *Columns) Downstreamed(key asset.Key) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []string
	for ref := range c.down {
		if ref.Asset == key {
			out = append(out, ref.Column)
		}
	}
	slices.Sort(out)
	return out
}

// ColumnNode is a column in a traversal: Depth is negative upstream of the
// start, positive downstream, 0 for the start.
type ColumnNode struct {
	asset.ColumnRef
	Depth int `json:"depth"`
}

// ColumnEdge: From is read to compute To.
type ColumnEdge struct {
	From           asset.ColumnRef `json:"from"`
	To             asset.ColumnRef `json:"to"`
	Transformation string          `json:"transformation,omitempty"`
}

// ColumnGraph is the result of a traversal.
type ColumnGraph struct {
	Nodes []ColumnNode `json:"nodes"`
	Edges []ColumnEdge `json:"edges"`
	// Truncated: the traversal stopped at its node limit.
	Truncated bool `json:"truncated,omitempty"`
}

// ErrUnknownColumn: no lineage names the column, up or down.
var ErrUnknownColumn = errors.New("no column lineage names this column")

// Trace walks from start upstream (up), downstream (down) or both, at most
// depth levels (0: all) and at most maxNodes columns (0: no limit).
func (c *Columns) Trace(start asset.ColumnRef, up, down bool, depth, maxNodes int) (ColumnGraph, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, hasUp := c.up[start.Asset][start.Column]
	_, hasDown := c.down[start]
	if !hasUp && !hasDown {
		return ColumnGraph{}, ErrUnknownColumn
	}
	g := ColumnGraph{Nodes: []ColumnNode{{ColumnRef: start}}, Edges: []ColumnEdge{}}
	seen := map[asset.ColumnRef]bool{start: true}
	walk := func(sign int, next func(asset.ColumnRef) []asset.ColumnInput, edge func(from, to asset.ColumnRef, tr string) ColumnEdge) {
		frontier := []asset.ColumnRef{start}
		for level := 1; len(frontier) > 0 && (depth <= 0 || level <= depth); level++ {
			var nextFrontier []asset.ColumnRef
			for _, ref := range frontier {
				for _, n := range next(ref) {
					if !seen[n.ColumnRef] && maxNodes > 0 && len(g.Nodes) >= maxNodes {
						g.Truncated = true
						return
					}
					g.Edges = append(g.Edges, edge(ref, n.ColumnRef, n.Transformation))
					if seen[n.ColumnRef] {
						continue
					}
					seen[n.ColumnRef] = true
					g.Nodes = append(g.Nodes, ColumnNode{ColumnRef: n.ColumnRef, Depth: sign * level})
					nextFrontier = append(nextFrontier, n.ColumnRef)
				}
			}
			frontier = nextFrontier
		}
	}
	if up {
		walk(-1, func(r asset.ColumnRef) []asset.ColumnInput {
			return c.up[r.Asset][r.Column]
		}, func(from, to asset.ColumnRef, tr string) ColumnEdge {
			return ColumnEdge{From: to, To: from, Transformation: tr} // to is read to compute from
		})
	}
	if down && !g.Truncated {
		walk(1, func(r asset.ColumnRef) []asset.ColumnInput {
			var out []asset.ColumnInput
			for to, tr := range c.down[r] {
				out = append(out, asset.ColumnInput{ColumnRef: to, Transformation: tr})
			}
			sortInputs(out)
			return out
		}, func(from, to asset.ColumnRef, tr string) ColumnEdge {
			return ColumnEdge{From: from, To: to, Transformation: tr}
		})
	}
	return g, nil
}

func sortInputs(ins []asset.ColumnInput) {
	slices.SortFunc(ins, func(a, b asset.ColumnInput) int {
		if a.Asset != b.Asset {
			if a.Asset < b.Asset {
				return -1
			}
			return 1
		}
		if a.Column < b.Column {
			return -1
		}
		if a.Column > b.Column {
			return 1
		}
		return 0
	})
}
