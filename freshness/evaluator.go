package freshness

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Graph is what the evaluator needs from the lineage graph: its assets and
// each one's direct upstream. Cycles are tolerated (see docs/freshness.md).
type Graph interface {
	Keys() []asset.Key
	Parents(asset.Key) []asset.Key
}

// States gives the evaluator each asset's state, nil when nothing is known.
// *Tracker implements it.
type States interface {
	State(asset.Key) *AssetState
}

// Evaluator evaluates every asset with a policy over one snapshot of the
// graph and the policies. Build a new one when the graph or the policies
// change; between changes it re-evaluates either everything (EvaluateAll,
// on a timer) or the downstream closure of changed assets (Reevaluate, on
// events).
//
// Internally keys are interned to int32 indices in key order, the graph is
// held as compressed parent and child lists, data times are memoised per
// (asset, history entry) for the pass, and each asset's chain is indexed as
// it is resolved (chainJump), so a pass over a large graph touches each
// edge a small constant number of times, walks a stale chain in a few
// jumps, and allocates little beyond the results' reasons.
//
// An Evaluator is not safe for concurrent use.
type Evaluator struct {
	keys   []asset.Key // index -> key, sorted
	index  map[asset.Key]int32
	parOff []int32 // parents of i: par[parOff[i]:parOff[i+1]]
	par    []int32
	chOff  []int32
	ch     []int32
	order  []int32 // evaluation order: topological, then the nodes on cycles
	rank   []int32 // position of each node in order
	scc    []int32 // strongly connected component of each node
	cyclic []bool  // per component: more than one node
	depth  []int32 // longest path from a source over the components: "more upstream" without key names
	policy []*Policy
	schedN []int32 // index into scheds of node i's schedule, -1 for none
	scheds []*schedule
	nPol   int // assets with a policy

	// stateOf caches the states' pointers across passes when states is a
	// *Tracker, whose pointers never change once an asset has state: it
	// saves a string-keyed map lookup per asset per pass, the largest single
	// cost of a pass over a big graph. Entries still nil are looked up again.
	stateOf   []*AssetState
	stateFrom *Tracker

	// Per-pass state, reused across passes.
	states States
	now    time.Time
	gen    uint32 // memo[i] is valid for this pass when memo[i].gen == gen
	memo   []memo
	dts    []int64     // data time of entry j of node i at i*HistoryLen+j, valid per memo.done
	jumps  []chainJump // per node, valid with its memo
	buf    []byte      // reason buffer
	self   Status      // the status of the asset being evaluated
	ticks  []tickCache // per schedule
	chain  chainView
	mark   []uint32 // closure marks, compared with markTok
	markTk uint32
	queue  []int32
	pinDT  map[*Success]pinMemo // data times of pinned entries, this pass
	misses []Miss               // what this pass could not resolve from memory
}

