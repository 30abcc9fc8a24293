package freshness

import (
	"math"
	"slices"
	"time"
)

// A resolved data time is an int64: Unix nanoseconds when known, or one of
// two sentinels far below any real time (before 1678):
//   - dtPending: memory cannot tell; a Miss was recorded;
//   - dtUnknown+b: unknown, because asset b (an index) had no success at or
//     before a run that needed it.
const (
	dtPending  int64 = math.MinInt64
	dtUnknown  int64 = math.MinInt64 + 1
	dtSpecial  int64 = math.MinInt64 + 1<<32 // values below are sentinels
	dtNoDeps   int64 = math.MaxInt64         // while resolving: no dependency counted yet
	dtPinnedOK       = 1                     // pinMemo state: resolved
)

func dtKnown(v int64) bool { return v >= dtSpecial }

// dtBlocker is the asset an unknown data time names.
func dtBlocker(v int64) int32 { return int32(v - dtUnknown) }

// memo is one asset's resolved view for the current pass. It is kept to
// one cache line, with the per-entry data times in Evaluator.dts, because
// chain walks and dependency lookups hit memos of scattered assets: what a
// dependent or a chain walk needs is here, so that they do not also read
// the asset's state (another, scattered, allocation).
type memo struct {
	st      *AssetState
	cur     int64 // data time of the latest success: Unix ns or a sentinel
	upCost  int64 // run estimates of the materializable links of the whole chain, ns; an upper bound for walk's cost
	arr     int64 // the latest expected arrival (run in flight, cadence) of the asset and its chain, ns; MinInt64 if none
	lastAt  int64 // time of the latest success, when simple
	own     int64 // the run estimate when materializable, else 0: what the asset adds to a rebuild through it, ns
	minPar  int32 // the dependency of the latest success with the oldest data time, -1 if none
	gen     uint32
	done    uint16 // bit j: entry j's data time is in dts
	busy    uint16 // bit j: entry j is being resolved
	phase   uint8  // cur and minPar: 0 unresolved, 1 resolving, 2 resolved
	hasLast bool   // the asset has a latest success (cur is its data time)
	// simple: the latest success is the last entry of a complete window
	// (no pinned entries, probes do not count), so the latest success at
	// or before any t >= lastAt is that one, with data time cur.
	simple bool
}

// hasCur reports whether the latest success has a known data time.
func (m *memo) hasCur() bool { return m.hasLast && dtKnown(m.cur) }

// pinMemo is a pinned entry's resolved data time for the current pass.
type pinMemo struct {
	v     int64
	state uint8 // 0 being resolved, dtPinnedOK resolved
}

// load returns i's memo, reset and bound to its state if it is from an
// earlier pass (or was invalidated by Reevaluate).
func (e *Evaluator) load(i int32) *memo {
	m := &e.memo[i]
	if m.gen != e.gen {
		st := e.stateOf[i]
		if st == nil {
			st = e.states.State(e.keys[i])
			if e.stateFrom != nil {
				e.stateOf[i] = st
			}
		}
		*m = memo{gen: e.gen, minPar: -1, st: st, arr: math.MinInt64}
	}
	return m
}

// probesCount reports whether u's observations without a data time set its
// data time: u is a source (no dependencies in the graph, no materialize
// command).
func (e *Evaluator) probesCount(u int32, st *AssetState) bool {
	return e.parOff[u+1] == e.parOff[u] && (st == nil || !st.materializable)
}

// latest finds i's latest success; miss records a Miss when memory cannot tell.
func (e *Evaluator) latest(i int32, st *AssetState, t int64) (x *Success, j int, found, pending bool) {
	if st == nil {
		return nil, -1, false, false
	}
	x, j, found, miss, at := st.find(t, e.probesCount(i, st))
	if miss {
		e.miss(i, at, false)
		return nil, -1, false, true
	}
	return x, j, found, false
}

func (e *Evaluator) miss(i int32, at int64, first bool) {
	e.misses = append(e.misses, Miss{Asset: e.keys[i], At: time.Unix(0, at).UTC(), First: first})
}

