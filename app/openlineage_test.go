package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/freshness/monitor"
	"github.com/freshet-dev/freshet/openlineage"
)

// OpenLineage in, through the whole server: what a START tells the
// freshness monitor, and that what was acknowledged survives a restart.

func olFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "openlineage", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func postLineage(t *testing.T, base, body string) {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/lineage", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST lineage = %d %s", resp.StatusCode, b)
	}
}

func datasetKey(t testing.TB, ns, name string) asset.Key {
	t.Helper()
	k, err := openlineage.DatasetKey(ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// runEvent is a RunEvent of job etl.load writing wh.orders (and reading
// nothing, so that its freshness is its own).
func runEvent(eventType, runID string, at time.Time, extra string) string {
	return fmt.Sprintf(`{"eventType":%q,"eventTime":%q,"producer":"https://github.com/acme/etl","run":{"runId":%q%s},
"job":{"namespace":"sched","name":"etl.load"},"outputs":[{"namespace":"postgres://db:5432","name":"wh.orders"}]}`,
		eventType, at.UTC().Format(time.RFC3339Nano), runID, extra)
}

// TestOpenLineageRunInFlight: a START is a run in flight for the
// freshness monitor: an asset that a run started now would not rebuild
// in time (AT_RISK) is in time while a run started earlier is under way.
// A FAIL ends the run as a failure, with its message; a COMPLETE lands
// fresh data.
func TestOpenLineageRunInFlight(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("ol.yaml", []byte(`
freshness_policies:
  - select: {key_prefix: ol}
    max_lag: 2h
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet,
		Freshness: monitor.Options{RiskHold: -1}}) // no hysteresis: each state at once
	key := datasetKey(t, "postgres://db:5432", "wh.orders")
	now := time.Now().UTC()

	// A success 115 minutes old that took 10 minutes: the deadline is 5
	// minutes away, and even a run started now would land after it.
	postEvents(t, srv.base, fmt.Sprintf(`{"kind":"materialization","asset":%q,"time":%q,"metadata":{"duration_s":600}}`,
		key, now.Add(-115*time.Minute).Format(time.RFC3339)))
	stateOf(t, srv.base, key, "AT_RISK")

	// The job started 8 minutes ago: it lands in 2 minutes, in time.
	const run1 = "0193b000-0000-7000-8000-000000000001"
	postLineage(t, srv.base, runEvent("START", run1, now.Add(-8*time.Minute), ""))
	stateOf(t, srv.base, key, "PASS")

	// It fails: no run in flight any more.
	postLineage(t, srv.base, runEvent("FAIL", run1, now, `,"facets":{"errorMessage":{"message":"disk full","programmingLanguage":"python"}}`))
	stateOf(t, srv.base, key, "AT_RISK")
	var a struct {
		LastFailure *asset.Event `json:"last_failure"`
	}
	getJSON(t, srv.base+"/api/v1/assets/"+url.PathEscape(string(key)), &a)
	if a.LastFailure == nil || a.LastFailure.Metadata["error_message"].Text != "disk full" || a.LastFailure.RunID != run1 {
		t.Errorf("last failure = %+v", a.LastFailure)
	}

	// A retry starts and completes: fresh as of the COMPLETE.
	const run2 = "0193b000-0000-7000-8000-000000000002"
	postLineage(t, srv.base, runEvent("START", run2, now.Add(-9*time.Minute), ""))
	stateOf(t, srv.base, key, "PASS")
	postLineage(t, srv.base, runEvent("COMPLETE", run2, now, `,"facets":{}`))
	var f struct {
		Result struct {
			State    string    `json:"state"`
			DataTime time.Time `json:"data_time"`
		} `json:"result"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		getJSON(t, srv.base+"/api/v1/assets/"+url.PathEscape(string(key))+"/freshness", &f)
		if f.Result.State == "PASS" && f.Result.DataTime.Equal(now) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never fresh as of the COMPLETE: %+v", f.Result)
		}
	}
}

// TestOpenLineageSurvivesRestart: OpenLineage events acknowledged with
// 201 are in the catalog, the lineage and the history after a restart.
func TestOpenLineageSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg := app.Config{DataDir: t.TempDir(), Logger: quiet}
	srv := serve(t, cfg)
	for _, f := range []string{"spark_complete_column_lineage.json", "spark_fail.json", "dbt_model_complete.json", "job_event.json"} {
		postLineage(t, srv.base, olFile(t, f))
	}
	srv.stop()

	srv = serve(t, cfg)
	enriched := datasetKey(t, "s3://lake", "marts/orders_enriched")
	var sub struct {
		Edges []struct{ Upstream, Downstream asset.Key }
	}
	getJSON(t, srv.base+"/api/v1/assets/"+url.PathEscape(string(enriched))+"/lineage", &sub)
	edges := map[string]bool{}
	for _, e := range sub.Edges {
		edges[string(e.Upstream)+" -> "+string(e.Downstream)] = true
	}
	for _, want := range []string{
		string(datasetKey(t, "s3://lake", "raw/shop/orders")) + " -> " + string(enriched),
		string(enriched) + " -> " + string(datasetKey(t, "s3://lake", "marts/fx_exposure")),
	} {
		if !edges[want] {
			t.Errorf("after a restart, edge %s is missing: %v", want, sub.Edges)
		}
	}
	var a struct {
		Counts              map[string]int
		LastMaterialization *asset.Event `json:"last_materialization"`
	}
	getJSON(t, srv.base+"/api/v1/assets/"+url.PathEscape(string(enriched)), &a)
	if a.Counts["materialization"] != 1 || a.LastMaterialization == nil {
		t.Fatalf("after a restart: %+v", a)
	}
	if n, _ := a.LastMaterialization.Metadata.RowCount(); n != 119873 ||
		!strings.Contains(a.LastMaterialization.Metadata[openlineage.RawKey].Text, `"columnLineage"`) {
		t.Errorf("metadata after a restart: %v", a.LastMaterialization.Metadata)
	}
}

// BenchmarkOpenLineageIngest: OpenLineage RunEvents of about 5 KB (a Spark
// COMPLETE with schema and column lineage) posted over a real socket,
// beside native events making bodies of the same size, both stored
// durably in the embedded store. "one" is a request per ~5 KB body, from 8
// concurrent senders (what many producers each sending its events look
// like); "batch" is 200 RunEvents (about 1 MB) per request, and native
// NDJSON of the same size. Run:
//
//	go test -run '^$' -bench BenchmarkOpenLineageIngest -benchtime 3s -count 5 ./app/
func BenchmarkOpenLineageIngest(b *testing.B) {
	// The Spark COMPLETE of the tests, with the application details
	// facet Spark also sends: about 5 KB as compact JSON.
	template := strings.Replace(olFile(b, "spark_complete_column_lineage.json"), `"spark_properties": {`,
		`"spark_applicationDetails": {"_producer": "https://github.com/OpenLineage/OpenLineage/tree/1.40.1/integration/spark",
		"_schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet", "master": "yarn", "appName": "orders_enrichment",
		"applicationId": "application_1764000000000_0421", "deployMode": "cluster", "driverHost": "ip-10-0-3-17.eu-west-1.compute.internal",
		"userName": "etl", "uiWebUrl": "http://ip-10-0-3-17.eu-west-1.compute.internal:4040", "proxyUrl": "http://emr-master:20888/proxy/application_1764000000000_0421",
		"historyUrl": "http://emr-master:18080/history/application_1764000000000_0421/1"}, "spark_properties": {`, 1)
	var seq atomic.Int64
	olBody := func(n int) []byte {
		var buf bytes.Buffer
		for range n {
			i := seq.Add(1)
			ev := strings.Replace(template, "0193a7c2-5d1e-7f3a-b4c5-d6e7f8091a2b", fmt.Sprintf("0193a7c2-5d1e-7f3a-b4c5-%012x", i), 1)
			ev = strings.Replace(ev, `"marts/orders_enriched"`, fmt.Sprintf(`"marts/orders_enriched_%d"`, i%1000), 1)
			var c bytes.Buffer
			if err := json.Compact(&c, []byte(ev)); err != nil {
				b.Fatal(err)
			}
			buf.Write(c.Bytes())
			buf.WriteByte('\n')
		}
		return buf.Bytes()
	}
	// Native events until the body is as large as OpenLineage's.
	nativeBody := func(size int) ([]byte, int) {
		var buf bytes.Buffer
		n := 0
		for buf.Len() < size {
			i := seq.Add(1)
			events := benchEvents(int(i), 1)
			events[0].ID = fmt.Sprintf("native-%d", i)
			buf.Write(ndjson(events))
			n++
		}
		return buf.Bytes(), n
	}
	one := len(olBody(1))
	b.Logf("one RunEvent: %d bytes", one)

	for _, tt := range []struct {
		name     string
		path     string
		ctype    string
		body     func() ([]byte, int) // the body and its events
		parallel bool
	}{
		{"openlineage/one", "/api/v1/lineage", "application/json", func() ([]byte, int) { return olBody(1), 1 }, true},
		{"native/one", "/api/v1/events", "application/x-ndjson", func() ([]byte, int) { return nativeBody(one) }, true},
		{"openlineage/batch", "/api/v1/lineage/batch", "application/x-ndjson", func() ([]byte, int) { return olBody(200), 200 }, false},
		{"native/batch", "/api/v1/events", "application/x-ndjson", func() ([]byte, int) { return nativeBody(200 * one) }, false},
	} {
		b.Run(tt.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a, err := app.Open(ctx, app.Config{DataDir: b.TempDir(), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go a.Serve(ctx, ln)
			u := "http://" + ln.Addr().String() + tt.path
			// Bodies made beforehand, every id new (a repeated id is
			// dropped as a duplicate, which would flatter the figure):
			// the figure is the server's.
			bodies := make([][]byte, b.N)
			var size, events int64
			for i := range bodies {
				body, n := tt.body()
				bodies[i] = body
				size += int64(len(body))
				events += int64(n)
			}
			b.SetBytes(size / int64(b.N))
			var next atomic.Int64
			post := func(client *http.Client) {
				body := bodies[next.Add(1)-1]
				resp, err := client.Post(u, tt.ctype, bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					b.Errorf("status %d", resp.StatusCode)
				}
			}
			b.ResetTimer()
			if tt.parallel {
				b.SetParallelism(4) // 8 senders on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					client := &http.Client{}
					for pb.Next() {
						post(client)
					}
				})
			} else {
				client := &http.Client{}
				for range b.N {
					post(client)
				}
			}
			if err := a.Drain(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