// NewEvaluator interns the graph and compiles the policies. Assets that
// appear only as a parent or only in policies become nodes too. Every
// invalid policy is reported, each wrapped with its asset key.
func NewEvaluator(g Graph, policies map[asset.Key]asset.FreshnessPolicy) (*Evaluator, error) {
	// Intern in discovery order with one map operation per edge, building
	// the parent lists as flat arrays on the way; then renumber in key
	// order, which makes every order the evaluator derives (and so every
	// tie it breaks) independent of the order Keys returns.
	index := make(map[asset.Key]int32)
	var keys []asset.Key
	intern := func(k asset.Key) int32 {
		i, ok := index[k]
		if !ok {
			i = int32(len(keys))
			index[k] = i
			keys = append(keys, k)
		}
		return i
	}
	for _, k := range g.Keys() {
		intern(k)
	}
	for k := range policies {
		intern(k)
	}
	off := []int32{0}
	var par []int32
	for i := 0; i < len(keys); i++ { // keys grows as parents are discovered
		for _, p := range g.Parents(keys[i]) {
			j := intern(p)
			if !slices.Contains(par[off[i]:], j) {
				par = append(par, j)
			}
		}
		off = append(off, int32(len(par)))
	}

	n := len(keys)
	perm := make([]int32, n) // perm[new] = old
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int { return strings.Compare(string(keys[a]), string(keys[b])) })
	renum := make([]int32, n) // renum[old] = new
	for nw, old := range perm {
		renum[old] = int32(nw)
	}
	e := &Evaluator{
		keys:    make([]asset.Key, n),
		index:   index,
		parOff:  make([]int32, n+1),
		par:     make([]int32, 0, len(par)),
		chOff:   make([]int32, n+1),
		policy:  make([]*Policy, n),
		schedN:  make([]int32, n),
		memo:    make([]memo, n),
		dts:     make([]int64, n*HistoryLen),
		jumps:   make([]chainJump, n),
		stateOf: make([]*AssetState, n),
		mark:    make([]uint32, n),
		gen:     1,
	}
	for nw, old := range perm {
		k := keys[old]
		e.keys[nw] = k
		index[k] = int32(nw)
		for _, p := range par[off[old]:off[old+1]] {
			e.par = append(e.par, renum[p])
		}
		e.parOff[nw+1] = int32(len(e.par))
	}
	e.buildChildren()
	e.buildOrder()
	e.buildComponents()
	if err := e.compilePolicies(policies); err != nil {
		return nil, err
	}
	e.chain.e = e
	e.chain.stamp = make([]uint32, n)
	return e, nil
}

func (e *Evaluator) parents(i int32) []int32  { return e.par[e.parOff[i]:e.parOff[i+1]] }
func (e *Evaluator) children(i int32) []int32 { return e.ch[e.chOff[i]:e.chOff[i+1]] }

func (e *Evaluator) buildChildren() {
	n := len(e.keys)
	for _, p := range e.par {
		e.chOff[p+1]++
	}
	for i := 0; i < n; i++ {
		e.chOff[i+1] += e.chOff[i]
	}
	e.ch = make([]int32, len(e.par))
	fill := slices.Clone(e.chOff[:n])
	for i := int32(0); i < int32(n); i++ {
		for _, p := range e.parents(i) {
			e.ch[fill[p]] = i
			fill[p]++
		}
	}
}

// buildOrder is Kahn's algorithm; nodes on cycles (never reaching in-degree
// zero) go last, in key order, and the data-time resolution's cycle guard
// handles them.
func (e *Evaluator) buildOrder() {
	n := len(e.keys)
	indeg := make([]int32, n)
	for i := range indeg {
		indeg[i] = e.parOff[i+1] - e.parOff[i]
	}
	e.order = make([]int32, 0, n)
	for i := int32(0); i < int32(n); i++ {
		if indeg[i] == 0 {
			e.order = append(e.order, i)
		}
	}
	for h := 0; h < len(e.order); h++ {
		for _, c := range e.children(e.order[h]) {
			if indeg[c]--; indeg[c] == 0 {
				e.order = append(e.order, c)
			}
		}
	}
	if len(e.order) < n {
		for i := int32(0); i < int32(n); i++ {
			if indeg[i] > 0 {
				e.order = append(e.order, i)
			}
		}
	}
	e.rank = make([]int32, n)
	for r, i := range e.order {
		e.rank[i] = int32(r)
	}
}

