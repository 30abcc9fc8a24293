package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/freshness/monitor"
	"github.com/freshet-dev/freshet/telemetry"
)

// scrape reads /metrics and parses it with Prometheus' own text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// value is the sample of family name whose labels include want (a gauge's
// or a counter's value, a histogram's count), and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		default:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// documentedMetrics are the metrics docs/operations.md lists, with the
// labels it gives each.
func documentedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(freshet_[a-z_]+)(?:\\{([a-z_,]+)\\})?` \\|")
	out := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "#") {
			section = line
		}
		if section == "### Several servers" {
			continue // only with an election: internal/e2e's replicas test checks them
		}
		if m := row.FindStringSubmatch(line); m != nil {
			out[m[1]] = nil
			if m[2] != "" {
				out[m[1]] = strings.Split(m[2], ",")
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d metrics in docs/operations.md", len(out))
	}
	return out
}

const telemetryDefs = `
alerts:
  receivers: [{name: console, type: log}]
  rules: [{name: sla, when: [freshness_fail], receivers: [console]}]
assets:
  - key: a
    freshness: {max_lag: 1h}
  - key: b
    freshness: {max_lag: 1h}
  - key: job/ok
    materialize: {argv: [sh, -c, 'echo "TRACEPARENT=$TRACEPARENT"']}
