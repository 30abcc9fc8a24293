package freshness

import (
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// HistoryLen bounds the successes kept per asset. Data time needs, for each
// upstream, its latest success before a downstream run started; sixteen
// covers an upstream that refreshes hourly under a downstream rebuilt every
// sixteen hours. When the right one has been evicted the dependency is
// skipped (see docs/freshness.md), which can only make a data time later,
// and never later than the run's own time.
const HistoryLen = 16

// Success is one successful materialization, or an observation of an
// external asset, as kept in an asset's history. Times are stored as Unix
// nanoseconds to keep the history compact (64 bytes an entry).
type Success struct {
	at, dataTime, duration int64
	upstream               []asset.Key
	id                     uint64 // hash of the event id, for idempotent replays
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

// AssetState is what freshness knows about one asset: a bounded history of
// successes, the latest failure, and what a rebuild costs. Build it with a
// Tracker; the evaluator only reads it.
type AssetState struct {
	successes       []Success // by time, oldest first, at most HistoryLen
	lastFailure     time.Time
	lastObservation time.Time
	materializable  bool
	runEstimate     time.Duration
}

// Successes returns the history, oldest first. The slice is the state's
// own; do not modify it.
func (s *AssetState) Successes() []Success { return s.successes }

// Latest returns the most recent success.
func (s *AssetState) Latest() (Success, bool) {
	if len(s.successes) == 0 {
		return Success{}, false
	}
	return s.successes[len(s.successes)-1], true
}

// LastFailure is the time of the latest materialization_failed event, zero if none.
func (s *AssetState) LastFailure() time.Time { return s.lastFailure }

// LastObservation is the time of the latest observation, zero if none.
func (s *AssetState) LastObservation() time.Time { return s.lastObservation }

// Materializable reports whether the asset has a materialize command.
func (s *AssetState) Materializable() bool { return s.materializable }

// RunEstimate is the median (nearest-rank p50) of the run durations in the
// history, zero when none is known. The median rather than the max keeps one
// slow outlier from raising AT_RISK on every evaluation.
func (s *AssetState) RunEstimate() time.Duration { return s.runEstimate }

// RunDurations returns the known run durations in the history, oldest first.
func (s *AssetState) RunDurations() []time.Duration {
	var out []time.Duration
	for i := range s.successes {
		if d := s.successes[i].duration; d > 0 {
			out = append(out, time.Duration(d))
		}
	}
	return out
}

// insert adds x in time order (after entries with the same time), evicting
// the oldest entry when full. It reports false for a replayed id or for an
// entry older than a full history.
func (s *AssetState) insert(x Success) bool {
	if x.id != 0 {
		for i := range s.successes {
			if s.successes[i].id == x.id {
				return false
			}
		}
	}
	pos := len(s.successes)
	for pos > 0 && s.successes[pos-1].at > x.at {
		pos--
	}
	if len(s.successes) >= HistoryLen {
		if pos == 0 {
			return false
		}
		s.successes = slices.Delete(s.successes, 0, 1)
		pos--
	}
	s.successes = slices.Insert(s.successes, pos, x)
	s.updateRunEstimate()
	return true
}

func (s *AssetState) updateRunEstimate() {
	var buf [HistoryLen]int64
	d := buf[:0]
	for i := range s.successes {
		if v := s.successes[i].duration; v > 0 {
			d = append(d, v)
		}
	}
	if len(d) == 0 {
		s.runEstimate = 0
		return
	}
	slices.Sort(d)
	s.runEstimate = time.Duration(d[(len(d)-1)/2])
}