// buildComponents finds the strongly connected components (Tarjan's
// algorithm, iterative, over parent edges, so components come out upstream
// first) and each one's depth: 0 for a component without parents outside
// it, else one more than its deepest parent component.
func (e *Evaluator) buildComponents() {
	n := len(e.keys)
	index := make([]int32, n) // 0: unvisited, else visit number + 1
	low := make([]int32, n)
	onStack := make([]bool, n)
	e.scc = make([]int32, n)
	var stack []int32
	type frame struct{ v, edge int32 }
	var call []frame
	next, comps := int32(1), int32(0)
	var sizes []int32
	visit := func(v int32) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		call = append(call, frame{v, e.parOff[v]})
	}
	for s := int32(0); s < int32(n); s++ {
		if index[s] != 0 {
			continue
		}
		visit(s)
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.edge < e.parOff[v+1] {
				w := e.par[f.edge]
				f.edge++
				if index[w] == 0 {
					visit(w)
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			if low[v] == index[v] {
				size := int32(0)
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					e.scc[w] = comps
					size++
					if w == v {
						break
					}
				}
				sizes = append(sizes, size)
				comps++
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
		}
	}
	e.cyclic = make([]bool, comps)
	for c, size := range sizes {
		e.cyclic[c] = size > 1
	}
	// Components come out upstream first: one sweep in component order.
	byComp := make([]int32, n)
	start := make([]int32, comps+1)
	for i := 0; i < n; i++ {
		start[e.scc[i]+1]++
	}
	for c := int32(0); c < comps; c++ {
		start[c+1] += start[c]
	}
	fill := slices.Clone(start[:comps])
	for i := int32(0); i < int32(n); i++ {
		byComp[fill[e.scc[i]]] = i
		fill[e.scc[i]]++
	}
	compDepth := make([]int32, comps)
	for _, i := range byComp {
		c := e.scc[i]
		for _, p := range e.parents(i) {
			if pc := e.scc[p]; pc != c {
				compDepth[c] = max(compDepth[c], compDepth[pc]+1)
			}
		}
	}
	e.depth = make([]int32, n)
	for i := range e.depth {
		e.depth[i] = compDepth[e.scc[i]]
	}
}

