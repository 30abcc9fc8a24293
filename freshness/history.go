package freshness

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// HistoryLen bounds the successes an asset keeps in memory, in each of its
// two windows (successes, and observations without a data time). The
// window is a cache, not the truth: when a data time needs a success older
// than what is in memory, the evaluator reports a Miss and the loop fetches
// it from the store (see docs/freshness.md, "History in memory"). Sixteen
// covers an upstream that refreshes hourly under a downstream rebuilt every
// sixteen hours without any fetch.
const HistoryLen = 16

// Success is one successful materialization, or an observation, as kept in
// an asset's history. Times are stored as Unix nanoseconds to keep the
// history compact (64 bytes an entry).
type Success struct {
	at, dataTime, duration int64
	upstream               []asset.Key
	id                     uint64 // hash of the event id, for idempotent replays and (time, id) order
	hasDataTime            bool
	observation            bool
}

// Time is when the materialization (or observation) happened.
func (s Success) Time() time.Time { return time.Unix(0, s.at).UTC() }

// DataTime is the data time the event reported, if it reported one.
func (s Success) DataTime() (time.Time, bool) {
	if !s.hasDataTime {
		return time.Time{}, false
	}
	return time.Unix(0, s.dataTime).UTC(), true
}

// Duration is the run's duration from the "duration_s" metadata, zero when unknown.
func (s Success) Duration() time.Duration { return time.Duration(s.duration) }

// Upstream is the event's list of consumed assets; nil means "the graph's parents".
func (s Success) Upstream() []asset.Key { return s.upstream }

// Observation reports whether this is an observation rather than a materialization.
func (s Success) Observation() bool { return s.observation }

// start is when the run began: time minus duration when the duration is
// known. Upstream data "existed when it started" if it landed by then.
func (s *Success) start() int64 { return s.at - s.duration }

// probe reports whether the entry is an observation without a data time:
// it sets the data time of a source asset only (docs/freshness.md).
func (s *Success) probe() bool { return s.observation && !s.hasDataTime }

// before orders successes by (time, id hash), the one total order every
// part of the evaluation uses, so results never depend on arrival order.
func (s *Success) before(o *Success) bool {
	return s.at < o.at || s.at == o.at && s.id < o.id
}

// span says the asset's pinned entries hold every success with
// lo <= time <= hi (lo = math.MinInt64: since the beginning).
type span struct {
	lo, hi int64
	used   bool // read since the last DropUnused
}

// AssetState is what freshness knows about one asset: two bounded windows
// of its latest successes, the older successes fetched from the store where
// a data time needed them, the latest failure, and what a rebuild costs.
// Build it with a Tracker; the evaluator only reads it (and marks which
// pinned spans it read).
//
// Each window knows how far back it is complete: every success of its kind
// at or after lo is in it; lo is math.MinInt64 while the window holds the
// asset's whole history. Evicting an entry, seeding from the catalog's
// latest events or reloading the latest N after a restart raise lo.
type AssetState struct {
	successes []Success // materializations and observations with a data time, by (time, id), at most HistoryLen
	probes    []Success // observations without a data time, likewise
	loS, loP  int64     // completeness bounds of successes and probes
	pinned    []Success // older successes fetched from the store, by (time, id)
	spans     []span    // where pinned is complete; disjoint, by lo
	firstSeen int64     // earliest event of the asset the loop has seen, 0 if none
	firstMat  int64     // earliest materialization: told by SetFirstMaterialization, or kept when a complete window first lost an entry (0: not known)

	// Read by every pass: kept together.
	materializable bool
	runEstimate    time.Duration
	nextArrival    int64      // latest success + cadence, 0 when no cadence
	running        []inflight // runs in flight, by start
	pspec          *partSpec  // nil: unpartitioned

	lastFailure     time.Time
	lastObservation time.Time
	cadence         time.Duration // median interval between the window's successes, 0 if fewer than 3

	ended  [endedRing]uint64 // recently ended run ids (hashes)
	endedN uint8
	round  uint32 // the Tracker's ApplyChanges round that last reported the asset

	parts   map[string][]int64 // partition key -> materialization times, sorted
	windows []filled           // time partitions: filled windows by start
}

