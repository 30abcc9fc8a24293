package catalog

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/freshet-dev/freshet/asset"
)

// Problem is an asset whose health is not OK beyond freshness: its latest
// result of some check failed, or its latest run failed (a
// materialization_failed later than its latest materialization).
type Problem struct {
	Key   asset.Key `json:"key"`
	Group string    `json:"group,omitempty"`
	// FailedChecks are the latest results that failed, sorted by check
	// name; only error-severity ones make the asset unhealthy, warn ones
	// are listed with them.
	FailedChecks []asset.Event `json:"failed_checks,omitempty"`
	// RunFailed is the latest materialization_failed when it is later
	// than the latest materialization.
	RunFailed *asset.Event `json:"run_failed,omitempty"`
}

// Unhealthy reports whether p holds an error-severity check failure or a
// failed latest run (warn-severity failures alone do not).
func (p Problem) Unhealthy() bool {
	if p.RunFailed != nil {
		return true
	}
	for _, c := range p.FailedChecks {
		if c.Check.Severity != asset.SeverityWarn {
			return true
		}
	}
	return false
}

// Problems returns the assets with a failed latest check or run, sorted by
// key; group, when set, keeps that group only.
func (c *Catalog) Problems(group string) []Problem {
	c.mu.RLock()
	var out []Problem
	for k, e := range c.entries {
		if group != "" && e.spec.Group != group {
			continue
		}
		if p, ok := e.problem(k); ok {
			out = append(out, p)
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b Problem) int { return strings.Compare(string(a.Key), string(b.Key)) })
	return out
}

func (e *entry) problem(k asset.Key) (Problem, bool) {
	p := Problem{Key: k, Group: e.spec.Group}
	for _, sl := range e.checks {
		if ev := sl.shown; ev != nil && ev.Check != nil && !ev.Check.Passed {
			p.FailedChecks = append(p.FailedChecks, *copyEvent(ev))
		}
	}
	slices.SortFunc(p.FailedChecks, func(a, b asset.Event) int { return strings.Compare(a.Check.Name, b.Check.Name) })
	if e.runFailed() {
		p.RunFailed = copyEvent(e.fail.shown)
	}
	return p, len(p.FailedChecks) > 0 || p.RunFailed != nil
}

// runFailed reports whether the latest run failed: a materialization_failed
// later than the latest materialization.
func (e *entry) runFailed() bool {
	return e.fail.shown != nil && (e.mat.shown == nil || e.fail.shown.After(e.mat.shown))
}

var (
	checkFailedDesc = prometheus.NewDesc("freshet_asset_check_failed",
		"1 when the latest result of the check failed, 0 when it passed.",
		[]string{"asset", "check", "severity", "group"}, nil)
	runFailedDesc = prometheus.NewDesc("freshet_asset_run_failed",
		"1 when the asset's latest run failed (a materialization_failed after its latest materialization).",
		[]string{"asset", "group"}, nil)
)

// Collector exposes check and run health per asset. It reads the catalog
// at scrape time; assets without checks or failures add no series.
func (c *Catalog) Collector() prometheus.Collector { return healthCollector{c} }

type healthCollector struct{ c *Catalog }

func (h healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- checkFailedDesc
	ch <- runFailedDesc
}

func (h healthCollector) Collect(ch chan<- prometheus.Metric) {
	h.c.mu.RLock()
	defer h.c.mu.RUnlock()
	for k, e := range h.c.entries {
		for name, sl := range e.checks {
			ev := sl.shown
			if ev == nil || ev.Check == nil {
				continue
			}
			v := 0.0
			if !ev.Check.Passed {
				v = 1
			}
			sev := ev.Check.Severity
			if sev == "" {
				sev = asset.SeverityError
			}
			ch <- prometheus.MustNewConstMetric(checkFailedDesc, prometheus.GaugeValue, v,
				string(k), name, string(sev), e.spec.Group)
		}
		if e.fail.shown != nil {
			v := 0.0
			if e.runFailed() {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(runFailedDesc, prometheus.GaugeValue, v, string(k), e.spec.Group)
		}
	}
}