// current resolves the data time of i's latest success and its oldest
// dependency (the next link of its chain).
func (e *Evaluator) current(i int32) *memo {
	m := e.load(i)
	if m.phase != 0 {
		return m
	}
	m.phase = 1
	offGraph := false
	x, j, found, pending := e.latest(i, m.st, math.MaxInt64)
	switch {
	case pending:
		m.cur, m.hasLast = dtPending, true
	case found:
		m.hasLast = true
		var ok bool
		m.cur, ok = e.dataTime(i, x, j)
		st := m.st
		m.simple = ok && st.loS == math.MinInt64 && len(st.pinned) == 0 && !e.probesCount(i, st) && j == len(st.successes)-1
		m.lastAt = x.at
	}
	if m.st != nil && m.st.materializable {
		m.own = int64(m.st.runEstimate)
	}
	if found && !x.observation { // an observation consumed nothing
		best, bestDT := int32(-1), int64(math.MaxInt64)
		consider := func(u int32) {
			if u == i {
				return
			}
			um := e.current(u)
			if um.hasCur() && (best < 0 || um.cur < bestDT || um.cur == bestDT && e.upstreamOf(u, best)) {
				best, bestDT = u, um.cur
			}
		}
		e.eachDep(i, x, consider)
		m.minPar = best
		// A link the graph does not have (from the success's upstream
		// list) escapes Reevaluate's closure: keep it out of the index.
		offGraph = best >= 0 && x.upstream != nil && !slices.Contains(e.parents(i), best)
	}
	pDone := false // the chain's first link was resolved before this asset: the chain cannot come back to it
	if p := m.minPar; p >= 0 {
		if pm := &e.memo[p]; pm.phase == 2 {
			pDone = true
			m.arr = pm.arr
			m.upCost = pm.upCost
			if est := pm.own; est > 0 && m.upCost < math.MaxInt64-est {
				m.upCost += est
			} else if est > 0 {
				m.upCost = math.MaxInt64 // saturate: no bound
			}
		} else {
			m.upCost, m.arr = math.MaxInt64, math.MaxInt64 // on a cycle: no bound
		}
	}
	if m.st != nil {
		m.arr = max(m.arr, m.st.expectedArrival())
	}
	m.phase = 2
	e.indexChain(i, m, pDone && !offGraph)
	return m
}

// upstreamOf breaks a tie between two dependencies with the same data time
// without looking at key names: the more upstream one (smaller depth in the
// graph of strongly connected components), then the one whose latest
// success is older in (time, id) order. Only assets the event log cannot
// tell apart fall back to key order.
func (e *Evaluator) upstreamOf(a, b int32) bool {
	if e.depth[a] != e.depth[b] {
		return e.depth[a] < e.depth[b]
	}
	if ma, mb := e.load(a), e.load(b); ma.simple && mb.simple && ma.lastAt != mb.lastAt {
		return ma.lastAt < mb.lastAt // lastSuccess's answers, without reading the states
	}
	xa, okA := e.lastSuccess(a)
	xb, okB := e.lastSuccess(b)
	switch {
	case okA && okB && (xa.at != xb.at || xa.id != xb.id):
		return xa.before(xb)
	case okA != okB:
		return okA
	}
	return a < b
}

// lastSuccess is latestQuiet's answer, taken straight from the end of the
// windows in the common case (the window's last entry is the latest
// success whenever the window has one): tie-breaks are frequent when many
// assets share a stale root's data time.
func (e *Evaluator) lastSuccess(i int32) (*Success, bool) {
	st := e.load(i).st
	if st == nil {
		return nil, false
	}
	if n := len(st.successes); n > 0 && st.successes[n-1].at >= st.loS {
		x := &st.successes[n-1]
		if !e.probesCount(i, st) {
			return x, true
		}
		if p := len(st.probes); p == 0 || st.probes[p-1].before(x) {
			return x, true
		}
	}
	x, _, found, _ := e.latestQuiet(i)
	return x, found
}

// latestQuiet is latest without recording misses (for tie-breaks of
// assets whose data times are known, so their latest is in memory).
func (e *Evaluator) latestQuiet(i int32) (*Success, int, bool, bool) {
	st := e.load(i).st
	if st == nil {
		return nil, -1, false, false
	}
	x, j, found, miss, _ := st.find(math.MaxInt64, e.probesCount(i, st))
	return x, j, found, miss
}

// eachDep calls f for every dependency of x, a success of i: its upstream
// list when it has one (names outside the graph are skipped), else i's
// parents in the graph.
func (e *Evaluator) eachDep(i int32, x *Success, f func(u int32)) {
	if x.upstream != nil {
		for _, k := range x.upstream {
			if u, ok := e.index[k]; ok {
				f(u)
			}
		}
		return
	}
	for _, u := range e.parents(i) {
		f(u)
	}
}

