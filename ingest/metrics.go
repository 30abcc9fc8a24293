package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus collectors: the WAL backlog, batch
// sizes and store write latency, the figures that say whether ingest is
// keeping up.
type Metrics struct {
	accepted, rejected  prometheus.Counter
	rejectedBacklog     prometheus.Counter
	backpressureSeconds prometheus.Histogram
	writeErrors         prometheus.Counter
	deadLettered        prometheus.Counter
	batchEvents         prometheus.Histogram
	writeSeconds        prometheus.Histogram
	collectors          []prometheus.Collector
}

func newMetrics(p *Pipeline) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_ingest_events_accepted_total",
			Help: "Events acknowledged (durable in the write-ahead log)."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_ingest_events_rejected_full_total",
			Help: "Events refused with 503 because the write-ahead log was full."}),
		rejectedBacklog: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_ingest_events_rejected_backlog_total",
			Help: "Events refused with 503 because the store stayed behind what was acknowledged for longer than --ack-wait."}),
		backpressureSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "freshet_ingest_backpressure_wait_seconds",
			Help: "How long acknowledgements waited for the store to catch up (only requests that waited).", Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 9)}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_store_write_errors_total",
			Help: "Failed event store batch writes (each is retried)."}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_ingest_dead_letters_total",
			Help: "Events set aside because the store rejected them while it accepted others."}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "freshet_store_batch_events",
			Help: "Events per batch written to the event store.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "freshet_store_write_seconds",
			Help: "Event store batch write latency.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.collectors = []prometheus.Collector{m.accepted, m.rejected, m.rejectedBacklog, m.backpressureSeconds, m.writeErrors, m.deadLettered, m.batchEvents, m.writeSeconds,
		gauge("freshet_ingest_dead_letters", "Dead letters waiting to be replayed.",
			func() float64 {
				if p.opts.DeadLetters == nil {
					return 0
				}
				return float64(p.opts.DeadLetters.Len())
			}),
		gauge("freshet_wal_unconfirmed_records", "Write-ahead log records not yet confirmed by the store.",
			func() float64 { return float64(p.log.Stats().Records) }),
		gauge("freshet_wal_bytes", "Bytes of write-ahead log segments on disk.",
			func() float64 { return float64(p.log.Stats().Bytes) }),
		gauge("freshet_wal_oldest_unconfirmed_age_seconds", "Age of the oldest record the store has not confirmed (0 when caught up).",
			func() float64 { return p.log.Stats().OldestAge.Seconds() }),
	}
	return m
}

func (m *Metrics) observeWrite(events int, took time.Duration, err error) {
	if err != nil {
		m.writeErrors.Inc()
		return
	}
	m.batchEvents.Observe(float64(events))
	m.writeSeconds.Observe(took.Seconds())
}

// Collectors returns the metrics to register.
func (p *Pipeline) Collectors() []prometheus.Collector { return p.metrics.collectors }
