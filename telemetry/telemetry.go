// Package telemetry sets up Freshet's traces: an OpenTelemetry
// TracerProvider configured from the standard OTEL_* environment variables
// that exports spans over OTLP (HTTP or gRPC) to a collector.
//
// It promises:
//
//   - Off unless asked for. Without OTEL_EXPORTER_OTLP_ENDPOINT,
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER=otlp the
//     provider is OpenTelemetry's no-op one: no exporter, no goroutine, no
//     span recorded, and app gives the components no tracer, so they skip
//     their spans altogether (BenchmarkSpan, ingest's BenchmarkSubmit and
//     app's BenchmarkIngestTracing measure it).
//   - A setting it cannot honour fails Setup with the variable's name (an
//     unknown exporter, protocol or sampler, a sampler ratio outside
//     [0, 1]) rather than being logged and ignored.
//   - Shutdown flushes the spans still queued.
//   - No global state: it never sets OpenTelemetry's global provider,
//     propagator or error handler. The provider goes to the components
//     through their options (app.Config.TracerProvider), and failed exports
//     are logged on the logger given here (at most one line a minute).
//
// It refuses: metrics and logs over OTLP (Freshet's metrics are
// Prometheus's, at /metrics), and exporters other than OTLP.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME (or
// service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const DefaultServiceName = "freshet"

// Options tune Setup.
type Options struct {
	// Version is service.version on every span's resource.
	Version string
	// Logger receives the setup line and failed exports (default
	// slog.Default()).
	Logger *slog.Logger
}

// Tracing is the process's tracing: a TracerProvider and what shuts it
// down.
type Tracing struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when off
	// Protocol and Sampler say what Setup chose, for the start-up log
	// line ("" when off).
	Protocol, Sampler string
}

// Off is tracing switched off: the no-op provider.
func Off() *Tracing { return &Tracing{provider: noop.NewTracerProvider()} }

// Setup reads the OTEL_* environment and returns tracing on or off (see
// the package comment and docs/operations.md). The OTLP exporters read
// their own variables (endpoint, headers, TLS files, timeout,
// compression) from the process environment too.
func Setup(ctx context.Context, opts Options) (*Tracing, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	on, err := enabled(os.Getenv)
	if err != nil || !on {
		return Off(), err
	}
	sampler, samplerName, err := samplerFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	protocol := firstEnv(os.Getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	if protocol == "" {
		protocol = "http/protobuf"
	}
	var exp sdktrace.SpanExporter
	switch protocol {
	case "http/protobuf", "http/json":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: use http/protobuf (default), http/json or grpc", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter (%s): %w", protocol, err)
	}
	res, err := newResource(ctx, opts.Version)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&loggedExporter{SpanExporter: exp, log: opts.Logger, protocol: protocol}),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
	)
	return &Tracing{provider: tp, sdk: tp, Protocol: protocol, Sampler: samplerName}, nil
}

// Provider is what the components get: the SDK's provider when tracing is
// on, else the no-op one.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Shutdown exports the spans still queued, within ctx, and stops the
// exporter. Spans started afterwards are dropped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// enabled: OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none switch it
// off; OTEL_TRACES_EXPORTER=otlp or an OTLP endpoint switch it on.
func enabled(getenv func(string) string) (bool, error) {
	if v := strings.TrimSpace(getenv("OTEL_SDK_DISABLED")); v != "" {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("OTEL_SDK_DISABLED=%q: want true or false", v)
		}
		if off {
			return false, nil
		}
	}
	switch exporter := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exporter {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
		return firstEnv(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: Freshet exports traces over OTLP only: use otlp or none", exporter)
	}
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// (default parentbased_always_on: a request whose caller sampled it is
// traced, and so is every root span).
func samplerFromEnv(getenv func(string) string) (sdktrace.Sampler, string, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	if name == "" {
		name = "parentbased_always_on"
	}
	arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (sdktrace.Sampler, error) {
		if arg == "" {
			return sdktrace.TraceIDRatioBased(1), nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio between 0 and 1", arg)
		}
		return sdktrace.TraceIDRatioBased(r), nil
	}
	var s sdktrace.Sampler
	var err error
	switch name {
	case "always_on":
		s = sdktrace.AlwaysSample()
	case "always_off":
		s = sdktrace.NeverSample()
	case "traceidratio":
		s, err = ratio()
	case "parentbased_always_on":
		s = sdktrace.ParentBased(sdktrace.AlwaysSample())
	case "parentbased_always_off":
		s = sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		if s, err = ratio(); err == nil {
			s = sdktrace.ParentBased(s)
		}
	default:
		return nil, "", fmt.Errorf("OTEL_TRACES_SAMPLER=%q: use always_on, always_off, traceidratio, parentbased_always_on (default), parentbased_always_off or parentbased_traceidratio", name)
	}
	if err != nil {
		return nil, "", err
	}
	return s, s.Description(), nil
}

// newResource: service.name freshet and service.version, overridden by
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
func newResource(ctx context.Context, version string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(DefaultServiceName), semconv.ServiceVersion(version)),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(), // last: the environment wins
	)
	if err != nil {
		return nil, fmt.Errorf("trace resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	return res, nil
}

func firstEnv(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

// loggedExporter logs failed exports on Freshet's logger (at most once a
// minute, with the spans dropped since the last line) instead of handing
// them to OpenTelemetry's global error handler. The batch processor does
// not retry a failed batch either way; the OTLP exporters retry within
// their timeout before they fail.
type loggedExporter struct {
	sdktrace.SpanExporter
	log      *slog.Logger
	protocol string

	mu      sync.Mutex
	last    time.Time
	dropped int
}

func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err == nil {
		return nil
	}
	e.mu.Lock()
	e.dropped += len(spans)
	now := time.Now()
	if now.Sub(e.last) < time.Minute {
		e.mu.Unlock()
		return nil
	}
	dropped := e.dropped
	e.last, e.dropped = now, 0
	e.mu.Unlock()
	level := slog.LevelWarn
	if errors.Is(err, context.Canceled) {
		level = slog.LevelDebug
	}
	e.log.Log(ctx, level, "trace export failed; spans dropped (the collector is down or refuses them)",
		"protocol", e.protocol, "spans_dropped", dropped, "err", err)
	return nil
}
