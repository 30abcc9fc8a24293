package runs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
)

// Spans: a run is a "run" span, from its launch to its final status, the
// root of its own trace (linked to the span that launched it, an HTTP
// request's for instance: a run outlives its request). Its context is the
// run's TRACEPARENT, so each attempt's process gets the run's trace id
// (the executor gives every attempt a span id of its own under it). Each
// attempt of a step is a "step" span under the run's.

// startRunSpan begins the run span of a launch and returns it with the
// traceparent that hands its context to the executor ("" when the
// tracer records nothing: the executor starts a trace of its own).
func (s *Service) startRunSpan(ctx context.Context, rec *runRecordView, steps int) (trace.Span, string) {
	opts := []trace.SpanStartOption{trace.WithTimestamp(rec.created)}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	_, span := s.tracer.Start(context.Background(), "run", opts...)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("freshet.run.id", rec.id), attribute.String("freshet.run.trigger", rec.trigger),
			attribute.StringSlice("freshet.run.selection", rec.selection), attribute.Int("freshet.run.steps", steps))
		if rec.parent != "" {
			span.SetAttributes(attribute.String("freshet.run.parent", rec.parent))
		}
		if rec.partition != "" {
			span.SetAttributes(attribute.String("freshet.partition", rec.partition))
		}
	}
	sc := span.SpanContext()
	if !sc.IsValid() {
		return span, ""
	}
	tp := executor.TraceParent{TraceID: sc.TraceID(), SpanID: sc.SpanID(), Flags: byte(sc.TraceFlags())}
	return span, tp.String()
}

// runRecordView is what the run span says of a launch.
type runRecordView struct {
	id, trigger, parent, partition string
	selection                      []string
	created                        time.Time
}

// startStepSpan begins the span of a step's attempt under the run's.
func (s *Service) startStepSpan(lr *liveRun, key asset.Key, attempt int, at time.Time) {
	if prev := lr.stepSpans[key]; prev != nil {
		prev.End(trace.WithTimestamp(at)) // an attempt the executor did not end (not expected)
	}
	_, span := s.tracer.Start(trace.ContextWithSpan(context.Background(), lr.span), "step", trace.WithTimestamp(at))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("freshet.asset", string(key)), attribute.Int("freshet.step.attempt", attempt),
			attribute.String("freshet.run.id", lr.rec.ID))
	}
	lr.stepSpans[key] = span
}

// endStepSpan ends a step attempt's span with how it ended.
func endStepSpan(lr *liveRun, key asset.Key, status executor.StepStatus, reason string, at time.Time) {
	span := lr.stepSpans[key]
	if span == nil {
		return
	}
	delete(lr.stepSpans, key)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("freshet.step.status", string(status)))
		if status != executor.StepSuccess {
			span.SetStatus(codes.Error, string(status)+": "+reason)
		}
	}
	span.End(trace.WithTimestamp(at))
}

// endRunSpan ends the run's span (and any attempt's still open) with its
// final status.
func endRunSpan(lr *liveRun, at time.Time) {
	for k := range lr.stepSpans {
		endStepSpan(lr, k, executor.StepCanceled, "the run ended", at)
	}
	span := lr.span
	if span.IsRecording() {
		span.SetAttributes(attribute.String("freshet.run.status", lr.rec.Status))
		if lr.rec.Status != string(executor.RunSuccess) {
			span.SetStatus(codes.Error, lr.rec.Status+": "+lr.rec.Reason)
		}
	}
	span.End(trace.WithTimestamp(at))
}

// finalRunStatuses are the statuses freshet_runs_total counts.
var finalRunStatuses = []executor.RunStatus{executor.RunSuccess, executor.RunFailure, executor.RunCanceled}

var (
	queuedDesc = prometheus.NewDesc("freshet_runs_queued",
		"Runs of this server accepted and waiting for their first step to start (concurrency limits and pools hold them).", nil, nil)
	runningDesc = prometheus.NewDesc("freshet_runs_steps_running",
		"Steps of this server's runs whose attempt is running now.", nil, nil)
)

// metrics are the service's collectors.
type metrics struct {
	total      *prometheus.CounterVec
	collectors []prometheus.Collector
}

func newMetrics(s *Service) *metrics {
	m := &metrics{total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_runs_total",
		Help: "Runs ended, by trigger (manual, automation, reexecute, recovery) and final status (SUCCESS, FAILURE, CANCELED); a run a restart interrupted counts as FAILURE when the next start reconciles it."},
		[]string{"trigger", "status"})}
	for _, tr := range []string{TriggerManual, TriggerAutomation, TriggerReexecute, TriggerRecovery} {
		for _, st := range finalRunStatuses {
			m.total.WithLabelValues(tr, string(st))
		}
	}
	m.collectors = []prometheus.Collector{m.total, inFlightCollector{s}}
	return m
}

// inFlightCollector counts the live runs at scrape time.
type inFlightCollector struct{ s *Service }

func (c inFlightCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queuedDesc
	ch <- runningDesc
}

func (c inFlightCollector) Collect(ch chan<- prometheus.Metric) {
	queued, running := 0, 0
	c.s.mu.Lock()
	for _, lr := range c.s.live {
		if lr.rec.Status == string(executor.RunQueued) {
			queued++
		}
		for _, st := range lr.steps {
			if st.Status == string(executor.StepStarted) {
				running++
			}
		}
	}
	c.s.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(queued))
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, float64(running))
}

// Collectors returns the service's metrics, for the caller to register:
// freshet_runs_total{trigger,status}, freshet_runs_queued and
// freshet_runs_steps_running.
func (s *Service) Collectors() []prometheus.Collector { return s.metrics.collectors }