// sameCycle reports whether u and i are distinct assets on one cycle.
func (e *Evaluator) sameCycle(i, u int32) bool {
	return e.scc[i] == e.scc[u] && e.cyclic[e.scc[i]]
}

// dataTime is the data time of x, a success of i (entry j of its
// successes window, or -1): DESIGN §4.
//   - the reported data_time (or Dagster's last-updated timestamp);
//   - an observation without one counts only for a source: its own time;
//   - otherwise the minimum, over its dependencies other than itself, of
//     the data time of each one's latest success at or before the run's
//     start; strictly before it for a dependency on the same cycle, so
//     resolution only ever goes back in time and terminates; a dependency
//     on the same cycle without such a success is skipped (a cycle has to
//     start somewhere), any other makes the data time unknown, naming it;
//   - its own time when no dependency counted (a root).
//
// Unknown wins over known times, and pending over both, so what is
// reported never depends on what memory happened to hold. ok is false
// only when x is already being resolved: an upstream list naming an edge
// the graph lacks closed a cycle the graph does not show; that dependency
// is skipped.
func (e *Evaluator) dataTime(i int32, x *Success, j int) (v int64, ok bool) {
	m := e.load(i)
	var bit uint16
	var slot int
	if j >= 0 {
		bit, slot = uint16(1)<<j, int(i)*HistoryLen+j
		if m.done&bit != 0 {
			return e.dts[slot], true
		}
		if m.busy&bit != 0 {
			return 0, false
		}
	}
	switch {
	case m.st != nil && m.st.pspec != nil:
		// A partitioned asset's data time is its partitions' (partition.go).
		if d, ok, _ := m.st.partitionDataTime(x.at); ok {
			v = d
		} else {
			v = dtUnknown + int64(i)
		}
	case x.hasDataTime:
		v = x.dataTime
	case x.observation:
		v = x.at
	default:
		if j >= 0 {
			m.busy |= bit
		} else {
			if pm, seen := e.pinDT[x]; seen {
				if pm.state != dtPinnedOK {
					return 0, false
				}
				return pm.v, true
			}
			e.pinDT[x] = pinMemo{}
		}
		v = e.fromDeps(i, x)
		if j >= 0 {
			m.busy &^= bit
		} else {
			e.pinDT[x] = pinMemo{v: v, state: dtPinnedOK}
			return v, true
		}
	}
	if j >= 0 {
		e.dts[slot], m.done = v, m.done|bit
	}
	return v, true
}

// fromDeps is the minimum over x's dependencies (see dataTime).
func (e *Evaluator) fromDeps(i int32, x *Success) int64 {
	start := x.start()
	v, pending, blocker := dtNoDeps, false, int32(-1)
	e.eachDep(i, x, func(u int32) {
		if u == i {
			return // an asset reading its own output (an incremental model) is not held back by it
		}
		cyc := e.sameCycle(i, u)
		t := start
		if cyc {
			t--
		}
		um := e.load(u)
		if um.simple && t >= um.lastAt {
			// The common case, a run started after u's latest success:
			// that success's data time is u's own, resolved already.
			switch d := um.cur; {
			case d == dtPending:
				pending = true
			case !dtKnown(d):
				blocker = e.pickBlocker(blocker, dtBlocker(d))
			default:
				v = min(v, d)
			}
			return
		}
		y, k, found, miss := e.latest(u, um.st, t)
		switch {
		case miss:
			pending = true
		case !found:
			if !cyc {
				blocker = e.pickBlocker(blocker, u)
			}
		default:
			d, ok := e.dataTime(u, y, k)
			switch {
			case !ok:
			case d == dtPending:
				pending = true
			case !dtKnown(d):
				blocker = e.pickBlocker(blocker, dtBlocker(d))
			default:
				v = min(v, d)
			}
		}
	})
	switch {
	case pending:
		return dtPending
	case blocker >= 0:
		return dtUnknown + int64(blocker)
	case v == dtNoDeps:
		return x.at
	}
	return v
}

// pickBlocker chooses which asset an unknown data time names, by what the
// event log says, not by key: one that never materialized before one that
// has a success since; then the more upstream; then the one whose latest
// success is older.
func (e *Evaluator) pickBlocker(cur, b int32) int32 {
	if cur < 0 || cur == b {
		return b
	}
	_, _, okC, _ := e.latestQuiet(cur)
	_, _, okB, _ := e.latestQuiet(b)
	if okC != okB {
		if okB {
			return cur
		}
		return b
	}
	if e.upstreamOf(b, cur) {
		return b
	}
	return cur
}

