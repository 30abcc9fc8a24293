package freshness

import (
	"context"
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// eventLog is a History over every event applied, standing in for the
// store: the tests' tracker only keeps what its windows hold.
type eventLog struct {
	events []asset.Event
	asked  int // questions answered, to check that memory answers most
}

func (l *eventLog) add(e asset.Event) { l.events = append(l.events, e) }

// logBefore orders events as the evaluator does: (time, id hash).
func logBefore(a, b *asset.Event) bool {
	return a.Time.Before(b.Time) || a.Time.Equal(b.Time) && hashID(a.ID) < hashID(b.ID)
}

func (l *eventLog) SuccessesBefore(_ context.Context, k asset.Key, until time.Time, limit int) ([]asset.Event, bool, error) {
	l.asked++
	var out []asset.Event
	for _, e := range l.events {
		if e.Asset == k && (e.Kind == asset.KindMaterialization || e.Kind == asset.KindObservation) && !e.Time.After(until) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b asset.Event) int {
		if logBefore(&a, &b) {
			return 1
		}
		if logBefore(&b, &a) {
			return -1
		}
		return 0
	})
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

func (l *eventLog) FirstMaterialization(_ context.Context, k asset.Key) (time.Time, error) {
	l.asked++
	var first time.Time
	for _, e := range l.events {
		if e.Asset == k && e.Kind == asset.KindMaterialization && (first.IsZero() || e.Time.Before(first)) {
			first = e.Time
		}
	}
	return first, nil
}
