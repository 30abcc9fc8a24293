package lineage

import "github.com/freshet-dev/freshet/asset"

type direction uint8

const (
	up direction = iota
	down
)

// bitset marks visited nodes: n/8 bytes per traversal, cheap to allocate
// and clear even on a 100,000-asset graph, and never shared between
// concurrent readers.
type bitset []uint64

func newBitset(n int) bitset      { return make(bitset, (n+63)/64) }
func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int32)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) testAndSet(i int32) bool {
	if b.has(i) {
		return true
	}
	b.set(i)
	return false
}

// Upstream returns key and everything it comes from, breadth first, up to
// depth levels (0 = unlimited), with the edges followed.
func (g *Graph) Upstream(key asset.Key, depth int) (Subgraph, error) {
	start, err := g.lookup(key)
	if err != nil {
		return Subgraph{}, err
	}
	return g.walk(start, depth, up, nil), nil
}

// Downstream returns key and everything that depends on it, breadth first,
// up to depth levels (0 = unlimited), with the edges followed.
func (g *Graph) Downstream(key asset.Key, depth int) (Subgraph, error) {
	start, err := g.lookup(key)
	if err != nil {
		return Subgraph{}, err
	}
	return g.walk(start, depth, down, nil), nil
}

// Neighbourhood is Upstream and Downstream together: key first, then its
// ancestors, then its descendants. It does not wander sideways (the
// upstream of a descendant is not included). An asset on a cycle through
// key appears once, at its smaller depth.
func (g *Graph) Neighbourhood(key asset.Key, depth int) (Subgraph, error) {
	start, err := g.lookup(key)
	if err != nil {
		return Subgraph{}, err
	}
	ups := g.walk(start, depth, up, nil)
	downs := g.walk(start, depth, down, nil)
	seen := make(map[asset.Key]int, len(ups.Nodes))
	for i, n := range ups.Nodes {
		seen[n.Key] = i
	}
	for _, n := range downs.Nodes[1:] {
		if i, ok := seen[n.Key]; ok {
			ups.Nodes[i].Depth = min(ups.Nodes[i].Depth, n.Depth)
			continue
		}
		ups.Nodes = append(ups.Nodes, n)
	}
	// Only a cycle through key makes the two walks share an edge.
	have := make(map[[2]asset.Key]bool, len(ups.Edges))
	for _, e := range ups.Edges {
		have[[2]asset.Key{e.Upstream, e.Downstream}] = true
	}
	for _, e := range downs.Edges {
		if !have[[2]asset.Key{e.Upstream, e.Downstream}] {
			ups.Edges = append(ups.Edges, e)
		}
	}
	return ups, nil
}

// Between returns every asset and edge on some path from `from` to `to`
// (both included): the intersection of from's downstream and to's
// upstream. Depths are distances from `from`. No path gives an empty
// subgraph, not an error.
func (g *Graph) Between(from, to asset.Key) (Subgraph, error) {
	f, err := g.lookup(from)
	if err != nil {
		return Subgraph{}, err
	}
	t, err := g.lookup(to)
	if err != nil {
		return Subgraph{}, err
	}
	ancestors := g.reach(t, up)
	if !ancestors.has(f) {
		return Subgraph{Nodes: []Node{}, Edges: []Edge{}}, nil
	}
	return g.walk(f, 0, down, ancestors), nil
}

// adjacency returns the compressed lists for one direction.
func (g *Graph) adjacency(dir direction) (off, adj []int32, orig []origin) {
	if dir == up {
		return g.parOff, g.par, g.parOrig
	}
	return g.chOff, g.ch, g.chOrig
}

// reach marks start and everything reachable from it in one direction.
func (g *Graph) reach(start int32, dir direction) bitset {
	off, adj, _ := g.adjacency(dir)
	seen := newBitset(len(g.keys))
	seen.set(start)
	stack := []int32{start}
	for len(stack) > 0 {
		u := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, v := range adj[off[u]:off[u+1]] {
			if !seen.testAndSet(v) {
				stack = append(stack, v)
			}
		}
	}
	return seen
}

// walk is a breadth-first traversal from start in one direction, up to
// depth levels (0 = unlimited). A non-nil within restricts it to those
// nodes. Every edge followed is returned, including edges into nodes
// already seen (diamonds, cycles), so the subgraph is complete.
func (g *Graph) walk(start int32, depth int, dir direction, within bitset) Subgraph {
	off, adj, orig := g.adjacency(dir)
	visited := newBitset(len(g.keys))
	visited.set(start)
	frontier := []int32{start}
	var next []int32
	sub := Subgraph{Nodes: []Node{{Key: g.keys[start]}}, Edges: []Edge{}}
	for level := 1; len(frontier) > 0 && (depth == 0 || level <= depth); level++ {
		next = next[:0]
		for _, u := range frontier {
			for j := off[u]; j < off[u+1]; j++ {
				v := adj[j]
				if within != nil && !within.has(v) {
					continue
				}
				if dir == up {
					sub.Edges = append(sub.Edges, g.edge(v, u, orig[j]))
				} else {
					sub.Edges = append(sub.Edges, g.edge(u, v, orig[j]))
				}
				if !visited.testAndSet(v) {
					next = append(next, v)
					sub.Nodes = append(sub.Nodes, Node{Key: g.keys[v], Depth: level})
				}
			}
		}
		frontier, next = next, frontier
	}
	return sub
}