// status sets s to i's Status for Evaluate.
func (e *Evaluator) status(i int32, m *memo, s *Status) {
	*s = Status{Key: e.keys[i]}
	if m.st == nil {
		return
	}
	s.LastFailure = m.st.lastFailure
	s.RunEstimate = m.st.runEstimate
	s.Materializable = m.st.materializable
	if n := len(m.st.running); n > 0 {
		s.RunStarted = time.Unix(0, m.st.running[n-1].at).UTC()
	}
	if m.st.nextArrival != 0 && m.st.pspec == nil { // backfills make a partitioned asset's pace noise
		s.Cadence, s.NextArrival = m.st.cadence, time.Unix(0, m.st.nextArrival).UTC()
	}
	if p := m.st.pspec; p != nil && p.period > 0 {
		s.PartitionPeriod = time.Duration(p.period)
	}
	if m.hasLast {
		if x, ok := e.lastSuccess(i); ok {
			s.LastSuccess = time.Unix(0, x.at).UTC()
		}
	}
	if m.hasCur() {
		s.HasData = true
		s.DataTime = time.Unix(0, m.cur).UTC()
	}
}

// chainJump indexes an asset's chain (the minPar links from it) so that a
// walk, "follow the chain while links are older than a time", costs the
// few jumps below rather than one step per link: root causes are walked
// for every stale asset, and in an incident most chains are long and
// stale to their root. Entries are filled as assets are resolved, and are
// valid while the asset's memo is.
type chainJump struct {
	// depth is the number of assets on the chain from this one, itself
	// included, saturated at maxChainLinks+2; 0 when the index does not
	// apply (a link the graph does not have, a chain that could come back
	// to an asset already on it, or an entry that took too many jumps to
	// build): walks from it step link by link.
	depth int32
	// next is the first asset after this one on its chain whose data time
	// is later, -1 if none; every asset in between is no later than this
	// one. before is the asset just before next (the chain's last when
	// next is -1).
	next, before int32
	count        int32 // assets with own > 0 on the chain from this one, itself included
	sum          int64 // their own, ns, wrapping like the link-by-link sum
}

// maxJumps bounds the jumps that build one chainJump, so that building the
// index stays linear in the graph whatever the data times: chains through
// an asset past it are walked link by link.
const maxJumps = 64

// indexChain fills i's chainJump once its memo is resolved. linked says
// the entry may build on its first link's: that link was resolved before
// i (so the chain cannot come back to i) and is one of i's parents in the
// graph (so whatever re-resolves it re-resolves i: Reevaluate's closure).
func (e *Evaluator) indexChain(i int32, m *memo, linked bool) {
	c := &e.jumps[i]
	*c = chainJump{depth: 1, next: -1, before: i, sum: m.own}
	if m.own > 0 {
		c.count = 1
	}
	p := m.minPar
	if p < 0 {
		return
	}
	pc := &e.jumps[p]
	if !linked || pc.depth == 0 {
		c.depth = 0
		return
	}
	c.depth = min(pc.depth+1, maxChainLinks+2)
	c.sum += pc.sum
	c.count += pc.count
	c.next = p
	if !m.hasCur() {
		return // never a link of a chain (links have data times): next is never followed
	}
	// Links with data no later than i's are skipped with their own jumps.
	v, before := p, i
	for n := 0; v >= 0 && e.memo[v].cur <= m.cur; n++ {
		if n == maxJumps {
			c.depth = 0
			return
		}
		before, v = e.jumps[v].before, e.jumps[v].next
	}
	c.next, c.before = v, before
}

// maxChainLinks bounds a chain. Evaluate may walk the chain of every stale
// asset, so an unbounded chain would make a pass quadratic in the depth of
// a long line of stale assets; no real lineage is this deep.
const maxChainLinks = 1024

// chainView is the Chain the evaluator hands to Evaluate: it follows minPar
// links lazily, so an asset that passes without looking upstream costs
// nothing, and it stops at a node it has already visited, so a cycle in the
// graph cannot make a chain endless.
type chainView struct {
	e     *Evaluator
	from  int32
	links []int32
	stamp []uint32 // visited marks, compared with tok
	tok   uint32
	ended bool
}

func (c *chainView) reset(i int32) {
	c.from, c.links, c.ended = i, c.links[:0], false
	c.tok++
	if c.tok == 0 {
		clear(c.stamp)
		c.tok = 1
	}
	c.stamp[i] = c.tok
}