retention: {events: 30d, run_logs: 30d}
`

func post(t *testing.T, url, contentType, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// waitRun polls GET /api/v1/runs/ID until the run has ended.
func waitRun(t *testing.T, base, id string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body := do(t, http.MethodGet, base+"/api/v1/runs/"+id, "")
		if st, _ := body["status"].(string); executor.RunStatus(st).Done() {
			return st
		}
	}
	t.Fatalf("run %s never ended", id)
	return ""
}

// TestDocumentedMetricsExported: every metric docs/operations.md lists is
// in /metrics with the labels it says, and every freshet_ metric in
// /metrics is listed; requests are counted by route pattern, refused
// ingest by reason, runs by trigger and status. /debug/pprof is not on
// the API's listener (only --pprof-addr serves it).
func TestDocumentedMetricsExported(t *testing.T) {
	t.Parallel()
	// An OpenLineage consumer, for the openlineage block's metrics.
	consumer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }))
	t.Cleanup(consumer.Close)
	defs, err := config.Parse("telemetry.yaml", []byte(telemetryDefs+fmt.Sprintf("openlineage: {url: %q}\n", consumer.URL)))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet, Definitions: defs, Version: "v9.9.9-test",
		Freshness: monitor.Options{Interval: 50 * time.Millisecond, RiskHold: -1}})
	old := time.Now().UTC().Add(-2 * time.Hour).Format(time.RFC3339)
	// a and b are 2h old against a 1h SLA: FAIL, an incident each; b's is
	// silenced (held). A failed check and a failed run: the per-asset
	// health series.
	if resp := post(t, srv.base+"/api/v1/silences", "application/json",
		`{"match":{"keys":["b"]},"comment":"telemetry test","duration":"1h","created_by":"test"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/silences = %d", resp.StatusCode)
	}
	body := fmt.Sprintf(`{"kind":"materialization","asset":"a","time":%[1]q}
{"kind":"materialization","asset":"b","time":%[1]q}
{"kind":"check_result","asset":"a","time":%[1]q,"check":{"name":"c","passed":false,"severity":"error"}}
{"kind":"materialization_failed","asset":"b","time":%[1]q}`, old)
	if resp := post(t, srv.base+"/api/v1/events", "application/x-ndjson", body); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/events = %d", resp.StatusCode)
	}
	if resp := post(t, srv.base+"/api/v1/events", "application/json", `{"kind":`); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad JSON = %d", resp.StatusCode)
	}
	status, run := do(t, http.MethodPost, srv.base+"/api/v1/runs", `{"selection":["job/ok"]}`)
	if status != http.StatusCreated {
		t.Fatalf("launch = %d %v", status, run)
	}
	if st := waitRun(t, srv.base, run["id"].(string)); st != string(executor.RunSuccess) {
		t.Fatalf("run = %s", st)
	}
	do(t, http.MethodGet, srv.base+"/api/v1/assets/a", "")
	if resp, err := http.Get(srv.base + "/debug/pprof/heap?debug=1"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "heap profile") {
			t.Error("the API's listener serves /debug/pprof")
		}
	}

	var families map[string]*dto.MetricFamily
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		families = scrape(t, srv.base)
		_, firing := value(families, "freshet_alert_firing", map[string]string{"asset": "a"})
		_, held := value(families, "freshet_alert_held", map[string]string{"asset": "b", "reason": "silenced"})
		if n, _ := value(families, "freshet_runs_total", map[string]string{"trigger": "manual", "status": "SUCCESS"}); firing && held && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no firing and held incident, or no run counted, in time")
		}
	}

	documented := documentedMetrics(t)
	for name, labels := range documented {
		f := families[name]
		if f == nil {
			t.Errorf("docs/operations.md lists %s; /metrics does not export it", name)
			continue
		}
		var got []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			got = append(got, l.GetName())
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(labels))
		if !slices.Equal(got, want) {
			t.Errorf("%s has labels %v; docs/operations.md says %v", name, got, want)
		}
	}
	for name := range families {
		if _, ok := documented[name]; strings.HasPrefix(name, "freshet_") && !ok {
			t.Errorf("/metrics exports %s; docs/operations.md does not list it", name)
		}
	}

	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"freshet_http_requests_total", map[string]string{"route": "/api/v1/events", "method": "POST", "code": "202"}, 1},
		{"freshet_http_requests_total", map[string]string{"route": "/api/v1/events", "method": "POST", "code": "400"}, 1},
		{"freshet_http_requests_total", map[string]string{"route": "/api/v1/assets/:key", "method": "GET", "code": "200"}, 1},
		{"freshet_http_request_duration_seconds", map[string]string{"route": "/api/v1/runs", "method": "POST"}, 1},
		{"freshet_ingest_rejected_total", map[string]string{"reason": "invalid_json"}, 1},
		{"freshet_ingest_rejected_total", map[string]string{"reason": "too_many_events"}, 0},
		{"freshet_build_info", map[string]string{"version": "v9.9.9-test", "go_version": runtime.Version()}, 1},
		{"freshet_runs_total", map[string]string{"trigger": "manual", "status": "SUCCESS"}, 1},
		{"freshet_runs_total", map[string]string{"trigger": "automation", "status": "FAILURE"}, 0},
		{"freshet_runs_queued", nil, 0},
		{"freshet_runs_steps_running", nil, 0},
		{"freshet_asset_check_failed", map[string]string{"asset": "a", "check": "c"}, 1},
	} {
		if got, ok := value(families, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if n, _ := value(families, "freshet_freshness_evaluation_seconds", nil); n < 1 {
		t.Errorf("freshet_freshness_evaluation_seconds counted %v passes", n)
	}
	if _, ok := value(families, "freshet_http_requests_total", map[string]string{"route": "/api/v1/assets/a"}); ok {
		t.Error("a raw path as a route label: /api/v1/assets/a")
	}
}

// TestNoAssetMetrics: the switch drops every freshet_asset_* series and
// keeps the rest.
func TestNoAssetMetrics(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("telemetry.yaml", []byte(telemetryDefs))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet, Definitions: defs, NoAssetMetrics: true})
	stateOf(t, srv.base, "a", "UNKNOWN")
	at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	body := fmt.Sprintf(`{"kind":"check_result","asset":"a","time":%q,"check":{"name":"c","passed":false}}
{"kind":"materialization_failed","asset":"a","time":%q}`, at, at)
	if resp := post(t, srv.base+"/api/v1/events", "application/x-ndjson", body); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %d", resp.StatusCode)
	}
	families := scrape(t, srv.base)
	for name := range families {
		if strings.HasPrefix(name, "freshet_asset_") {
			t.Errorf("--no-asset-metrics still exports %s", name)
		}
	}
	for _, name := range []string{"freshet_freshness_evaluation_seconds", "freshet_freshness_last_pass_timestamp_seconds",
		"freshet_http_requests_total", "freshet_wal_bytes", "freshet_runs_total"} {
		if families[name] == nil {
			t.Errorf("--no-asset-metrics dropped %s", name)
		}
	}
}