func (e *Evaluator) compilePolicies(policies map[asset.Key]asset.FreshnessPolicy) error {
	compiled := make(map[asset.FreshnessPolicy]*Policy) // identical policies share a schedule
	schedIdx := make(map[*schedule]int32)
	for i := range e.schedN {
		e.schedN[i] = -1
	}
	var errs []error
	for k, spec := range policies {
		i := e.index[k]
		p, ok := compiled[spec]
		if !ok {
			var err error
			if p, err = CompilePolicy(spec); err != nil {
				errs = append(errs, fmt.Errorf("asset %s: %w", k, err))
				continue
			}
			compiled[spec] = p
		}
		e.policy[i] = p
		e.nPol++
		if p.sched != nil {
			si, ok := schedIdx[p.sched]
			if !ok {
				si = int32(len(e.scheds))
				schedIdx[p.sched] = si
				e.scheds = append(e.scheds, p.sched)
			}
			e.schedN[i] = si
		}
	}
	e.ticks = make([]tickCache, len(e.scheds))
	// Map order is random: sort so the joined error reads the same every time.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Len is the number of assets in the evaluator's graph.
func (e *Evaluator) Len() int { return len(e.keys) }

// begin starts a pass at now. A full pass forgets every memoised data time;
// an incremental one keeps those outside the closure it invalidates.
func (e *Evaluator) begin(now time.Time, states States, full bool) {
	e.now, e.states = now, states
	if tr, _ := states.(*Tracker); tr == nil || tr != e.stateFrom {
		clear(e.stateOf)
		if tr != e.stateFrom {
			full = true // memos hold the other tracker's states
		}
		e.stateFrom = tr
	}
	if full {
		e.gen++
		if e.gen == 0 { // wrapped: make every memo stale explicitly
			for i := range e.memo {
				e.memo[i].gen = 0
			}
			e.gen = 1
		}
	}
	for i := range e.ticks {
		e.ticks[i] = tickCache{now: now, upcoming: e.ticks[i].upcoming[:0]}
	}
	e.misses = e.misses[:0]
	if len(e.pinDT) > 0 || e.pinDT == nil {
		e.pinDT = make(map[*Success]pinMemo)
	}
}

// Misses returns what the last pass could not resolve from memory. The
// assets whose results depend on them were left out of its results; pin
// the answers (Resolve) and Reevaluate the assets Resolve changed.
func (e *Evaluator) Misses() []Miss { return slices.Clone(e.misses) }

// EvaluateAll evaluates every asset with a policy at now and appends the
// results to dst in topological order (upstream before downstream).
func (e *Evaluator) EvaluateAll(dst []Result, now time.Time, states States) []Result {
	e.begin(now, states, true)
	dst = slices.Grow(dst, e.nPol)
	for _, i := range e.order {
		// Resolving every asset in topological order, policy or not, keeps
		// the resolution's recursion shallow: parents are always done.
		e.current(i)
		if e.policy[i] != nil {
			dst = e.evaluate(dst, i)
		}
	}
	e.states = nil
	return dst
}

// Reevaluate evaluates, at now, the assets with a policy in the downstream
// closure of changed (the changed assets included) and appends the results
// to dst in topological order. changed must name every asset whose state
// changed since the previous pass, and states must be the same source as in
// that pass (a different *Tracker is detected and forgets everything);
// memoised data times of the other assets are reused. Keys not in the graph
// are ignored.
func (e *Evaluator) Reevaluate(dst []Result, now time.Time, states States, changed []asset.Key) []Result {
	e.begin(now, states, false)
	e.markTk++
	if e.markTk == 0 {
		clear(e.mark)
		e.markTk = 1
	}
	q := e.queue[:0]
	for _, k := range changed {
		if i, ok := e.index[k]; ok && e.mark[i] != e.markTk {
			e.mark[i] = e.markTk
			q = append(q, i)
		}
	}
	for h := 0; h < len(q); h++ {
		for _, c := range e.children(q[h]) {
			if e.mark[c] != e.markTk {
				e.mark[c] = e.markTk
				q = append(q, c)
			}
		}
	}
	for _, i := range q {
		e.memo[i].gen = 0
	}
	if len(q) > len(e.order)/8 {
		// A large closure (under heavy ingest, most of the graph): picking
		// it out of the evaluation order is cheaper than sorting it.
		q = q[:0]
		for _, i := range e.order {
			if e.mark[i] == e.markTk {
				q = append(q, i)
			}
		}
	} else {
		slices.SortFunc(q, func(a, b int32) int { return int(e.rank[a] - e.rank[b]) })
	}
	for _, i := range q {
		e.current(i)
		if e.policy[i] != nil {
			dst = e.evaluate(dst, i)
		}
	}
	e.queue = q
	e.states = nil
	return dst
}

// evaluate appends i's result to dst, unless it depends on a Miss.
func (e *Evaluator) evaluate(dst []Result, i int32) []Result {
	m := e.current(i)
	if m.hasLast && m.cur == dtPending {
		return dst
	}
	st := &e.self
	e.status(i, m, st)
	if !st.HasData && m.st != nil {
		if m.hasLast {
			b := dtBlocker(m.cur)
			st.UnknownBecause = e.keys[b]
			_, _, found, miss := e.latestQuiet(b)
			st.UnknownNever = !found && !miss
			if b == i && m.st.pspec != nil {
				_, _, st.MissingPartitions = m.st.partitionDataTime(math.MaxInt64)
				if st.MissingPartitions == "" {
					st.MissingPartitions = "(none in its range)"
				}
			}
			at, ok := m.st.firstMaterialization()
			if !ok {
				e.miss(i, 0, true)
				return dst
			}
			st.Since = time.Unix(0, at).UTC()
		} else if m.st.firstSeen != 0 {
			st.Since = time.Unix(0, m.st.firstSeen).UTC()
		}
	}
	e.chain.reset(i)
	var tc *tickCache
	if si := e.schedN[i]; si >= 0 {
		tc = &e.ticks[si]
	}
	dst = slices.Grow(dst, 1)[:len(dst)+1] // evaluate sets every field
	e.buf = evaluate(&dst[len(dst)-1], e.policy[i], e.now, st, &e.chain, tc, e.buf)
	return dst
}
