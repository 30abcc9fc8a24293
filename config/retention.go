package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/freshet-dev/freshet/asset"
)

// Retention is the retention block: how long history is kept. A window
// left out (or 0) keeps that history forever, the default.
//
//	retention:
//	  events: 400d     # events older are removed, except the latest of each kind per asset
//	  run_logs: 30d    # run output lines
//	  interval: 1h     # between passes (default 1h)
type Retention struct {
	Events   time.Duration
	RunLogs  time.Duration
	Interval time.Duration // 0: the default (1h)

	eventsLine int // for the cross-check with the policies
}

// MinRetention is the shortest window accepted (retention.MinWindow says
// why).
const MinRetention = 24 * time.Hour

var retentionFields = []string{"events", "run_logs", "interval"}

func (d *decoder) retention(n *yaml.Node, path string) Retention {
	var r Retention
	fs, ok := d.fields(n, path, retentionFields)
	if !ok {
		return r
	}
	window := func(name string) time.Duration {
		f, ok := fs[name]
		if !ok {
			return 0
		}
		v, ok := d.duration(f.val, join(path, name))
		if ok && v > 0 && v < MinRetention {
			d.addf(f.val.Line, join(path, name), "%s is shorter than the minimum window %s (leave it out to keep everything)",
				asset.FormatDuration(v), asset.FormatDuration(MinRetention))
			return 0
		}
		return v
	}
	r.Events, r.RunLogs = window("events"), window("run_logs")
	if f, ok := fs["events"]; ok {
		r.eventsLine = f.val.Line
	}
	if f, ok := fs["interval"]; ok {
		v, ok := d.duration(f.val, join(path, "interval"))
		if ok && v > 0 && v < time.Minute {
			d.addf(f.val.Line, join(path, "interval"), "%s is shorter than 1m", asset.FormatDuration(v))
		} else {
			r.Interval = v
		}
	}
	return r
}

// checkRetention refuses an events window that freshness could outlive:
// a policy whose max_lag or grace is longer would read history the
// window removed, so its asset could go UNKNOWN where it should PASS
// (docs/operations.md, "Retention").
func (d *decoder) checkRetention(r Retention, assets []asset.Spec, sels []selection) {
	if r.Events <= 0 {
		return
	}
	check := func(where string, p *asset.FreshnessPolicy) bool {
		for _, c := range []struct {
			name string
			v    time.Duration
		}{{"max_lag", p.MaxLag}, {"grace", p.Grace}} {
			if c.v > r.Events {
				d.addf(r.eventsLine, "retention.events", "%s is shorter than the %s %s of %s: keep events longer than every freshness policy looks back",
					asset.FormatDuration(r.Events), c.name, asset.FormatDuration(c.v), where)
				return false
			}
		}
		return true
	}
	for i := range assets {
		if p := assets[i].Freshness; p != nil && !check(string(assets[i].Key), p) {
			return // one problem says it; the fix is the same
		}
	}
	for i := range sels {
		if !check(index("freshness_policies", i), &sels[i].policy) {
			return
		}
	}
}
