package freshness

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Miss is a question a pass could not answer from memory. The assets whose
// result depends on it are left out of that pass's results until the
// answer is pinned (Resolve) and they are re-evaluated.
type Miss struct {
	Asset asset.Key
	// At: the asset's successes at or before At are needed (its latest one
	// before a dependent's run started fell before its window).
	At time.Time
	// First: the asset's first materialization is needed instead (the
	// start of an UNKNOWN asset's grace period, when its window is truncated).
	First bool
}

// History answers misses from the event log (the store).
type History interface {
	// SuccessesBefore returns k's materializations and observations with
	// time <= until, newest first ((time, id) order), at most limit, and
	// whether older ones exist.
	SuccessesBefore(ctx context.Context, k asset.Key, until time.Time, limit int) (events []asset.Event, more bool, err error)
	// FirstMaterialization returns the time of k's first materialization,
	// zero if it has none.
	FirstMaterialization(ctx context.Context, k asset.Key) (time.Time, error)
}

// ResolvePage is how many successes Resolve asks for per miss.
const ResolvePage = 64

// Resolve answers misses from h and pins the answers in t. It returns the
// assets it changed: pass them to Evaluator.Reevaluate.
func Resolve(ctx context.Context, t *Tracker, misses []Miss, h History) ([]asset.Key, error) {
	var changed []asset.Key
	done := make(map[Miss]bool, len(misses))
	for _, m := range misses {
		if done[m] {
			continue
		}
		done[m] = true
		if m.First {
			at, err := h.FirstMaterialization(ctx, m.Asset)
			if err != nil {
				return changed, fmt.Errorf("first materialization of %s: %w", m.Asset, err)
			}
			if at.IsZero() {
				continue // none: nothing to pin (the evaluator will not ask again for a non-materialized asset)
			}
			t.SetFirstMaterialization(m.Asset, at)
		} else {
			evs, more, err := h.SuccessesBefore(ctx, m.Asset, m.At, ResolvePage)
			if err != nil {
				return changed, fmt.Errorf("history of %s before %s: %w", m.Asset, m.At.UTC().Format(time.RFC3339Nano), err)
			}
			var from time.Time
			if more && len(evs) > 0 {
				// The page is complete after its oldest entry's time; at
				// that time itself an entry with a smaller id may be cut.
				from = evs[len(evs)-1].Time.Add(time.Nanosecond)
			} else if more {
				continue
			}
			t.Pin(m.Asset, evs, from, m.At)
		}
		if !slices.Contains(changed, m.Asset) {
			changed = append(changed, m.Asset)
		}
	}
	return changed, nil
}

// Settle answers the misses of the pass that produced results from h and
// re-evaluates what they held up, at most rounds times (each round may
// uncover older misses: a fetched success has dependencies of its own). It
// returns results with the new ones merged in by key, the assets whose
// state it changed (an incremental evaluator sharing the tracker must be
// told), and the misses still open; their assets have no result.
func (e *Evaluator) Settle(ctx context.Context, results []Result, now time.Time, t *Tracker, h History, rounds int) ([]Result, []asset.Key, []Miss, error) {
	var touched []asset.Key
	misses := e.Misses()
	for r := 0; r < rounds && len(misses) > 0; r++ {
		changed, err := Resolve(ctx, t, misses, h)
		touched = append(touched, changed...)
		if err != nil {
			return results, touched, misses, err
		}
		if len(changed) == 0 {
			break
		}
		at := make(map[asset.Key]int, len(results))
		for i := range results {
			at[results[i].Key] = i
		}
		for _, res := range e.Reevaluate(nil, now, t, changed) {
			if i, ok := at[res.Key]; ok {
				results[i] = res
			} else {
				results = append(results, res)
			}
		}
		misses = e.Misses()
	}
	return results, touched, misses, nil
}
