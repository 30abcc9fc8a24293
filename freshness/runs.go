package freshness

import (
	"cmp"
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Runs in flight. A run_started event with an asset and a run_id starts a
// run of that asset; the asset's materialization or materialization_failed
// with the same run_id ends it, and so does a run_succeeded, run_failed or
// run_canceled event with that run_id (whatever its asset: a run covers
// every asset it builds). AT_RISK uses a run in flight to predict when the
// asset lands: start + run estimate (docs/freshness.md, "AT_RISK").

// maxInFlight bounds the runs in flight kept per asset (the newest win):
// a run_started whose end was lost must not grow memory.
const maxInFlight = 8

// endedRing is how many recently ended run ids an asset remembers, so
// that a run_started applied after its end (a restart reloads the end
// first) does not start a run that is over.
const endedRing = 8

type inflight struct {
	run uint64 // hash of the run id
	at  int64  // run_started time, Unix ns
}

// startRun records a run in flight; false if it is known or already ended.
func (s *AssetState) startRun(run uint64, at int64) bool {
	if slices.Contains(s.ended[:], run) || slices.ContainsFunc(s.running, func(r inflight) bool { return r.run == run }) {
		return false
	}
	s.running = append(s.running, inflight{run: run, at: at})
	slices.SortFunc(s.running, func(a, b inflight) int { return cmp.Compare(a.at, b.at) })
	if len(s.running) > maxInFlight {
		s.running = slices.Delete(s.running, 0, 1)
	}
	return true
}

// endRun ends the run in flight with that id, remembering the id; it
// reports whether a run in flight ended.
func (s *AssetState) endRun(run uint64) bool {
	if !slices.Contains(s.ended[:], run) {
		s.ended[s.endedN%endedRing] = run
		s.endedN++
	}
	i := slices.IndexFunc(s.running, func(r inflight) bool { return r.run == run })
	if i < 0 {
		return false
	}
	s.running = slices.Delete(s.running, i, i+1)
	return true
}

// RunStarted is the start of the latest run in flight, zero if none.
func (s *AssetState) RunStarted() time.Time {
	if n := len(s.running); n > 0 {
		return time.Unix(0, s.running[n-1].at).UTC()
	}
	return time.Time{}
}

// applyRun folds a run lifecycle event in, appending the assets whose runs
// in flight changed.
func (t *Tracker) applyRun(c *Change, changed []asset.Key, once bool) []asset.Key {
	run := c.run
	if c.kind == changeRunStarted {
		s := t.get(c.asset)
		if s.startRun(run, c.time.UnixNano()) {
			t.runs[run] = appendKey(t.runs[run], c.asset)
			changed = t.report(changed, c.asset, s, once)
		}
		return changed
	}
	// A run's end: every asset it had in flight, and its own asset.
	if s := t.states[c.asset]; s != nil && s.endRun(run) {
		changed = t.report(changed, c.asset, s, once)
	}
	for _, k := range t.runs[run] {
		if s := t.states[k]; s.endRun(run) {
			changed = t.report(changed, k, s, once)
		}
	}
	delete(t.runs, run)
	return changed
}

// endRunOf ends k's run in flight that a materialization or failure with
// that run id (hash; 0 for none) reports.
func (t *Tracker) endRunOf(k asset.Key, s *AssetState, run uint64) bool {
	if run == 0 {
		return false
	}
	if !s.endRun(run) {
		return false
	}
	if ks := t.runs[run]; ks != nil {
		ks = slices.DeleteFunc(ks, func(x asset.Key) bool { return x == k })
		if len(ks) == 0 {
			delete(t.runs, run)
		} else {
			t.runs[run] = ks
		}
	}
	return true
}

func appendKey(ks []asset.Key, k asset.Key) []asset.Key {
	if slices.Contains(ks, k) {
		return ks
	}
	return append(ks, k)
}