// spanNamed returns the ended spans called name.
func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// TestTraces: an ingest request is a server span named after its route
// (continuing the caller's trace from traceparent) with ingest.submit
// and wal.append under it; a run is a run span, linked to the request
// that launched it, whose trace id the step's child sees in TRACEPARENT.
func TestTraces(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("telemetry.yaml", []byte(telemetryDefs))
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet, Definitions: defs, TracerProvider: tp})

	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	at := time.Now().UTC().Format(time.RFC3339)
	if resp := post(t, srv.base+"/api/v1/events", "application/json",
		fmt.Sprintf(`{"kind":"materialization","asset":"a","time":%q}`, at), "traceparent", caller); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/events = %d", resp.StatusCode)
	}
	var server, submit, wal sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(10 * time.Second); server == nil || submit == nil || wal == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("spans so far: %v", spanNames(rec))
		}
		for _, s := range spansNamed(rec, "POST /api/v1/events") {
			server = s
		}
		for _, s := range spansNamed(rec, "ingest.submit") {
			if server != nil && s.Parent().SpanID() == server.SpanContext().SpanID() {
				submit = s
			}
		}
		for _, s := range spansNamed(rec, "wal.append") {
			if submit != nil && s.Parent().SpanID() == submit.SpanContext().SpanID() {
				wal = s
			}
		}
	}
	if server.SpanKind() != trace.SpanKindServer || server.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("server span: kind %v, trace %s: want the caller's trace", server.SpanKind(), server.SpanContext().TraceID())
	}
	route := ""
	for _, kv := range server.Attributes() {
		if kv.Key == "http.route" {
			route = kv.Value.AsString()
		}
	}
	if route != "/api/v1/events" {
		t.Errorf("http.route = %q", route)
	}

	status, run := do(t, http.MethodPost, srv.base+"/api/v1/runs", `{"selection":["job/ok"]}`)
	if status != http.StatusCreated {
		t.Fatalf("launch = %d %v", status, run)
	}
	id := run["id"].(string)
	if st := waitRun(t, srv.base, id); st != string(executor.RunSuccess) {
		t.Fatalf("run = %s", st)
	}
	resp, err := http.Get(srv.base + "/api/v1/runs/" + id + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	var logs struct {
		Lines []struct{ Text string } `json:"lines"`
	}
	err = json.NewDecoder(resp.Body).Decode(&logs)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	for _, l := range logs.Lines {
		if v, ok := strings.CutPrefix(l.Text, "TRACEPARENT="); ok {
			seen = v
		}
	}
	child, err := executor.ParseTraceParent(seen)
	if err != nil {
		t.Fatalf("the step saw TRACEPARENT=%q in %+v: %v", seen, logs.Lines, err)
	}
	var runSpan sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(10 * time.Second); runSpan == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no run span among %v", spanNames(rec))
		}
		for _, s := range spansNamed(rec, "run") {
			runSpan = s
		}
	}
	if trace.TraceID(child.TraceID) != runSpan.SpanContext().TraceID() {
		t.Errorf("the step's child saw trace %x; the run span's is %s", child.TraceID, runSpan.SpanContext().TraceID())
	}
	launch := spansNamed(rec, "POST /api/v1/runs")
	if len(launch) != 1 || len(runSpan.Links()) != 1 || runSpan.Links()[0].SpanContext.SpanID() != launch[0].SpanContext().SpanID() {
		t.Errorf("the run span is not linked to the request that launched it")
	}
	if steps := spansNamed(rec, "step"); len(steps) != 1 || steps[0].Parent().SpanID() != runSpan.SpanContext().SpanID() {
		t.Errorf("step spans: %d, want one under the run's", len(steps))
	}
}

