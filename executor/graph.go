package executor

import (
	"fmt"
	"strings"

	"github.com/freshet-dev/freshet/asset"
)

// graph indexes specs by key with edges both ways. Deps on keys without a
// spec are not edges: nothing here can build or order them.
type graph struct {
	specs    []asset.Spec
	index    map[asset.Key]int
	up, down [][]int
}

func newGraph(specs []asset.Spec) (*graph, error) {
	g := &graph{specs: specs, index: make(map[asset.Key]int, len(specs)), up: make([][]int, len(specs)), down: make([][]int, len(specs))}
	for i := range specs {
		if _, dup := g.index[specs[i].Key]; dup {
			return nil, fmt.Errorf("asset %s is given twice", specs[i].Key)
		}
		g.index[specs[i].Key] = i
	}
	for i := range specs {
		for _, d := range specs[i].Deps {
			if j, ok := g.index[d]; ok && j != i {
				g.up[i] = append(g.up[i], j)
				g.down[j] = append(g.down[j], i)
			}
		}
	}
	return g, nil
}

// reach returns the nodes reachable from start along adj, start excluded.
func (g *graph) reach(start int, adj [][]int) []int {
	seen := map[int]bool{start: true}
	stack := []int{start}
	var out []int
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, w := range adj[v] {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
				stack = append(stack, w)
			}
		}
	}
	return out
}

// cycle returns a dependency cycle among the roots and their ancestors, as
// "a -> b -> a" (read "->" as "depends on"), or "" when there is none.
func (g *graph) cycle(roots []int) string {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(g.specs))
	type frame struct{ v, next int }
	for _, r := range roots {
		if color[r] != white {
			continue
		}
		path := []frame{{v: r}}
		color[r] = grey
		for len(path) > 0 {
			top := &path[len(path)-1]
			if top.next == len(g.up[top.v]) {
				color[top.v] = black
				path = path[:len(path)-1]
				continue
			}
			w := g.up[top.v][top.next]
			top.next++
			switch color[w] {
			case white:
				color[w] = grey
				path = append(path, frame{v: w})
			case grey: // w is on the path: the cycle runs from it to the top
				var names []string
				for i := len(path) - 1; i >= 0; i-- {
					names = append(names, string(g.specs[path[i].v].Key))
					if path[i].v == w {
						break
					}
				}
				// names runs top..w upstream; print w first, following deps.
				for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
					names[i], names[j] = names[j], names[i]
				}
				return strings.Join(append(names, names[0]), " -> ")
			}
		}
	}
	return ""
}
