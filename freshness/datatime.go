package freshness

import (
	"math"
	"time"
)

// memo is one asset's resolved view for the current pass. It is kept to 40
// bytes, with the per-entry data times in Evaluator.dts, because chain walks
// and dependency lookups hit memos of scattered assets: the fewer cache
// lines, the faster the pass.
type memo struct {
	st     *AssetState
	cur    int64 // data time of the latest success, Unix ns
	upCost int64 // run estimates of the materializable links of the whole chain, ns; an upper bound for walk's cost
	minPar int32 // the dependency of the latest success with the oldest data time, -1 if none
	gen    uint32
	done   uint16 // bit j: entry j's data time is in dts
	busy   uint16 // bit j: entry j is being resolved; meeting it again means a cycle
	phase  uint8  // cur and minPar: 0 unresolved, 1 resolving, 2 resolved
	hasCur bool
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
		*m = memo{gen: e.gen, minPar: -1, st: st}
	}
	return m
}

// current resolves the data time of i's latest success and its oldest
// dependency (the next link of its chain).
func (e *Evaluator) current(i int32) *memo {
	m := e.load(i)
	if m.phase != 0 {
		return m
	}
	m.phase = 1
	if m.st != nil && len(m.st.successes) > 0 {
		j := len(m.st.successes) - 1
		m.cur, m.hasCur = e.dataTime(i, j)
		s := &m.st.successes[j]
		if !s.observation { // an observation consumed nothing
			best, bestDT := int32(-1), int64(math.MaxInt64)
			consider := func(u int32) {
				if u == i {
					return
				}
				um := e.current(u)
				// Ties go to the more upstream asset (earlier in topological
				// order), so chains lead to sources, also through cycles.
				if um.hasCur && (best < 0 || um.cur < bestDT || um.cur == bestDT && e.rank[u] < e.rank[best]) {
					best, bestDT = u, um.cur
				}
			}
			if s.upstream != nil {
				for _, k := range s.upstream {
					if u, ok := e.index[k]; ok {
						consider(u)
					}
				}
			} else {
				for _, u := range e.parents(i) {
					consider(u)
				}
			}
			m.minPar = best
		}
	}
	if p := m.minPar; p >= 0 {
		if pm := &e.memo[p]; pm.phase == 2 {
			m.upCost = pm.upCost
			if est := int64(pm.st.runEstimate); pm.st.materializable && m.upCost < math.MaxInt64-est {
				m.upCost += est
			} else if pm.st.materializable {
				m.upCost = math.MaxInt64 // saturate: no bound
			}
		} else {
			m.upCost = math.MaxInt64 // on a cycle: no bound
		}
	}
	m.phase = 2
	return m
}

// dataTime is the data time of entry j of i's history (DESIGN §4): the
// reported data_time; for an observation without one, its own time;
// otherwise the minimum over its dependencies of the data time of each
// one's latest success at or before this run's start, or its own time when
// no dependency had one (a root, or upstream history that does not reach
// back). ok is false only when the entry is already being resolved further
// up the stack, that is, on a cycle; the caller then skips that dependency.
func (e *Evaluator) dataTime(i int32, j int) (int64, bool) {
	m := e.load(i)
	bit := uint16(1) << j
	slot := int(i)*HistoryLen + j
	if m.done&bit != 0 {
		return e.dts[slot], true
	}
	if m.busy&bit != 0 {
		return 0, false
	}
	s := &m.st.successes[j]
	var v int64
	switch {
	case s.hasDataTime:
		v = s.dataTime
	case s.observation:
		v = s.at
	default:
		m.busy |= bit
		start, found := s.start(), false
		v = math.MaxInt64
		if s.upstream != nil {
			for _, k := range s.upstream {
				if u, ok := e.index[k]; ok {
					if d, ok := e.depDataTime(u, start); ok {
						v, found = min(v, d), true
					}
				}
			}
		} else {
			for _, u := range e.parents(i) {
				if d, ok := e.depDataTime(u, start); ok {
					v, found = min(v, d), true
				}
			}
		}
		m.busy &^= bit
		if !found {
			v = s.at
		}
	}
	e.dts[slot], m.done = v, m.done|bit
	return v, true
}

// depDataTime is the data time of u's latest success at or before start.
func (e *Evaluator) depDataTime(u int32, start int64) (int64, bool) {
	um := e.load(u)
	if um.st == nil {
		return 0, false
	}
	h := um.st.successes
	for k := len(h) - 1; k >= 0; k-- {
		if h[k].at <= start {
			return e.dataTime(u, k)
		}
	}
	return 0, false
}

// status is i's Status for Evaluate.
func (e *Evaluator) status(i int32, m *memo) Status {
	s := Status{Key: e.keys[i]}
	if m.st == nil {
		return s
	}
	s.LastFailure = m.st.lastFailure
	s.RunEstimate = m.st.runEstimate
	s.Materializable = m.st.materializable
	if m.hasCur {
		s.HasData = true
		s.DataTime = time.Unix(0, m.cur).UTC()
		s.LastSuccess = time.Unix(0, m.st.successes[len(m.st.successes)-1].at).UTC()
	}
	return s
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
	return c.e.status(u, c.e.current(u)), true
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
// Unix nanoseconds and builds a Status only for the last stale link.
func (c *chainView) walk(n need) (last Status, ok bool, cost time.Duration, count int) {
	at := n.at.UnixNano()
	lastIdx := int32(-1)
	for i := 0; ; i++ {
		if !c.extend(i) {
			break
		}
		u := c.links[i]
		m := c.e.current(u)
		if !m.hasCur || m.cur > at || m.cur == at && !n.inclusive {
			break
		}
		lastIdx = u
		if st := m.st; st.materializable && st.runEstimate > 0 {
			cost += st.runEstimate
			count++
		}
	}
	if lastIdx < 0 {
		return Status{}, false, cost, count
	}
	return c.e.status(lastIdx, c.e.current(lastIdx)), true, cost, count
}

// costBound is an upper bound for the cost walk can sum: the run estimates
// of all the materializable links of the chain.
func (c *chainView) costBound() time.Duration {
	if b := c.e.memo[c.from].upCost; b < math.MaxInt64 {
		return time.Duration(b)
	}
	return math.MaxInt64
}
