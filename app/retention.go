package app

import (
	"context"
	"fmt"
	"slices"
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

// retain runs the retention passes until ctx ends.
func (a *App) retain(ctx context.Context) {
	defer close(a.retainDone)
	if a.retainer != nil {
		_ = a.retainer.Run(ctx) // logs its own failures; returns nil
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
