package outbox

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes counted by freshet_alert_deliveries_total.
const (
	outcomeDelivered = "delivered"
	outcomeRejected  = "rejected"
	outcomeRetried   = "retried"
	outcomeDropped   = "dropped"
	outcomeSilenced  = "silenced"
)

var outcomes = []string{outcomeDelivered, outcomeRejected, outcomeRetried, outcomeDropped, outcomeSilenced}

var (
	pendingDesc = prometheus.NewDesc("freshet_alert_outbox_pending",
		"Deliveries waiting to be sent (due, retrying, held behind an earlier one of their key, or rate limited).",
		[]string{"receiver"}, nil)
	oldestDesc = prometheus.NewDesc("freshet_alert_outbox_oldest_seconds",
		"Age of the oldest pending delivery (0 when none is pending).",
		[]string{"receiver"}, nil)
)

// metrics are the outbox's collectors; every receiver's series exist from
// the start, at 0.
type metrics struct {
	deliveries *prometheus.CounterVec
	seconds    *prometheus.HistogramVec
	collectors []prometheus.Collector
}

func newMetrics(o *Outbox) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_alert_deliveries_total",
			Help: "Delivery attempts and enqueued deliveries by how they ended: delivered, rejected (never retried), retried (a retryable failure, tried again later), dropped (retries spent), silenced (recorded, not sent)."},
			[]string{"receiver", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "freshet_alert_delivery_seconds",
			Help:    "Duration of one delivery attempt (a receiver's Send), whatever its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10)},
			[]string{"receiver"}),
	}
	for _, name := range o.names {
		for _, oc := range outcomes {
			m.deliveries.WithLabelValues(name, oc)
		}
		m.seconds.WithLabelValues(name)
	}
	m.collectors = []prometheus.Collector{m.deliveries, m.seconds, queueCollector{o}}
	return m
}

func (m *metrics) outcome(receiver, outcome string) {
	m.deliveries.WithLabelValues(receiver, outcome).Inc()
}

func (m *metrics) latency(receiver string, took time.Duration) {
	m.seconds.WithLabelValues(receiver).Observe(took.Seconds())
}

// queueCollector reads the pending deliveries held in memory at scrape
// time.
type queueCollector struct{ o *Outbox }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- oldestDesc
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.o.opts.Now()
	c.o.mu.Lock()
	defer c.o.mu.Unlock()
	for _, name := range c.o.names {
		l := c.o.lanes[name]
		age := 0.0
		if t := l.oldest(); !t.IsZero() {
			age = max(now.Sub(t).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(l.pending), name)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, name)
	}
}

// Collectors returns the outbox's metrics, for the caller to register:
// freshet_alert_deliveries_total{receiver,outcome},
// freshet_alert_delivery_seconds{receiver},
// freshet_alert_outbox_pending{receiver} and
// freshet_alert_outbox_oldest_seconds{receiver}.
func (o *Outbox) Collectors() []prometheus.Collector { return o.metrics.collectors }
