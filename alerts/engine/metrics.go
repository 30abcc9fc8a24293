package engine

import "github.com/prometheus/client_golang/prometheus"

var firingDesc = prometheus.NewDesc("freshet_alert_firing",
	"1 for each open incident (rule and root-cause asset) that has been sent; held ones (silenced, inhibited, quiet hours) are in freshet_alert_held.",
	[]string{"rule", "asset"}, nil)

var heldDesc = prometheus.NewDesc("freshet_alert_held",
	"1 for each open incident not sent, by why: silenced, inhibited, quiet hours.",
	[]string{"rule", "asset", "reason"}, nil)

// Collector exposes the open incidents.
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Engine }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- firingDesc
	ch <- heldDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	for _, in := range c.e.open {
		if in.held != "" {
			ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, 1, in.rec.Rule, in.rec.RootCause, in.held)
		} else {
			ch <- prometheus.MustNewConstMetric(firingDesc, prometheus.GaugeValue, 1, in.rec.Rule, in.rec.RootCause)
		}
	}
}
