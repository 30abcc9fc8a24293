package config

import (
	"fmt"
	"strings"

	"github.com/freshet-dev/freshet/asset"
)

// maxSuggestions bounds the "did you mean" searches, each a scan of every
// key: a file with thousands of unknown deps (a renamed prefix) must still
// load in linear time, and the first few suggestions make the point.
const maxSuggestions = 50

// validate checks what needs the whole file: unique keys, deps that name
// declared assets, and no dependency cycles. It fills in each spec's Deps.
func (d *decoder) validate(assets []asset.Spec, decl []declared) {
	first := make(map[asset.Key]int, len(assets)) // key -> index of its first declaration
	invalid := make(map[string]bool)              // keys already reported as invalid
	keys := make([]asset.Key, 0, len(assets))
	for i := range assets {
		k := assets[i].Key
		if !decl[i].keyOK {
			invalid[string(k)] = true
			continue
		}
		if j, dup := first[k]; dup {
			d.addf(decl[i].line, index("assets", i)+".key", "duplicate key %s (first declared at line %d)", k, decl[j].line)
			continue
		}
		first[k] = i
		keys = append(keys, k)
	}

	// The graph has one node per asset index; only first declarations of
	// valid keys get edges, so every cycle is among well-formed assets.
	adj := make([][]int32, len(assets))
	suggestions := 0
	for i := range assets {
		path := index("assets", i) + ".deps"
		primary := decl[i].keyOK && first[assets[i].Key] == i
		seen := make(map[asset.Key]int, len(decl[i].deps))
		for j, dep := range decl[i].deps {
			p := index(path, j)
			k, err := asset.ParseKey(dep.value)
			switch {
			case err != nil:
				d.addf(dep.line, p, "%v", err)
				continue
			case k == assets[i].Key:
				d.addf(dep.line, p, "%s depends on itself", k)
				continue
			}
			if prev, dup := seen[k]; dup {
				d.addf(dep.line, p, "duplicate dep %s (also deps[%d])", k, prev)
				continue
			}
			seen[k] = j
			target, known := first[k]
			if !known {
				if invalid[dep.value] {
					continue // the target's own key problem says it all
				}
				msg := fmt.Sprintf("unknown asset %q", k)
				if suggestions < maxSuggestions {
					suggestions++
					if s := suggest(k, keys); s != "" {
						msg += fmt.Sprintf(" (did you mean %q?)", s)
					}
				}
				d.addf(dep.line, p, "%s", msg)
				continue
			}
			assets[i].Deps = append(assets[i].Deps, k)
			if primary {
				adj[i] = append(adj[i], int32(target))
			}
		}
	}

	for _, cycle := range findCycles(adj) {
		names := make([]string, 0, len(cycle)+1)
		for _, v := range cycle {
			names = append(names, string(assets[v].Key))
		}
		names = append(names, string(assets[cycle[0]].Key))
		d.addf(decl[cycle[0]].line, index("assets", cycle[0])+".deps", "dependency cycle: %s", strings.Join(names, " -> "))
	}
}

// suggest returns the declared key closest to k by edit distance, if it is
// close enough to be a typo, preferring the first declared on ties.
func suggest(k asset.Key, keys []asset.Key) asset.Key {
	limit := min(3, max(1, len(k)/4))
	best, bestDist := asset.Key(""), limit+1
	for _, c := range keys {
		if dist := editDistance(string(k), string(c), bestDist-1); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b in bytes, or
// limit+1 as soon as it is known to exceed limit (most keys are far apart,
// and this keeps each comparison cheap).
func editDistance(a, b string, limit int) int {
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// findCycles returns one cycle for each strongly connected component of
// more than one node, as a path of node indices starting at the component's
// lowest index and following edges back to it. A component can contain
// exponentially many elementary cycles; reporting one per component is
// enough to locate the problem and stays linear.
//
// Components come from Tarjan's algorithm with an explicit stack, so a
// 100k-asset chain does not recurse 100k deep.
func findCycles(adj [][]int32) [][]int {
	n := len(adj)
	order := make([]int32, n) // 1-based discovery order; 0 = unvisited
	low := make([]int32, n)
	onStack := make([]bool, n)
	comp := make([]int32, n) // component id + 1, set when a component closes
	var (
		stack  []int32
		frames []struct{ v, next int32 }
		seq    int32
		sccs   [][]int32
	)
	visit := func(v int32) {
		seq++
		order[v], low[v] = seq, seq
		stack = append(stack, v)
		onStack[v] = true
		frames = append(frames, struct{ v, next int32 }{v, 0})
	}
	for s := range int32(n) {
		if order[s] != 0 {
			continue
		}
		visit(s)
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			v := f.v
			if int(f.next) < len(adj[v]) {
				w := adj[v][f.next]
				f.next++ // before visit: it may grow frames and move f
				if order[w] == 0 {
					visit(w)
				} else if onStack[w] {
					low[v] = min(low[v], order[w])
				}
				continue
			}
			frames = frames[:len(frames)-1]
			if len(frames) > 0 {
				p := frames[len(frames)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] != order[v] {
				continue
			}
			var members []int32
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				members = append(members, w)
				if w == v {
					break
				}
			}
			if len(members) > 1 {
				sccs = append(sccs, members)
				for _, w := range members {
					comp[w] = int32(len(sccs))
				}
			}
		}
	}

	cycles := make([][]int, 0, len(sccs))
	for id, members := range sccs {
		start := members[0]
		for _, w := range members {
			start = min(start, w)
		}
		cycles = append(cycles, shortestCycle(adj, comp, int32(id+1), start))
	}
	return cycles
}

// shortestCycle finds, by breadth-first search inside one component, the
// shortest path from start back to itself. One exists because every node of
// a strongly connected component reaches every other.
func shortestCycle(adj [][]int32, comp []int32, id, start int32) []int {
	parent := map[int32]int32{start: -1}
	queue := []int32{start}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, w := range adj[u] {
			if comp[w] != id {
				continue
			}
			if w == start {
				var path []int
				for v := u; v != -1; v = parent[v] {
					path = append(path, int(v))
				}
				for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path
			}
			if _, seen := parent[w]; !seen {
				parent[w] = u
				queue = append(queue, w)
			}
		}
	}
	return []int{int(start)} // unreachable for a real component
}