func newAssetState() *AssetState {
	return &AssetState{loS: math.MinInt64, loP: math.MinInt64}
}

// Successes returns the window of materializations and observations that
// report a data time, oldest first. The slice is the state's own; do not
// modify it.
func (s *AssetState) Successes() []Success { return s.successes }

// Probes returns the window of observations without a data time, oldest first.
func (s *AssetState) Probes() []Success { return s.probes }

// Complete reports whether the windows hold every success the asset ever had.
func (s *AssetState) Complete() bool { return s.loS == math.MinInt64 && s.loP == math.MinInt64 }

// Latest returns the most recent success: the latest materialization or
// observation with a data time, else the latest observation.
func (s *AssetState) Latest() (Success, bool) {
	if n := len(s.successes); n > 0 {
		return s.successes[n-1], true
	}
	if n := len(s.probes); n > 0 {
		return s.probes[n-1], true
	}
	return Success{}, false
}

// LastFailure is the time of the latest materialization_failed event, zero if none.
func (s *AssetState) LastFailure() time.Time { return s.lastFailure }

// LastObservation is the time of the latest observation, zero if none.
func (s *AssetState) LastObservation() time.Time { return s.lastObservation }

// Materializable reports whether the asset has a materialize command.
func (s *AssetState) Materializable() bool { return s.materializable }

// RunEstimate is the median (nearest-rank p50) of the run durations in the
// window, zero when none is known. The median rather than the max keeps one
// slow outlier from raising AT_RISK on every evaluation.
func (s *AssetState) RunEstimate() time.Duration { return s.runEstimate }

// RunDurations returns the known run durations in the window, oldest first.
func (s *AssetState) RunDurations() []time.Duration {
	var out []time.Duration
	for i := range s.successes {
		if d := s.successes[i].duration; d > 0 {
			out = append(out, time.Duration(d))
		}
	}
	return out
}

// insert adds x to its window in (time, id) order, evicting the oldest
// entry when full (which raises the window's completeness bound past it).
// An entry older than a truncated window goes to pinned if a span covers
// its time (the span must stay complete) and is dropped otherwise. It
// reports whether anything an evaluation reads changed.
func (s *AssetState) insert(x Success) bool {
	list, lo := &s.successes, &s.loS
	if x.probe() {
		list, lo = &s.probes, &s.loP
	}
	if x.id != 0 && (hasID(*list, x.id) || hasID(s.pinned, x.id)) {
		return false
	}
	if x.at < *lo {
		if s.firstMat != 0 && !x.observation && x.at < s.firstMat {
			s.firstMat = x.at // an earlier first materialization, late
		}
		if s.covered(x.at) {
			s.pinned = insertSorted(s.pinned, x)
			return true
		}
		return false // in a range the store answers for
	}
	h := *list
	pos := len(h)
	for pos > 0 && x.before(&h[pos-1]) {
		pos--
	}
	if len(h) >= HistoryLen {
		if list == &s.successes {
			s.keepFirstMaterialization(x)
		}
		if pos == 0 {
			*lo = max(*lo, x.at+1)
			return true
		}
		*lo = max(*lo, h[0].at+1)
		h = slices.Delete(h, 0, 1)
		pos--
	}
	*list = slices.Insert(h, pos, x)
	s.updateEstimates()
	return true
}

func hasID(h []Success, id uint64) bool {
	for i := range h {
		if h[i].id == id {
			return true
		}
	}
	return false
}

func insertSorted(h []Success, x Success) []Success {
	pos := len(h)
	for pos > 0 && x.before(&h[pos-1]) {
		pos--
	}
	return slices.Insert(h, pos, x)
}

