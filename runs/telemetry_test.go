package runs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
)

// TestRunSpansAndTraceParent: a run is a span (linked to the span that
// launched it); its children get its trace in TRACEPARENT; each step
// attempt is a span under it; runs_total counts the run's end.
func TestRunSpansAndTraceParent(t *testing.T) {
	t.Parallel()
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	svc := runs.New(runs.Options{Store: st, Events: &events{}, Launcher: &executor.LocalLauncher{Grace: time.Second},
		Owner: "test", FlushEvery: 20 * time.Millisecond, Tracer: tp.Tracer("test"),
		Backoff: executor.Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	svc.SetSpecs([]asset.Spec{
		{Key: "a", Materialize: sh(`echo "TRACEPARENT=$TRACEPARENT"`, 0)},
		{Key: "b", Deps: []asset.Key{"a"}, Materialize: sh("exit 3", 1)},
	})
	ctx, cancel := context.WithCancel(context.Background())
	svc.Start(ctx)
	defer func() {
		cancel()
		<-svc.Done()
		st.Close()
	}()
	r := &rig{svc: svc, st: st}

	lctx, launcher := tp.Tracer("test").Start(context.Background(), "POST /api/v1/runs")
	run, err := svc.Launch(lctx, runs.LaunchRequest{Selection: []string{"a+"}})
	if err != nil {
		t.Fatal(err)
	}
	launcher.End()
	if got, _ := r.wait(t, run.ID); got.Status != string(executor.RunFailure) {
		t.Fatalf("run = %s, want FAILURE (b exits 3)", got.Status)
	}
	lines, err := svc.Logs(context.Background(), store.RunLogQuery{RunID: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l.Text, "TRACEPARENT="); ok {
			seen = v
		}
	}
	child, err := executor.ParseTraceParent(seen)
	if err != nil {
		t.Fatalf("the step's child saw TRACEPARENT=%q: %v", seen, err)
	}

	var runSpan sdktrace.ReadOnlySpan
	var steps []string
	for _, s := range rec.Ended() {
		if s.Name() == "run" {
			runSpan = s
		}
	}
	if runSpan == nil {
		t.Fatalf("no run span among %d", len(rec.Ended()))
	}
	if trace.TraceID(child.TraceID) != runSpan.SpanContext().TraceID() {
		t.Errorf("the child's trace %x is not the run's %s", child.TraceID, runSpan.SpanContext().TraceID())
	}
	if l := runSpan.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != launcher.SpanContext().SpanID() {
		t.Errorf("the run span's links = %v, want the launching span", l)
	}
	if runSpan.Status().Description == "" || runSpan.Parent().IsValid() {
		t.Errorf("run span status %v, parent %v: want a failed root", runSpan.Status(), runSpan.Parent())
	}
	for _, s := range rec.Ended() {
		if s.Name() != "step" {
			continue
		}
		if s.Parent().SpanID() != runSpan.SpanContext().SpanID() {
			t.Errorf("a step span is not the run span's child")
		}
		var asset, status string
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "freshet.asset":
				asset = kv.Value.AsString()
			case "freshet.step.status":
				status = kv.Value.AsString()
			}
		}
		steps = append(steps, asset+":"+status)
	}
	if got := strings.Join(steps, " "); got != "a:SUCCESS b:UP_FOR_RETRY b:FAILURE" {
		t.Errorf("step spans = %q, want one per attempt", got)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(svc.Collectors()...)
	if n := testutil.ToFloat64(collectorFor(t, svc, "freshet_runs_total")); n != 1 {
		t.Errorf("freshet_runs_total = %v", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP freshet_runs_queued Runs of this server accepted and waiting for their first step to start (concurrency limits and pools hold them).
# TYPE freshet_runs_queued gauge
freshet_runs_queued 0
# HELP freshet_runs_steps_running Steps of this server's runs whose attempt is running now.
# TYPE freshet_runs_steps_running gauge
freshet_runs_steps_running 0
`), "freshet_runs_queued", "freshet_runs_steps_running"); err != nil {
		t.Error(err)
	}
	total, err := testutil.GatherAndCount(reg, "freshet_runs_total")
	if err != nil || total != 12 {
		t.Errorf("freshet_runs_total has %d series (%v), want every trigger and final status from the start", total, err)
	}
}

// collectorFor returns the freshet_runs_total child for manual FAILURE.
func collectorFor(t *testing.T, svc *runs.Service, name string) prometheus.Collector {
	t.Helper()
	for _, c := range svc.Collectors() {
		if cv, ok := c.(*prometheus.CounterVec); ok {
			return cv.WithLabelValues(runs.TriggerManual, string(executor.RunFailure))
		}
	}
	t.Fatalf("no %s", name)
	return nil
}
