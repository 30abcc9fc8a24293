package freshness

import (
	"errors"
	"fmt"
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
// held as compressed parent and child lists, and data times are memoised per
// (asset, history entry) for the pass, so a pass over a large graph touches
// each edge a small constant number of times and allocates little beyond
// the results' reasons.
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
	buf    []byte      // reason buffer
	ticks  []tickCache // per schedule
	chain  chainView
	mark   []uint32 // closure marks, compared with markTok
	markTk uint32
	queue  []int32
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
}

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
			dst = append(dst, e.evaluate(i))
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
	slices.SortFunc(q, func(a, b int32) int { return int(e.rank[a] - e.rank[b]) })
	for _, i := range q {
		e.current(i)
		if e.policy[i] != nil {
			dst = append(dst, e.evaluate(i))
		}
	}
	e.queue = q
	e.states = nil
	return dst
}

func (e *Evaluator) evaluate(i int32) Result {
	m := e.current(i)
	e.chain.reset(i)
	var tc *tickCache
	if si := e.schedN[i]; si >= 0 {
		tc = &e.ticks[si]
	}
	var res Result
	res, e.buf = evaluate(e.policy[i], e.now, e.status(i, m), &e.chain, tc, e.buf)
	return res
}
