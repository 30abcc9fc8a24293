package app

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/retention"
	"github.com/freshet-dev/freshet/store"
)

// openRetention sets up the retention passes the definitions ask for
// (none by default). With several servers on one ClickHouse the leader
// runs them (app/cluster.go).
func (a *App) openRetention(cfg Config) error {
	var r retention.Options
	if cfg.Definitions != nil {
		d := cfg.Definitions.Retention
		r = retention.Options{Windows: retention.Windows{Events: d.Events, RunLogs: d.RunLogs}, Interval: d.Interval}
	}
	if !r.Windows.Enabled() {
		return nil
	}
	tr, ok := a.store.(store.Trimmer)
	if !ok {
		return fmt.Errorf("retention: the %T store cannot remove history", a.store)
	}
	r.Logger = cfg.Logger
	r.Removed = a.catalog.Forget
	r.Outlived = a.outlivedPolicies
	ret, err := retention.New(tr, r)
	if err != nil {
		return err
	}
	a.retainer = ret
	return nil
}

// retain keeps the store's history bounded until ctx ends: the retention
// passes the definitions ask for, and the trim of the store's event log,
// which ClickHouse fills on every insert whether one server reads it or
// none (it grew without end under a single server before).
func (a *App) retain(ctx context.Context) {
	defer close(a.retainDone)
	var trimmed sync.WaitGroup
	if evlog, ok := a.store.(store.EventLog); ok {
		trimmed.Go(func() { a.trimLog(ctx, evlog) })
	}
	if a.retainer != nil {
		_ = a.retainer.Run(ctx) // logs its own failures; returns nil
	}
	trimmed.Wait()
}

// logKeep is how long the store's event log is kept: far more than any
// follower's overlap, so a server that was down reads the rest from the
// rebuild when it starts.
const logKeep = 24 * time.Hour

// trimLog drops the event log's days older than logKeep, hourly.
func (a *App) trimLog(ctx context.Context, evlog store.EventLog) {
	for {
		if err := evlog.TrimLog(ctx, time.Now().Add(-logKeep)); err != nil && ctx.Err() == nil {
			a.log.Warn("trimming the store's event log failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// outlivedPolicies names the assets whose freshness policy (from the file
// or the API) has a max_lag or grace longer than window, sorted.
func (a *App) outlivedPolicies(window time.Duration) []string {
	var out []string
	for k := range a.monitor.Snapshot().Results {
		e, ok := a.monitor.Effective(k)
		if !ok {
			continue
		}
		if p := e.Policy; p.MaxLag > window || p.Grace > window {
			out = append(out, fmt.Sprintf("%s (%s: max_lag %s, grace %s)", k, e.Source,
				asset.FormatDuration(p.MaxLag), asset.FormatDuration(p.Grace)))
		}
	}
	slices.Sort(out)
	return out
}
