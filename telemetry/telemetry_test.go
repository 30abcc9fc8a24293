package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// clearEnv unsets every variable Setup reads, so the test's environment
// decides.
func clearEnv(t testing.TB) {
	for _, name := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		t.Setenv(name, "")
	}
}

func TestOffByDefault(t *testing.T) {
	for _, env := range [][2]string{
		{"", ""},
		{"OTEL_TRACES_EXPORTER", "none"},
		{"OTEL_SDK_DISABLED", "true"},
	} {
		clearEnv(t)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
		if env[0] != "" {
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
			t.Setenv(env[0], env[1])
		}
		tr, err := Setup(context.Background(), Options{Logger: quiet})
		if err != nil {
			t.Fatalf("%v: %v", env, err)
		}
		if tr.Enabled() {
			t.Errorf("%v: tracing is on", env)
		}
		_, span := tr.Provider().Tracer("t").Start(context.Background(), "x")
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Errorf("%v: the provider records spans", env)
		}
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

func TestBadSettingsFail(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "thrift", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"OTEL_TRACES_SAMPLER", "jaeger_remote", "OTEL_TRACES_SAMPLER"},
		{"OTEL_TRACES_SAMPLER_ARG", "1.5", "OTEL_TRACES_SAMPLER_ARG"},
		{"OTEL_SDK_DISABLED", "maybe", "OTEL_SDK_DISABLED"},
	} {
		clearEnv(t)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
		if tc.name == "OTEL_TRACES_SAMPLER_ARG" {
			t.Setenv("OTEL_TRACES_SAMPLER", "traceidratio")
		}
		t.Setenv(tc.name, tc.value)
		_, err := Setup(context.Background(), Options{Logger: quiet})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: err = %v, want one naming %s", tc.name, tc.value, err, tc.want)
		}
	}
}

func TestSampler(t *testing.T) {
	for value, want := range map[string]string{
		"":                         "ParentBased{root:AlwaysOnSampler",
		"always_off":               "AlwaysOffSampler",
		"parentbased_traceidratio": "ParentBased{root:TraceIDRatioBased{0.25}",
	} {
		env := map[string]string{"OTEL_TRACES_SAMPLER": value, "OTEL_TRACES_SAMPLER_ARG": "0.25"}
		_, name, err := samplerFromEnv(func(k string) string { return env[k] })
		if err != nil || !strings.HasPrefix(name, want) {
			t.Errorf("OTEL_TRACES_SAMPLER=%q: %q %v, want %s", value, name, err, want)
		}
	}
}

// collected is what a fake collector received: span names by service.
type collected struct {
	mu       sync.Mutex
	services []string
	spans    []string
}

func (c *collected) add(req *collectortrace.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				c.services = append(c.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, s.GetName())
			}
		}
	}
}

func (c *collected) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.services, ",") + ": " + strings.Join(c.spans, ",")
}

// TestExportsOverHTTPAndShutdownFlushes: with an endpoint set, a span
// reaches an OTLP/HTTP collector once Shutdown returns (the batch
// processor's delay is far longer than the test), named for the service.
func TestExportsOverHTTPAndShutdownFlushes(t *testing.T) {
	var got collected
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		got.add(&req)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
	tr, err := Setup(context.Background(), Options{Version: "v-test", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() || tr.Protocol != "http/protobuf" {
		t.Fatalf("enabled %v, protocol %q", tr.Enabled(), tr.Protocol)
	}
	_, span := tr.Provider().Tracer("t").Start(context.Background(), "flushed-at-shutdown")
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := got.String(); s != "freshet: flushed-at-shutdown" {
		t.Errorf("collector got %q", s)
	}
}

type grpcCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	got *collected
}

func (g grpcCollector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	g.got.add(req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// TestExportsOverGRPC: OTEL_EXPORTER_OTLP_PROTOCOL=grpc, and
// OTEL_SERVICE_NAME renames the service.
func TestExportsOverGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var got collected
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, grpcCollector{got: &got})
	go gs.Serve(ln)
	defer gs.Stop()
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_SERVICE_NAME", "freshet-eu")
	tr, err := Setup(context.Background(), Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider().Tracer("t").Start(context.Background(), "over-grpc")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := got.String(); s != "freshet-eu: over-grpc" {
		t.Errorf("collector got %q", s)
	}
}

// TestExportFailureIsLogged: a collector that is down costs a log line,
// not an error from the span's End or from Shutdown.
func TestExportFailureIsLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	tr, err := Setup(context.Background(), Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider().Tracer("t").Start(context.Background(), "lost")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = tr.Shutdown(ctx) // may report the deadline: the exporter retries until it
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "trace export failed") {
		t.Errorf("logs: %q", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkSpan: what one span with two attributes costs, off (the
// no-op provider Setup returns without an endpoint: the attributes are
// skipped, one context allocation is left; Freshet's components are
// given no tracer at all then, and skip even that) and on (recorded and
// batched to an exporter that discards).
func BenchmarkSpan(b *testing.B) {
	clearEnv(b)
	off, err := Setup(context.Background(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	on := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer on.Shutdown(context.Background())
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"off", off.Provider()}, {"on", on}} {
		b.Run(tc.name, func(b *testing.B) {
			tracer := tc.tp.Tracer("bench")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_, span := tracer.Start(ctx, "ingest.submit")
				if span.IsRecording() {
					span.SetAttributes(attribute.Int("freshet.events", 1000), attribute.Int64("freshet.wal.seq", 42))
				}
				span.End()
			}
		})
	}
}