// At returns the i-th link, extending the chain as needed.
func (c *chainView) At(i int) (Status, bool) {
	if i < 0 || !c.extend(i) {
		return Status{}, false
	}
	u := c.links[i]
	var s Status
	c.e.status(u, c.e.current(u), &s)
	return s, true
}

// extend follows minPar links until the chain has link i; false if it ends first.
func (c *chainView) extend(i int) bool {
	for len(c.links) <= i && !c.ended {
		if len(c.links) == maxChainLinks {
			c.ended = true
			break
		}
		last := c.from
		if n := len(c.links); n > 0 {
			last = c.links[n-1]
		}
		next := c.e.current(last).minPar
		if next < 0 || c.stamp[next] == c.tok {
			c.ended = true
			break
		}
		c.stamp[next] = c.tok
		c.links = append(c.links, next)
	}
	return i < len(c.links)
}

// walk is walk (evaluate.go) over the evaluator's own arrays: it compares
// Unix nanoseconds and builds a Status only for the last stale link. It
// jumps through the chain index when the chain has one, and otherwise
// steps link by link.
func (c *chainView) walk(n need, last *Status) (ok bool, cost time.Duration, count int) {
	at := n.at.UnixNano()
	if ok, cost, count, done := c.jump(at, n.inclusive, last); done {
		return ok, cost, count
	}
	return c.linear(at, n.inclusive, last)
}

// linear is walk link by link.
func (c *chainView) linear(at int64, inclusive bool, last *Status) (ok bool, cost time.Duration, count int) {
	lastIdx := int32(-1)
	for i := 0; ; i++ {
		if !c.extend(i) {
			break
		}
		u := c.links[i]
		m := c.e.current(u)
		if !m.hasCur() || m.cur > at || m.cur == at && !inclusive {
			break
		}
		lastIdx = u
		if m.own > 0 {
			cost += time.Duration(m.own)
			count++
		}
	}
	if lastIdx < 0 {
		return false, cost, count
	}
	c.e.status(lastIdx, c.e.current(lastIdx), last)
	return true, cost, count
}

// jump is walk over the chain index: the same answer as linear in a few
// jumps. done is false when the chain has no index or is longer than
// maxChainLinks, and if the index took more jumps than the chain has
// links, which only a Reevaluate not told of a changed asset could cause.
func (c *chainView) jump(at int64, inclusive bool, last *Status) (ok bool, cost time.Duration, count int, done bool) {
	e := c.e
	if d := e.jumps[c.from].depth; d == 0 || d-1 > maxChainLinks {
		return false, 0, 0, false
	}
	stale := func(v int32) bool {
		m := &e.memo[v]
		return m.hasCur() && (m.cur < at || m.cur == at && inclusive)
	}
	first := e.memo[c.from].minPar
	if first < 0 || !stale(first) {
		return false, 0, 0, true
	}
	// Every asset between u and its next is no later than u, so stale too.
	// A chain of at most maxChainLinks links takes at most as many jumps.
	u := first
	for range maxChainLinks {
		w := e.jumps[u].next
		if w >= 0 && stale(w) {
			u = w
			continue
		}
		f := &e.jumps[first]
		sum, n := f.sum, f.count
		if w >= 0 { // the stale links are the chain from first less the chain from w
			sum -= e.jumps[w].sum
			n -= e.jumps[w].count
		}
		b := e.jumps[u].before
		e.status(b, e.current(b), last)
		return true, time.Duration(sum), int(n), true
	}
	return false, 0, 0, false
}

// bound is an upper bound for a prediction through the chain (before the
// asset's own run): the latest expected arrival of any link (or now),
// plus the run estimates of all the materializable links.
func (c *chainView) bound(now time.Time) time.Time {
	m := &c.e.memo[c.from]
	upArr := int64(math.MinInt64) // the links' arrivals: the nearest link's arr
	if p := m.minPar; p >= 0 {
		upArr = c.e.memo[p].arr
	}
	if m.upCost == math.MaxInt64 || upArr == math.MaxInt64 {
		return time.Unix(0, math.MaxInt64)
	}
	start := now.UnixNano()
	if upArr > start {
		start = upArr
	}
	if start > math.MaxInt64-m.upCost {
		return time.Unix(0, math.MaxInt64)
	}
	return time.Unix(0, start+m.upCost)
}
