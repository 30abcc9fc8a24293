package ingest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/ingest/wal"
	"github.com/freshet-dev/freshet/store/embedded"
)

// openTraced opens a pipeline over the embedded store; with run, its
// store writer runs until the returned stop.
func openTraced(t testing.TB, tracer trace.Tracer, run bool) (*ingest.Pipeline, func()) {
	dir := t.TempDir()
	st, err := embedded.Open(context.Background(), dir+"/store")
	if err != nil {
		t.Fatal(err)
	}
	log, err := wal.Open(dir+"/wal", wal.Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.NewPipeline(log, st, ingest.Options{Logger: quiet, Tracer: tracer, BatchDelay: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if run {
		go func() { done <- p.Run(ctx) }()
	} else {
		done <- nil
	}
	var once sync.Once
	return p, func() {
		once.Do(func() {
			cancel()
			<-done
			log.Close()
			st.Close()
		})
	}
}

// TestSpans: a batch submitted under a caller's span gets ingest.submit
// as that span's child and wal.append as its child; the store write is
// ingest.store_batch with a store.append_events attempt under it.
func TestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracer := tp.Tracer("test")
	p, stop := openTraced(t, tracer, true)
	defer stop()

	ctx, parent := tracer.Start(context.Background(), "POST /api/v1/events")
	if err := p.Submit(ctx, batch("traced", 3)); err != nil {
		t.Fatal(err)
	}
	parent.End()
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop()

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
	}
	childOf := func(child, parent string) {
		t.Helper()
		c, p := byName[child], byName[parent]
		if c == nil || p == nil {
			t.Fatalf("spans %v: want %s under %s", names(rec.Ended()), child, parent)
		}
		if c.Parent().SpanID() != p.SpanContext().SpanID() || c.SpanContext().TraceID() != p.SpanContext().TraceID() {
			t.Errorf("%s is not a child of %s", child, parent)
		}
	}
	childOf("ingest.submit", "POST /api/v1/events")
	childOf("wal.append", "ingest.submit")
	childOf("store.append_events", "ingest.store_batch")
	if got := attr(byName["ingest.store_batch"], "freshet.events"); got != "3" {
		t.Errorf("ingest.store_batch freshet.events = %q", got)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	if s == nil {
		return ""
	}
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// BenchmarkSubmitTracing: Submit of 1,000-event batches (WAL append and
// fsync included; the store writer is not running, so that allocs/op
// counts Submit's alone) without a tracer, the default, and with one that
// records every span. allocs/op tells what each costs: tracing off adds
// nothing to Submit.
func BenchmarkSubmitTracing(b *testing.B) {
	for _, tc := range []struct {
		name   string
		tracer func() (trace.Tracer, func())
	}{
		{"off", func() (trace.Tracer, func()) { return nil, func() {} }},
		{"on", func() (trace.Tracer, func()) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
			return tp.Tracer("bench"), func() { tp.Shutdown(context.Background()) }
		}},
	} {
		b.Run("tracing="+tc.name, func(b *testing.B) {
			tracer, done := tc.tracer()
			defer done()
			p, stop := openTraced(b, tracer, false)
			defer stop()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				events := batch(fmt.Sprint("b", i), 1000)
				b.StartTimer()
				if err := p.Submit(context.Background(), events); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
