package freshness

import (
	"math"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// DurationKey is the metadata name of a run's duration in seconds (a float
// or an int) on a materialization event. The executor sets it; external
// orchestrators may. It moves the run's start earlier (upstream data that
// landed while the run was going was not read) and feeds AT_RISK predictions.
const DurationKey = "duration_s"

// DagsterLastUpdatedKey is the metadata name Dagster uses for an
// observation's data time: Unix seconds, a float or an int. An event
// without data_time that carries it reports that data time.
const DagsterLastUpdatedKey = "dagster/last_updated_timestamp"

// Tracker folds events into per-asset freshness state. It is the incremental
// half of the pure core: the evaluator reads what it builds.
//
// What it holds per asset is a bounded cache of the event log, and it knows
// how far back each window is complete; the evaluator reports a Miss when
// it needs more, and Pin adds what the store answers. Data times are thus a
// function of the event log alone, whatever is in memory.
//
// A Tracker is not safe for concurrent use: the freshness loop owns it and
// applies events and evaluates from one goroutine.
type Tracker struct {
	round uint32 // ApplyChanges's current call: reports each asset once per round
	// reported are the states of the assets the last ApplyChanges reported.
	reported []*AssetState
	states   map[asset.Key]*AssetState
	pins     map[asset.Key]bool     // assets with pinned entries, for DropUnused
	runs     map[uint64][]asset.Key // run id hash -> assets with that run in flight
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{states: make(map[asset.Key]*AssetState), pins: make(map[asset.Key]bool), runs: make(map[uint64][]asset.Key)}
}

// State returns the asset's state, nil if nothing is known about it.
func (t *Tracker) State(k asset.Key) *AssetState { return t.states[k] }

// Len is the number of assets with state.
func (t *Tracker) Len() int { return len(t.states) }

func (t *Tracker) get(k asset.Key) *AssetState {
	s := t.states[k]
	if s == nil {
		s = newAssetState()
		t.states[k] = s
	}
	return s
}

// SetMaterializable records whether the asset has a materialize command
// (from its spec). It reports whether that changed.
func (t *Tracker) SetMaterializable(k asset.Key, ok bool) bool {
	s := t.get(k)
	if s.materializable == ok {
		return false
	}
	s.materializable = ok
	return true
}

// Apply folds one event in and reports whether the asset's freshness inputs
// changed, so the loop knows which assets to re-evaluate:
//   - materialization: a success, with its data_time (else the
//     DagsterLastUpdatedKey metadata), upstream list and DurationKey
//     metadata when present; its partition, when set, is recorded (see
//     SetPartitions); its run_id ends that run in flight;
//   - observation: a success with its data_time (or DagsterLastUpdatedKey)
//     when it reports one; without, a probe, which sets the data time of a
//     source asset only (no dependencies, no materialize command);
//   - materialization_failed: moves the last failure time forward; it does
//     not touch the successes, so the data time still comes from the
//     previous success; its run_id ends that run in flight;
//   - run_started with a run_id: a run of the asset in flight, until a
//     materialization or failure of the asset with that run_id, or a
//     run_succeeded, run_failed or run_canceled with it (any asset: see
//     ApplyTo, which reports every asset such an end changes);
//   - every event moves the asset's first-seen time back (the start of an
//     UNKNOWN asset's grace period);
//   - an event without asset or time, a replayed event id, or a success
//     older than a truncated window: no change (the store answers for it).
//
// An upstream list that is empty is the same as none: the graph's parents.
// A DurationKey value that is not a finite, non-negative number is ignored
// rather than dropping the materialization (ingest validates metadata).
func (t *Tracker) Apply(e asset.Event) bool {
	var buf [1]asset.Key
	return len(t.ApplyTo(e, buf[:0])) > 0
}

// ApplyTo is Apply reporting every asset whose inputs changed, appended to
// changed: a run's end changes each asset the run had in flight.
func (t *Tracker) ApplyTo(e asset.Event, changed []asset.Key) []asset.Key {
	c := NewChange(&e)
	return t.ApplyChange(&c, changed)
}

// Change is an event reduced to what a Tracker reads from it. A loop that
// queues events between passes holds Changes: they keep neither the
// event's id string nor its metadata (a map, for every event that has
// any), so a backlog costs a fraction of the events' memory.
type Change struct {
	asset     asset.Key
	time      time.Time
	partition string     // a materialization's
	run       uint64     // hash of the run id, 0 for none
	x         Success    // a materialization's or observation's entry
	kind      changeKind // what Apply does with it
}

type changeKind uint8

const (
	changeSeen changeKind = iota // any other kind: only its time counts (first seen)
	changeMaterialization
	changeObservation
	changeFailure
	changeRunStarted
	changeRunEnded
)

// NewChange reduces e to what ApplyChange reads.
func NewChange(e *asset.Event) Change {
	c := Change{asset: e.Asset, time: e.Time, run: hashID(e.RunID)}
	switch e.Kind {
	case asset.KindMaterialization:
		c.kind, c.partition, c.x = changeMaterialization, e.Partition, successOf(e)
	case asset.KindObservation:
		c.kind, c.x = changeObservation, successOf(e)
	case asset.KindMaterializationFailed:
		c.kind = changeFailure
	case asset.KindRunStarted:
		c.kind = changeRunStarted
	case asset.KindRunSucceeded, asset.KindRunFailed, asset.KindRunCanceled:
		c.kind = changeRunEnded
	}
	return c
}

// Asset is the asset of the event the change comes from.
func (c *Change) Asset() asset.Key { return c.asset }

// ApplyChange is ApplyTo for an event reduced by NewChange: the same
// state, and the same assets reported.
func (t *Tracker) ApplyChange(c *Change, changed []asset.Key) []asset.Key {
	return t.applyChange(c, changed, false)
}

// ApplyChanges is ApplyChange for each of cs in order, appending each
// asset whose inputs changed once, however many of cs changed it (a pass
// under heavy ingest applies several events of most assets). Assets
// already in changed may be appended again.
func (t *Tracker) ApplyChanges(cs []Change, changed []asset.Key) []asset.Key {
	clear(t.reported)
	t.reported = t.reported[:0]
	t.round++
	if t.round == 0 { // wrapped: forget every asset's round
		for _, s := range t.states {
			s.round = 0
		}
		t.round = 1
	}
	for i := range cs {
		changed = t.applyChange(&cs[i], changed, true)
	}
	return changed
}

// report appends k, whose state is s, to changed: once per round when
// once is set, else unless changed holds it.
func (t *Tracker) report(changed []asset.Key, k asset.Key, s *AssetState, once bool) []asset.Key {
	if !once {
		return appendKey(changed, k)
	}
	if s.round == t.round {
		return changed
	}
	s.round = t.round
	t.reported = append(t.reported, s)
	return append(changed, k)
}

// Reported returns the states of the assets the last ApplyChanges
// appended, in the same order: their latest successes without a lookup
// each. The slice is the tracker's, valid until the next ApplyChanges.
func (t *Tracker) Reported() []*AssetState { return t.reported }

func (t *Tracker) applyChange(c *Change, changed []asset.Key, once bool) []asset.Key {
	if c.asset == "" || c.time.IsZero() {
		return changed
	}
	s := t.get(c.asset)
	mark := func(ok bool) {
		if ok {
			changed = t.report(changed, c.asset, s, once)
		}
	}
	mark(s.seen(c.time.UnixNano()))
	switch c.kind {
	case changeMaterialization, changeObservation:
		if c.kind == changeMaterialization {
			mark(t.endRunOf(c.asset, s, c.run))
			if c.partition != "" {
				mark(s.recordPartition(c.partition, c.time.UnixNano()))
			}
		}
		if !s.insert(c.x) {
			return changed
		}
		if c.kind == changeObservation && c.time.After(s.lastObservation) {
			s.lastObservation = c.time.UTC()
		}
		mark(true)
	case changeFailure:
		mark(t.endRunOf(c.asset, s, c.run))
		if c.time.After(s.lastFailure) {
			s.lastFailure = c.time.UTC()
			mark(true)
		}
	case changeRunStarted, changeRunEnded:
		if c.run != 0 {
			changed = t.applyRun(c, changed, once)
		}
	}
	return changed
}

func (s *AssetState) seen(at int64) bool {
	if s.firstSeen != 0 && s.firstSeen <= at {
		return false
	}
	s.firstSeen = at
	return true
}

// successOf converts a materialization or observation.
func successOf(e *asset.Event) Success {
	x := Success{at: e.Time.UnixNano(), id: hashID(e.ID)}
	if e.DataTime != nil {
		x.dataTime, x.hasDataTime = e.DataTime.UnixNano(), true
	} else if dt, ok := dagsterDataTime(e.Metadata); ok {
		x.dataTime, x.hasDataTime = dt, true
	}
	if e.Kind == asset.KindObservation {
		x.observation = true
	} else {
		x.duration = int64(runDuration(e.Metadata))
		if len(e.Upstream) > 0 {
			x.upstream = append([]asset.Key(nil), e.Upstream...)
		}
	}
	return x
}

// dagsterDataTime reads DagsterLastUpdatedKey as Unix nanoseconds.
func dagsterDataTime(m asset.Metadata) (int64, bool) {
	// Within Unix nanoseconds' range (1678 to 2262), and after 1970.
	secs, ok := positiveSeconds(m, DagsterLastUpdatedKey, 9e9)
	if !ok {
		return 0, false
	}
	return int64(secs * 1e9), true
}

// positiveSeconds reads a metadata number of seconds: a finite value in
// (0, max], whether written as an int or a float.
func positiveSeconds(m asset.Metadata, key string, max float64) (float64, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	var secs float64
	switch v.Type {
	case asset.MetaFloat:
		secs = v.Float
	case asset.MetaInt:
		secs = float64(v.Int)
	default:
		return 0, false
	}
	if math.IsNaN(secs) || secs <= 0 || secs > max {
		return 0, false
	}
	return secs, true
}

// Seen moves the asset's first-seen time back to at: the loop calls it for
// an asset with a policy that has no event yet, at the evaluation that
// records its first state (so the store's first event of the asset has
// that time, and a restart finds the same). It reports whether it changed.
func (t *Tracker) Seen(k asset.Key, at time.Time) bool { return t.get(k).seen(at.UnixNano()) }

// FirstSeen is the asset's first-seen time, zero if none.
func (t *Tracker) FirstSeen(k asset.Key) time.Time {
	if s := t.states[k]; s != nil && s.firstSeen != 0 {
		return time.Unix(0, s.firstSeen).UTC()
	}
	return time.Time{}
}

// Truncate records that the asset's successes before from may be missing
// from memory: its history was seeded from the latest events only, or
// reloaded as the latest N after a restart. It reports whether it changed.
func (t *Tracker) Truncate(k asset.Key, from time.Time) bool {
	return t.get(k).truncate(from.UnixNano())
}

// Pin adds successes fetched from the store: events must be every
// materialization and observation of k with from <= time <= to (from zero:
// since the beginning), as the answer to a Miss. Pinned entries stay while
// an evaluation reads them (see DropUnused).
func (t *Tracker) Pin(k asset.Key, events []asset.Event, from, to time.Time) {
	xs := make([]Success, 0, len(events))
	for i := range events {
		e := &events[i]
		if e.Kind != asset.KindMaterialization && e.Kind != asset.KindObservation {
			continue
		}
		xs = append(xs, successOf(e))
	}
	lo := int64(math.MinInt64)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if hi := to.UnixNano(); lo <= hi {
		t.get(k).pin(xs, lo, hi)
		t.pins[k] = true
	}
}

// SetFirstMaterialization tells the tracker when k first materialized (the
// answer to a Miss with First set).
func (t *Tracker) SetFirstMaterialization(k asset.Key, at time.Time) {
	t.get(k).firstMat = at.UnixNano()
}

// DropUnused forgets the pinned entries no evaluation read since the last
// call. Call it after a full pass (which reads everything it needs), so
// memory follows what the current histories reference, not the event log.
func (t *Tracker) DropUnused() {
	for k := range t.pins {
		s := t.states[k]
		s.dropUnused()
		if len(s.spans) == 0 {
			delete(t.pins, k)
		}
	}
}

// runDuration reads DurationKey, zero when absent or unusable.
func runDuration(m asset.Metadata) time.Duration {
	// A year bounds any real run and keeps the conversion far from overflow.
	secs, ok := positiveSeconds(m, DurationKey, 366*24*3600)
	if !ok {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

// hashID is FNV-1a (hash/fnv's New64a), written out: two per event on the
// ingest path, and the hash.Hash64 way copies the id into a byte slice.
func hashID(id string) uint64 {
	if id == "" {
		return 0
	}
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	if h != 0 {
		return h
	}
	return 1
}