func spanNames(rec *tracetest.SpanRecorder) []string {
	var out []string
	for _, s := range rec.Ended() {
		out = append(out, s.Name())
	}
	return out
}

// BenchmarkIngestTracing: BenchmarkIngestHTTPEmbedded's requests (NDJSON
// over a real socket, durable in the WAL before the 202), of 1,000 events
// and of one, with tracing off, the default; on, every span recorded and
// exported over OTLP/HTTP to a collector on loopback that reads and
// discards them; and on with 1% of the traces sampled
// (parentbased_traceidratio 0.01). The data directory is on the test's disk, and on tmpfs
// (/dev/shm, where there is one), where an fsync costs next to nothing and
// what is left is the CPU a request takes: the worst case for tracing's
// share. Run them all in one process, e.g.
//
//	go test ./app -run XXX -bench IngestTracing -count 5
func BenchmarkIngestTracing(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	disks := []string{"disk"}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		disks = append(disks, "tmpfs")
	}
	for _, disk := range disks {
		for _, perRequest := range []int{benchBatch, 1} {
			for _, mode := range []string{"off", "on", "1pct"} {
				b.Run(fmt.Sprintf("%s/events=%d/tracing=%s", disk, perRequest, mode), func(b *testing.B) {
					dir := b.TempDir()
					if disk == "tmpfs" {
						var err error
						if dir, err = os.MkdirTemp("/dev/shm", "freshet-bench-"); err != nil {
							b.Fatal(err)
						}
						defer os.RemoveAll(dir)
					}
					benchTracing(b, collector.URL, mode, perRequest, dir)
				})
			}
		}
	}
}

// benchTracing runs benchIngest with tracing off, on (every span to
// collector) or on with 1% of traces sampled (mode 1pct).
func benchTracing(b *testing.B, collector, mode string, perRequest int, dir string) {
	endpoint, sampler := collector, "parentbased_always_on"
	switch mode {
	case "off":
		endpoint = ""
	case "1pct":
		sampler = "parentbased_traceidratio"
	}
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	b.Setenv("OTEL_TRACES_SAMPLER", sampler)
	b.Setenv("OTEL_TRACES_SAMPLER_ARG", "0.01")
	tr, err := telemetry.Setup(context.Background(), telemetry.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if tr.Enabled() != (mode != "off") {
		b.Fatalf("tracing enabled = %v", tr.Enabled())
	}
	defer tr.Shutdown(context.Background())
	benchIngest(b, perRequest, app.Config{DataDir: dir, TracerProvider: tr.Provider(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// benchIngest posts NDJSON bodies of perRequest fresh events to a server
// on cfg, one request at a time.
func benchIngest(b *testing.B, perRequest int, cfg app.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go a.Serve(ctx, ln)
	url := "http://" + ln.Addr().String() + "/api/v1/events"
	bodies := make([][]byte, 64*benchBatch/perRequest)
	for i := range bodies {
		bodies[i] = ndjson(benchEvents(i, perRequest))
	}
	client := &http.Client{}
	var before, after syscall.Rusage
	b.ResetTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for i := 0; b.Loop(); i++ {
		// Fresh ids in every request: a repeated body is deduplicated.
		body := bodies[i%len(bodies)]
		if i >= len(bodies) {
			b.StopTimer()
			body = ndjson(benchEvents(i, perRequest))
			b.StartTimer()
		}
		resp, err := client.Post(url, "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	b.ReportMetric(float64(b.N*perRequest)/b.Elapsed().Seconds(), "events/s")
	// CPU of the whole process (server, store writer, client, span export
	// and the collector) per request: steadier than the time on 2 shared
	// cores.
	cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
	b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-µs/op")
	if err := a.Drain(ctx); err != nil {
		b.Fatal(err)
	}
}
