package freshness

import (
	"hash/fnv"
	"math"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// DurationKey is the metadata name of a run's duration in seconds (a float
// or an int) on a materialization event. The executor sets it; external
// orchestrators may. It moves the run's start earlier (upstream data that
// landed while the run was going was not read) and feeds AT_RISK predictions.
const DurationKey = "duration_s"

// Tracker folds events into per-asset freshness state. It is the incremental
// half of the pure core: the evaluator reads what it builds.
//
// A Tracker is not safe for concurrent use: the freshness loop owns it and
// applies events and evaluates from one goroutine.
type Tracker struct {
	states map[asset.Key]*AssetState
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{states: make(map[asset.Key]*AssetState)} }

// State returns the asset's state, nil if nothing is known about it.
func (t *Tracker) State(k asset.Key) *AssetState { return t.states[k] }

// Len is the number of assets with state.
func (t *Tracker) Len() int { return len(t.states) }

func (t *Tracker) get(k asset.Key) *AssetState {
	s := t.states[k]
	if s == nil {
		s = &AssetState{}
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
//   - materialization: a success, with its data_time, upstream list and
//     DurationKey metadata when present;
//   - observation: a success of an external asset whose data time is the
//     reported data_time, else the observation's own time;
//   - materialization_failed: moves the last failure time forward; it does
//     not touch the successes, so the data time still comes from the
//     previous success;
//   - any other kind, an event without asset or time, a replayed event id,
//     or a success older than a full history: no change.
//
// An upstream list that is empty is the same as none: the graph's parents.
// A DurationKey value that is not a finite, non-negative number is ignored
// rather than dropping the materialization (ingest validates metadata).
func (t *Tracker) Apply(e asset.Event) bool {
	if e.Asset == "" || e.Time.IsZero() {
		return false
	}
	switch e.Kind {
	case asset.KindMaterialization, asset.KindObservation:
		x := Success{at: e.Time.UnixNano(), id: hashID(e.ID)}
		if e.DataTime != nil {
			x.dataTime, x.hasDataTime = e.DataTime.UnixNano(), true
		}
		if e.Kind == asset.KindObservation {
			x.observation = true
		} else {
			x.duration = int64(runDuration(e.Metadata))
			if len(e.Upstream) > 0 {
				x.upstream = append([]asset.Key(nil), e.Upstream...)
			}
		}
		s := t.get(e.Asset)
		if !s.insert(x) {
			return false
		}
		if x.observation && e.Time.After(s.lastObservation) {
			s.lastObservation = e.Time.UTC()
		}
		return true
	case asset.KindMaterializationFailed:
		s := t.get(e.Asset)
		if !e.Time.After(s.lastFailure) {
			return false
		}
		s.lastFailure = e.Time.UTC()
		return true
	}
	return false
}

// runDuration reads DurationKey, zero when absent or unusable.
func runDuration(m asset.Metadata) time.Duration {
	v, ok := m[DurationKey]
	if !ok {
		return 0
	}
	var secs float64
	switch v.Type {
	case asset.MetaFloat:
		secs = v.Float
	case asset.MetaInt:
		secs = float64(v.Int)
	default:
		return 0
	}
	// A year bounds any real run and keeps the conversion far from overflow.
	if math.IsNaN(secs) || secs <= 0 || secs > 366*24*3600 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

func hashID(id string) uint64 {
	if id == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	if v := h.Sum64(); v != 0 {
		return v
	}
	return 1
}