// covered reports whether a span covers t.
func (s *AssetState) covered(t int64) bool {
	for i := range s.spans {
		if s.spans[i].lo <= t && t <= s.spans[i].hi {
			return true
		}
	}
	return false
}

// truncate records that successes before lo may be missing from memory.
func (s *AssetState) truncate(lo int64) bool {
	if lo <= s.loS && lo <= s.loP {
		return false
	}
	s.loS, s.loP = max(s.loS, lo), max(s.loP, lo)
	return true
}

// pin adds fetched successes and the span [lo, hi] they cover completely.
func (s *AssetState) pin(xs []Success, lo, hi int64) {
	for _, x := range xs {
		if x.id == 0 || !hasID(s.pinned, x.id) {
			s.pinned = insertSorted(s.pinned, x)
		}
	}
	// Merge the new span with those it overlaps or touches.
	n := span{lo: lo, hi: hi, used: true}
	out := s.spans[:0]
	for _, sp := range s.spans {
		if sp.hi < n.lo && sp.hi+1 < n.lo || n.hi < sp.lo && n.hi+1 < sp.lo { // neither overlaps nor touches
			out = append(out, sp)
			continue
		}
		n.lo, n.hi = min(n.lo, sp.lo), max(n.hi, sp.hi)
	}
	out = append(out, n)
	slices.SortFunc(out, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	s.spans = out
}

// dropUnused forgets the spans nobody read since the last call, and the
// pinned entries no remaining span covers.
func (s *AssetState) dropUnused() {
	spans := s.spans[:0]
	for _, sp := range s.spans {
		if sp.used {
			sp.used = false
			spans = append(spans, sp)
		}
	}
	clear(s.spans[len(spans):])
	s.spans = spans
	pinned := s.pinned[:0]
	for _, x := range s.pinned {
		if s.covered(x.at) {
			pinned = append(pinned, x)
		}
	}
	clear(s.pinned[len(pinned):])
	s.pinned = pinned
	if len(s.spans) == 0 {
		s.spans, s.pinned = nil, nil
	}
}

// find looks up the asset's latest success at or before t (probes count
// only when probes is set: the asset is a source). It returns the entry and
// its index in the successes window (-1 elsewhere); found false with miss
// false means the asset truly had none; miss true means memory cannot
// tell: the successes at or before missAt are needed from the store.
func (s *AssetState) find(t int64, probes bool) (x *Success, j int, found, miss bool, missAt int64) {
	if s.loS == math.MinInt64 && !probes && len(s.pinned) == 0 { // the common case: a complete window
		if k := latestAtOrBefore(s.successes, t, false); k >= 0 {
			return &s.successes[k], k, true, false, 0
		}
		return nil, -1, false, false, 0
	}
	j = -1
	if k := latestAtOrBefore(s.successes, t, false); k >= 0 {
		x, j = &s.successes[k], k
	}
	if probes {
		if k := latestAtOrBefore(s.probes, t, false); k >= 0 && (x == nil || x.before(&s.probes[k])) {
			x, j = &s.probes[k], -1
		}
	}
	if len(s.pinned) > 0 {
		if k := latestAtOrBefore(s.pinned, t, !probes); k >= 0 && (x == nil || x.before(&s.pinned[k])) {
			x, j = &s.pinned[k], -1
		}
	}
	floor := int64(math.MinInt64)
	if x != nil {
		floor = x.at
	}
	// The answer stands if no success that counts can hide in (floor, t]
	// (or at floor itself, where the (time, id) order could still put an
	// unseen entry after x).
	if u, ok := s.uncovered(t, s.loS, floor); ok {
		return x, j, false, true, u
	}
	if probes {
		if u, ok := s.uncovered(t, s.loP, floor); ok {
			return x, j, false, true, u
		}
	}
	return x, j, x != nil, false, 0
}

// uncovered returns the latest instant in [floor, t] at which a success
// could exist that neither the window (complete from lo) nor a span
// accounts for.
func (s *AssetState) uncovered(t, lo, floor int64) (int64, bool) {
	if lo == math.MinInt64 {
		return 0, false
	}
	p := min(t, lo-1)
	for p >= floor {
		i := slices.IndexFunc(s.spans, func(sp span) bool { return sp.lo <= p && p <= sp.hi })
		if i < 0 {
			return p, true
		}
		s.spans[i].used = true
		if s.spans[i].lo == math.MinInt64 {
			return 0, false
		}
		p = s.spans[i].lo - 1
	}
	return 0, false
}

// latestAtOrBefore is the index of the last entry of h (sorted) with time
// <= t, skipping probes when strong is set; -1 if none.
func latestAtOrBefore(h []Success, t int64, strong bool) int {
	for k := len(h) - 1; k >= 0; k-- {
		if h[k].at <= t && !(strong && h[k].probe()) {
			return k
		}
	}
	return -1
}

// keepFirstMaterialization remembers the first materialization of a
// complete window about to lose its oldest entry (x arriving): once the
// window is truncated it no longer knows it, and an UNKNOWN asset's grace
// would need the store to answer (one query per asset under heavy ingest).
func (s *AssetState) keepFirstMaterialization(x Success) {
	if s.firstMat != 0 || s.loS != math.MinInt64 {
		return
	}
	first, ok := s.firstMaterialization()
	if !x.observation && (!ok || x.at < first) {
		first, ok = x.at, true
	}
	if ok {
		s.firstMat = first
	}
}

// firstMaterialization is the time of the asset's first materialization
// when memory knows it.
func (s *AssetState) firstMaterialization() (int64, bool) {
	if s.firstMat != 0 {
		return s.firstMat, true
	}
	if s.loS != math.MinInt64 {
		return 0, false
	}
	for i := range s.successes {
		if !s.successes[i].observation {
			return s.successes[i].at, true
		}
	}
	return 0, false
}

// minCadenceSuccesses is how many successes a cadence needs: two
// intervals, so that one irregular gap is not taken for a schedule.
const minCadenceSuccesses = 3

// updateEstimates recomputes the run estimate (the median of the known
// durations) and the cadence (the median interval between consecutive
// successes of the window; for a source observed without data times, of
// its probes), both nearest-rank p50.
func (s *AssetState) updateEstimates() {
	var buf [HistoryLen]int64
	d := buf[:0]
	for i := range s.successes {
		if v := s.successes[i].duration; v > 0 {
			d = append(d, v)
		}
	}
	s.runEstimate = 0
	if len(d) > 0 {
		slices.Sort(d)
		s.runEstimate = time.Duration(d[(len(d)-1)/2])
	}
	h := s.successes
	if len(h) == 0 { // a source observed without data times
		h = s.probes
	}
	s.cadence, s.nextArrival = 0, 0
	if len(h) < minCadenceSuccesses {
		return
	}
	d = buf[:0]
	for i := 1; i < len(h); i++ {
		d = append(d, h[i].at-h[i-1].at)
	}
	slices.Sort(d)
	if c := d[(len(d)-1)/2]; c > 0 {
		s.cadence, s.nextArrival = time.Duration(c), h[len(h)-1].at+c
	}
}

// expectedArrival is the latest arrival a link could be expected at from
// what it knows regardless of the clock: the end of its latest run in
// flight, its next success at its cadence (MinInt64 if neither). An upper
// bound for arrival's answer on the dates it does not clamp to now.
func (s *AssetState) expectedArrival() int64 {
	v := int64(math.MinInt64)
	if s == nil {
		return v
	}
	if n := len(s.running); n > 0 && s.runEstimate > 0 {
		v = s.running[n-1].at + int64(s.runEstimate)
	}
	if s.nextArrival != 0 {
		v = max(v, s.nextArrival)
	}
	return v
}

// Cadence is the median interval between the asset's recent successes,
// zero when fewer than three are in memory.
func (s *AssetState) Cadence() time.Duration { return s.cadence }
