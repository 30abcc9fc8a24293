// Package store defines what Freshet needs from an event store. The
// implementations live in store/embedded (bbolt, the default) and
// store/clickhouse; store/storetest is the conformance suite both pass.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Store keeps events (append-only, idempotent by event ID) and asset specs.
// Implementations are safe for concurrent use.
type Store interface {
	// AppendEvents stores a batch and returns the events it added: those
	// whose ID it did not hold yet, in batch order. The first stored copy
	// of an ID wins for good: a later copy, even within the batch and even
	// if it differs (a client retry without a time is stamped anew at
	// ingest), is ignored, so replays and retries are safe and the caller
	// can count exactly. Every event must carry an ID, a kind, an asset and
	// a time (the ingest layer assigns what the client left out; see
	// CheckComplete).
	AppendEvents(ctx context.Context, events []asset.Event) (added []asset.Event, err error)
	// Events pages through history, newest first unless q.Ascending.
	Events(ctx context.Context, q EventQuery) (EventPage, error)
	// Summaries returns the latest state of every asset that has events,
	// computed by the store (aggregates, not a scan in the caller).
	Summaries(ctx context.Context) ([]Summary, error)
	// RecentSuccesses returns, for every asset, its latest perAsset
	// materializations and observations (each id once), grouped by asset
	// and newest first within an asset: the history freshness evaluation
	// needs after a restart.
	RecentSuccesses(ctx context.Context, perAsset int) ([]asset.Event, error)
	// ObservedEdges returns the distinct lineage edges events reported
	// through their upstream field.
	ObservedEdges(ctx context.Context) ([]asset.Edge, error)
	// PutSpecs inserts or replaces specs by key.
	PutSpecs(ctx context.Context, specs []asset.Spec) error
	// Specs returns all specs sorted by key.
	Specs(ctx context.Context) ([]asset.Spec, error)
	// Ping reports whether the store is reachable and working.
	Ping(ctx context.Context) error
	Close() error
}

// Default and maximum page sizes for Events.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// EventQuery selects events. Zero fields do not filter.
type EventQuery struct {
	Asset     asset.Key
	Kinds     []asset.Kind
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	Cursor    string    // from a previous page's Next
	Limit     int       // 0 means DefaultLimit; capped at MaxLimit
	Ascending bool
}

// EventPage is one page of events. Next is empty on the last page.
// Events are ordered by (Time, ID); the cursor resumes strictly after the
// last event returned, so pages never overlap even when times tie.
type EventPage struct {
	Events []asset.Event
	Next   string
}

// Summary is the latest state of one asset. "Latest" means greatest
// (Time, ID).
type Summary struct {
	Asset               asset.Key
	LastMaterialization *asset.Event
	LastFailure         *asset.Event // latest materialization_failed
	LastObservation     *asset.Event
	LastChecks          []asset.Event // latest check_result per check name, sorted by name
	LastFreshness       *asset.Event  // latest freshness_changed: the state last recorded
	LastPolicyChange    *asset.Event  // latest freshness_policy_changed: the SLA set through the API
	Counts              map[asset.Kind]int64
	FirstTime           time.Time
	LastTime            time.Time
}

// CheckComplete returns an error naming the first event that lacks an ID,
// a kind, an asset or a time: the fields every store needs.
func CheckComplete(events []asset.Event) error {
	for i := range events {
		e := &events[i]
		var missing string
		switch {
		case e.ID == "":
			missing = "id"
		case e.Kind == "":
			missing = "kind"
		case e.Asset == "":
			missing = "asset"
		case e.Time.IsZero():
			missing = "time"
		default:
			continue
		}
		return fmt.Errorf("event %d (id %q) is incomplete: missing %s", i, e.ID, missing)
	}
	return nil
}

// ErrBadCursor is returned when a cursor was not produced by the store.
var ErrBadCursor = errors.New("invalid cursor")

// EffectiveLimit applies the default and the cap.
func (q EventQuery) EffectiveLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxLimit:
		return MaxLimit
	default:
		return q.Limit
	}
}
