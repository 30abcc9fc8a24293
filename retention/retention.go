// Package retention removes history older than the configured windows
// from the store, on a timer: events (keeping the latest of each kind per
// asset, check and partition, see store.Trimmer) and run output lines.
//
// It promises: nothing is removed unless a window is configured (the
// default keeps everything); a pass never removes an event that is the
// latest of its group, so the catalog and freshness read the same latest
// state after it (docs/operations.md, "Retention"); a failed pass is
// logged and counted and retried at the next tick, never fatal; each pass
// logs one line with what it removed.
//
// It refuses: run records, alert deliveries and incidents (small: one row
// per run or notification) are not trimmed; windows shorter than
// MinWindow.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// MinWindow is the shortest window accepted: shorter would trim history
// freshness may still be reading for a run in flight.
const MinWindow = 24 * time.Hour

// DefaultInterval is how often a pass runs.
const DefaultInterval = time.Hour

// Windows says how long each kind of history is kept; zero keeps it
// forever.
type Windows struct {
	Events  time.Duration
	RunLogs time.Duration
}

// Enabled reports whether any window is set.
func (w Windows) Enabled() bool { return w.Events > 0 || w.RunLogs > 0 }

// Validate names the first window that is set but shorter than MinWindow.
func (w Windows) Validate() error {
	for _, c := range []struct {
		name string
		d    time.Duration
	}{{"events", w.Events}, {"run_logs", w.RunLogs}} {
		if c.d < 0 || c.d > 0 && c.d < MinWindow {
			return fmt.Errorf("retention %s: %s is shorter than the minimum %s", c.name, c.d, MinWindow)
		}
	}
	return nil
}

// Options configure a Retainer.
type Options struct {
	Windows  Windows
	Interval time.Duration // between passes; 0: DefaultInterval
	Logger   *slog.Logger  // nil: slog.Default()
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time
	// Removed, when set, is told the events each pass removed, by asset
	// and kind (the catalog lowers its counts).
	Removed func(map[asset.Key]map[asset.Kind]int64)
	// Outlived, when set, names the freshness policies that look back
	// further than the events window (max_lag or grace longer): the file
	// check cannot see policies set through the API. Each pass logs a
	// warning naming them; it trims all the same.
	Outlived func(window time.Duration) []string
}

// Retainer runs retention passes over one store.
type Retainer struct {
	st   store.Trimmer
	opts Options

	removed *prometheus.CounterVec
	parts   *prometheus.CounterVec
	kept    prometheus.Gauge
	passes  *prometheus.CounterVec
	seconds prometheus.Histogram
	last    prometheus.Gauge
}

// New returns a Retainer for st.
func New(st store.Trimmer, opts Options) (*Retainer, error) {
	if err := opts.Windows.Validate(); err != nil {
		return nil, err
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Retainer{st: st, opts: opts,
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_retention_removed_rows_total",
			Help: "Rows retention removed from the store, by table: events or run_logs."}, []string{"table"}),
		parts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_retention_removed_partitions_total",
			Help: "Monthly partitions retention dropped or replaced by their kept rows (ClickHouse), by table."}, []string{"table"}),
		kept: prometheus.NewGauge(prometheus.GaugeOpts{Name: "freshet_retention_kept_rows",
			Help: "Events older than the window the last pass kept: the latest of their group (asset, kind, check, partition), or an asset's first event or materialization."}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_retention_passes_total",
			Help: "Retention passes by outcome: ok or error."}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "freshet_retention_pass_seconds",
			Help: "Duration of a retention pass.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Name: "freshet_retention_last_success_timestamp_seconds",
			Help: "Unix time of the end of the last retention pass that succeeded, 0 before the first."}),
	}
	for _, t := range []string{"events", "run_logs"} {
		r.removed.WithLabelValues(t)
		r.parts.WithLabelValues(t)
	}
	r.passes.WithLabelValues("ok")
	r.passes.WithLabelValues("error")
	return r, nil
}

// Collectors returns the metrics to register.
func (r *Retainer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.removed, r.parts, r.kept, r.passes, r.seconds, r.last}
}

// Run runs a pass now and then every Interval until ctx ends. A failed
// pass is logged and retried at the next tick. It returns nil when ctx
// ends, and at once when no window is set.
func (r *Retainer) Run(ctx context.Context) error {
	if !r.opts.Windows.Enabled() {
		return nil
	}
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Error("retention pass failed; retrying at the next tick", "err", err, "next_in", r.opts.Interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Result is what one pass removed.
type Result struct {
	Events, RunLogs store.Trimmed
}

// Pass trims every kind of history whose window is set, once.
func (r *Retainer) Pass(ctx context.Context) (Result, error) {
	start := r.opts.Now()
	var (
		res  Result
		errs []error
	)
	w := r.opts.Windows
	attrs := []any{}
	if w.Events > 0 && r.opts.Outlived != nil {
		if names := r.opts.Outlived(w.Events); len(names) > 0 {
			r.opts.Logger.Warn("freshness policies look back further than retention.events: their assets may show UNKNOWN instead of FAIL for up to their grace period (docs/operations.md, Retention)",
				"window", w.Events, "policies", len(names), "first", names[:min(len(names), 5)])
		}
	}
	if w.Events > 0 {
		cut := start.Add(-w.Events)
		tr, err := r.st.TrimEvents(ctx, cut)
		res.Events = tr
		r.record("events", tr)
		if r.opts.Removed != nil && len(tr.Removed) > 0 {
			r.opts.Removed(tr.Removed) // what was removed, also when the trim failed halfway
		}
		if err != nil {
			errs = append(errs, err)
		}
		attrs = append(attrs, "events_before", cut.UTC().Format(time.RFC3339), "events_removed", tr.Rows,
			"events_kept", tr.Kept, "event_partitions", tr.Partitions)
	}
	if w.RunLogs > 0 {
		cut := start.Add(-w.RunLogs)
		tr, err := r.st.TrimRunLogs(ctx, cut)
		res.RunLogs = tr
		r.record("run_logs", tr)
		if err != nil {
			errs = append(errs, err)
		}
		attrs = append(attrs, "run_logs_before", cut.UTC().Format(time.RFC3339), "run_log_lines_removed", tr.Rows,
			"run_log_partitions", tr.Partitions)
	}
	took := r.opts.Now().Sub(start)
	r.seconds.Observe(took.Seconds())
	err := errors.Join(errs...)
	attrs = append(attrs, "took", took)
	if err != nil {
		r.passes.WithLabelValues("error").Inc()
		r.opts.Logger.Warn("retention pass", append(attrs, "err", err)...)
		return res, err
	}
	r.passes.WithLabelValues("ok").Inc()
	r.last.Set(float64(r.opts.Now().Unix()))
	r.opts.Logger.Info("retention pass", attrs...)
	return res, nil
}

func (r *Retainer) record(table string, tr store.Trimmed) {
	r.removed.WithLabelValues(table).Add(float64(tr.Rows))
	r.parts.WithLabelValues(table).Add(float64(tr.Partitions))
	if table == "events" {
		r.kept.Set(float64(tr.Kept))
	}
}
