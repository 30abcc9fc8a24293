package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes the latest snapshot as per-asset gauges, the time of
// the latest pass and the histogram of pass durations. It reads the
// published snapshot at scrape time, so the gauges always match what the
// API shows and assets that lose their policy disappear.
type Collector struct {
	m                         *Monitor
	state, lag, success, pass *prometheus.Desc
	noAssets                  bool
}

func newPassHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: "freshet_freshness_evaluation_seconds",
		Help:    "Duration of freshness evaluation passes: event-driven ones (the changed assets' downstream) and full ones (every Interval), fetches of older history and recording of state changes included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)})
}

// WithoutAssets returns a collector that leaves out the per-asset series
// (freshet_asset_*), for catalogs too large to scrape them.
func (c *Collector) WithoutAssets() *Collector {
	cp := *c
	cp.noAssets = true
	return &cp
}

// Collector returns the monitor's Prometheus collector.
func (m *Monitor) Collector() *Collector {
	labels := []string{"asset", "group"}
	return &Collector{m: m,
		state: prometheus.NewDesc("freshet_asset_freshness_state",
			"Freshness state by severity: 0 PASS, 1 WARN, 2 AT_RISK, 3 UNKNOWN (never materialized, or built from a dependency that never was), 4 FAIL (also UNKNOWN past its grace period).", labels, nil),
		lag: prometheus.NewDesc("freshet_asset_freshness_lag_seconds",
			"Now minus the data time of the latest success (0 when UNKNOWN).", labels, nil),
		success: prometheus.NewDesc("freshet_asset_last_success_timestamp_seconds",
			"Unix time of the latest successful materialization or observation.", labels, nil),
		pass: prometheus.NewDesc("freshet_freshness_last_pass_timestamp_seconds",
			"Unix time of the latest completed evaluation pass: if it stops moving, states (and the alerts and runs that follow them) are stale.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.lag
	ch <- c.success
	ch <- c.pass
	c.m.passTime.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.m.passTime.Collect(ch)
	snap := c.m.Snapshot()
	if !snap.At.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.pass, prometheus.GaugeValue, float64(snap.At.UnixNano())/1e9)
	}
	if c.noAssets {
		return
	}
	for k, r := range snap.Results {
		group := snap.Groups[k]
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(r.State.Severity()), string(k), group)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, r.Lag.Seconds(), string(k), group)
		if t, ok := snap.LastSuccess[k]; ok {
			ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, float64(t.UnixNano())/1e9, string(k), group)
		}
	}
}

var _ prometheus.Collector = (*Collector)(nil)
