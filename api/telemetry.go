package api

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Route labels for requests no route matched: GETs of the web UI's files
// and pages, and everything else (404s, mostly). Matched requests are
// labelled with their route pattern (/api/v1/assets/:key), never the raw
// path, so the series stay as few as the routes.
const (
	routeUI   = "ui"
	routeNone = "none"
)

// ingestRoutes are the routes whose refusals count in
// freshet_ingest_rejected_total.
var ingestRoutes = map[string]bool{
	"/api/v1/events": true, "/api/v1/lineage": true, "/api/v1/lineage/batch": true,
}

// ingestReasons are the refusals of ingest requests, counted from 0 so
// that rate() sees the first one.
var ingestReasons = []string{"invalid_json", "invalid_value", "missing_field", "unknown_field", "too_many_events",
	"body_too_large", "body_incomplete", "unsupported_media_type", "unavailable", "unauthorized", "forbidden",
	"duplicate_field", "ingest_busy", "asset_limit", "asset_rate_limit"}

// httpMetrics are the API's Prometheus collectors.
type httpMetrics struct {
	requests   *prometheus.CounterVec
	seconds    *prometheus.HistogramVec
	rejected   *prometheus.CounterVec
	collectors []prometheus.Collector
}

func newHTTPMetrics(version string) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_http_requests_total",
			Help: "HTTP requests answered, by route pattern (ui: the web UI's files; none: no route matched), method and status code."},
			[]string{"route", "method", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "freshet_http_request_duration_seconds",
			Help:    "Time from routing a request to its answer (a followed log or event stream counts until it ends), by route pattern and method.",
			Buckets: prometheus.DefBuckets},
			[]string{"route", "method"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_ingest_rejected_total",
			Help: "Ingest requests (POST /api/v1/events, /api/v1/lineage, /api/v1/lineage/batch) refused, by the error code of the answer: invalid_json, missing_field, too_many_events, body_too_large, unavailable (the write-ahead log is full), unauthorized..."},
			[]string{"reason"}),
	}
	for _, r := range ingestReasons {
		m.rejected.WithLabelValues(r)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "freshet_build_info",
		Help:        "Always 1: the running Freshet's version and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": runtime.Version()}})
	build.Set(1)
	m.collectors = []prometheus.Collector{m.requests, m.seconds, m.rejected, build}
	return m
}

// Collectors returns the API's metrics, for the caller to register:
// freshet_http_requests_total{route,method,code},
// freshet_http_request_duration_seconds{route,method},
// freshet_ingest_rejected_total{reason} and
// freshet_build_info{version,go_version}.
func (s *Server) Collectors() []prometheus.Collector { return s.metrics.collectors }

// observe is the outermost Echo middleware: it counts and times every
// request by route, counts refused ingest requests by reason, and names
// the request's server span after its route. Echo routes before its
// middleware run, so the route pattern is known here.
func (s *Server) observe() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			req := c.Request()
			route := c.Path()
			if span := trace.SpanFromContext(req.Context()); route != "" && span.IsRecording() {
				span.SetName(req.Method + " " + route)
				span.SetAttributes(semconv.HTTPRoute(route))
			}
			err := next(c)
			// The request logger has handed an error to handleError by now;
			// if nothing did, Echo will, with the status toAPIError gives.
			status := c.Response().Status
			var apiErr *Error
			if err != nil {
				apiErr = s.toAPIError(err)
				if !c.Response().Committed {
					status = apiErr.Status
				}
			}
			switch {
			case route != "":
			case req.Method == http.MethodGet || req.Method == http.MethodHead:
				if req.URL.Path != "/api" && !strings.HasPrefix(req.URL.Path, "/api/") {
					route = routeUI
					break
				}
				fallthrough
			default:
				route = routeNone
			}
			method := methodLabel(req.Method)
			s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
			s.metrics.seconds.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
			if status >= 400 && req.Method == http.MethodPost && ingestRoutes[route] {
				reason := codeForStatus(status) // an answer written by the handler (OpenLineage's list of problems)
				if apiErr != nil {
					reason = apiErr.Code
				}
				s.metrics.rejected.WithLabelValues(reason).Inc()
			}
			return err
		}
	}
}

// methodLabel bounds the method label: a client may send any token as a
// method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// instrument wraps the Echo handler in OpenTelemetry's net/http
// instrumentation, which starts a server span per request (continuing
// the caller's trace from its traceparent header); observe names it
// after the route. Without a TracerProvider (or with the no-op one) the
// handler is returned as it is: tracing off costs nothing per request.
func (s *Server) instrument(h http.Handler) http.Handler {
	tp := s.opts.TracerProvider
	if tp == nil {
		return h
	}
	if _, off := tp.(noop.TracerProvider); off {
		return h
	}
	return otelhttp.NewHandler(h, "freshet",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		// Request metrics are Prometheus's (observe); no global meter.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
}
