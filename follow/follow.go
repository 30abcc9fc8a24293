// Package follow keeps a server's in-memory state current with the events
// other servers stored in a store they share: each Freshet replica ingests
// into its own write-ahead log and the one ClickHouse, and learns what the
// others stored by reading the store's event log (store.EventLog).
//
// The log is stamped by the store's clock in whole seconds, and an insert
// becomes visible some time after its stamp (a large batch, a replica
// that is behind), so each poll reads again the last Overlap of the log
// and skips the ids it has seen: an event is missed only if it becomes
// visible more than Overlap after its stamp.
package follow

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// Log is what the follower reads (store.EventLog without the trim).
type Log interface {
	Logged(ctx context.Context, since time.Time, after *store.LogEntry, limit int) ([]store.LogEntry, error)
	LoggedEvents(ctx context.Context, entries []store.LogEntry) ([]asset.Event, error)
}

// Options tune a Follower. Zero values take the defaults.
type Options struct {
	// Interval between polls (default 1s).
	Interval time.Duration
	// Overlap is how much of the log each poll reads again (default 10s,
	// at least 2s): the longest an insert may take to become visible where
	// this server reads, after the store stamped it.
	Overlap time.Duration
	// Page is how many log entries one query returns (default 10,000).
	Page   int
	Logger *slog.Logger
	// Apply receives the events other servers stored, in (time, id)
	// order, one batch per poll at most Page long.
	Apply func([]asset.Event)
	Now   func() time.Time
}

// Follower reads the log. Create it with New, call Prime before loading
// the state from the store, then Run.
type Follower struct {
	log  Log
	opts Options

	mu   sync.Mutex
	own  map[string]time.Time // ids this server ingests, by when it last heard of them
	seen map[string]time.Time // ids read from the log, by their stamp
	high time.Time            // the newest stamp read
	from time.Time            // where the first poll starts reading, until one reads an entry

	applied, skipped prometheus.Counter
	lag              prometheus.Gauge
}

// New returns a Follower of log.
func New(log Log, opts Options) *Follower {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Overlap <= 0 {
		opts.Overlap = 10 * time.Second
	}
	// The log's stamps have whole seconds: less than two would miss an
	// event stamped late in a second and seen early in the next.
	opts.Overlap = max(opts.Overlap, 2*time.Second)
	if opts.Page <= 0 {
		opts.Page = 10_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Follower{log: log, opts: opts, own: map[string]time.Time{}, seen: map[string]time.Time{},
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_follow_events_total",
			Help: "Events other servers stored that this server applied from the shared store's log."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_follow_own_events_total",
			Help: "Events read from the shared store's log that this server had ingested itself."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "freshet_follow_lag_seconds",
			Help: "Age of the newest log entry at the last poll that read one: how far behind the others this server may be."}),
	}
}

// Collectors are the follower's metrics.
func (f *Follower) Collectors() []prometheus.Collector {
	return []prometheus.Collector{f.applied, f.skipped, f.lag}
}

// Prime marks what the log holds now as seen, without applying it: call
// it just before loading the state from the store, which has those events
// already.
func (f *Follower) Prime(ctx context.Context) error {
	_, err := f.poll(ctx, false)
	return err
}

// Own tells the follower about events this server took: it shows them
// itself and skips them in the log. Call it before they can reach the
// store (the pipeline's observers run before its writer may take a
// batch), so no poll can see them first. An id is forgotten OwnHorizon
// after Own or Stored last named it.
func (f *Follower) Own(events []asset.Event) { f.touch(events) }

// Stored tells the follower that events this server ingested are in the
// store: they are forgotten OwnHorizon from now if no poll read them.
func (f *Follower) Stored(events []asset.Event) { f.touch(events) }

func (f *Follower) touch(events []asset.Event) {
	now := f.opts.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range events {
		f.own[events[i].ID] = now
	}
}

// OwnHorizon is how long an id of this server's is remembered without news
// of it: an event acknowledged here and stored more than this later (a
// store outage) and then read from the log would be shown twice.
const OwnHorizon = 15 * time.Minute

// Run polls the log until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	t := time.NewTicker(f.opts.Interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := f.poll(ctx, true)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				f.opts.Logger.Warn("following the shared store's log failed; retrying", "err", err)
			}
			failing = true
		case err == nil && failing:
			f.opts.Logger.Info("following the shared store's log again", "applied", n)
			failing = false
		}
	}
}

// poll reads the log from the newest stamp less the overlap, and applies
// (when apply) what it had not seen and this server did not ingest.
func (f *Follower) poll(ctx context.Context, apply bool) (int, error) {
	f.mu.Lock()
	since := f.high.Add(-f.opts.Overlap)
	if f.high.IsZero() {
		// Nothing read yet: from the first poll's time less the overlap,
		// and from there until an entry comes (not from a moving now, which
		// would pass over an entry that shows up late).
		if f.from.IsZero() {
			f.from = f.opts.Now().Add(-f.opts.Overlap)
		}
		since = f.from
	}
	f.mu.Unlock()
	applied := 0
	var after *store.LogEntry
	for {
		entries, err := f.log.Logged(ctx, since, after, f.opts.Page)
		if err != nil {
			return applied, fmt.Errorf("read the event log: %w", err)
		}
		fresh := f.sift(entries)
		if apply && len(fresh) > 0 {
			events, err := f.log.LoggedEvents(ctx, fresh)
			if err != nil {
				f.unsee(fresh) // read them again next time
				return applied, fmt.Errorf("read logged events: %w", err)
			}
			if len(events) < len(fresh) {
				// The view's insert into the log can be visible before
				// the events' own part: read those again next poll.
				f.unsee(missing(fresh, events))
			}
			slices.SortFunc(events, func(a, b asset.Event) int {
				return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.ID, b.ID))
			})
			if len(events) > 0 {
				f.opts.Apply(events)
				f.applied.Add(float64(len(events)))
				applied += len(events)
			}
		}
		if len(entries) < f.opts.Page {
			break
		}
		after = &entries[len(entries)-1]
	}
	f.forget(since)
	return applied, nil
}

// sift marks entries seen and returns those to apply.
func (f *Follower) sift(entries []store.LogEntry) []store.LogEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	var fresh []store.LogEntry
	for _, e := range entries {
		if e.Stored.After(f.high) {
			f.high = e.Stored
			f.lag.Set(max(0, f.opts.Now().Sub(e.Stored).Seconds()))
		}
		if _, ok := f.seen[e.ID]; ok {
			continue
		}
		f.seen[e.ID] = e.Stored
		if _, ok := f.own[e.ID]; ok {
			delete(f.own, e.ID)
			f.skipped.Inc()
			continue
		}
		fresh = append(fresh, e)
	}
	return fresh
}

func (f *Follower) unsee(entries []store.LogEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range entries {
		delete(f.seen, e.ID)
	}
}

// missing returns the entries whose event is not among events.
func missing(entries []store.LogEntry, events []asset.Event) []store.LogEntry {
	got := make(map[string]bool, len(events))
	for i := range events {
		got[events[i].ID] = true
	}
	var out []store.LogEntry
	for _, e := range entries {
		if !got[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// forget drops what no later poll can read again: seen ids stamped
// before since, and own ids not named for OwnHorizon.
func (f *Follower) forget(since time.Time) {
	horizon := f.opts.Now().Add(-max(OwnHorizon, 2*f.opts.Overlap))
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, t := range f.seen {
		if t.Before(since) {
			delete(f.seen, id)
		}
	}
	for id, t := range f.own {
		if t.Before(horizon) {
			delete(f.own, id)
		}
	}
}
