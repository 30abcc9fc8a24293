package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestPassTimedAndTraced: every pass is a freshness.pass span and an
// observation of freshet_freshness_evaluation_seconds; WithoutAssets
// keeps those and the last pass time, and drops the per-asset series.
func TestPassTimedAndTraced(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	r := newRig(t, t.TempDir(), func(o *Options) { o.Tracer = tp.Tracer("test") })
	defer r.stop()
	ctx := context.Background()
	r.submit(t, mat("a1", "raw/a", t0.Add(-10*time.Minute)))
	r.m.pass(ctx, false)
	r.m.pass(ctx, true)

	spans := rec.Ended()
	if len(spans) != 2 || spans[0].Name() != "freshness.pass" {
		t.Fatalf("spans = %v", spans)
	}
	attrs := map[string]string{}
	for _, kv := range spans[1].Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["freshet.freshness.full"] != "true" || attrs["freshet.freshness.results"] != "2" {
		t.Errorf("the full pass's attributes = %v", attrs)
	}

	families := func(c prometheus.Collector) map[string]uint64 {
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		got, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]uint64{}
		for _, f := range got {
			out[f.GetName()] = uint64(len(f.GetMetric()))
			if f.GetName() == "freshet_freshness_evaluation_seconds" {
				out["passes"] = f.GetMetric()[0].GetHistogram().GetSampleCount()
			}
		}
		return out
	}
	all := families(r.m.Collector())
	if all["passes"] != 2 || all["freshet_asset_freshness_state"] != 2 {
		t.Errorf("collector = %v, want 2 passes and 2 assets' states", all)
	}
	lean := families(r.m.Collector().WithoutAssets())
	for name := range lean {
		if strings.HasPrefix(name, "freshet_asset_") {
			t.Errorf("WithoutAssets still exports %s", name)
		}
	}
	if lean["passes"] != 2 || lean["freshet_freshness_last_pass_timestamp_seconds"] != 1 {
		t.Errorf("WithoutAssets = %v, want the pass metrics", lean)
	}
}
