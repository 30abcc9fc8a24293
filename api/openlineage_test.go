package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/openlineage"
)

// Tests of POST /api/v1/lineage and /api/v1/lineage/batch (OpenLineage
// in) over the real socket of a full Freshet. The producer events are
// the openlineage package's testdata.

func olEvent(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "openlineage", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func olKey(t *testing.T, ns, name string) asset.Key {
	t.Helper()
	k, err := openlineage.DatasetKey(ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyURL(k asset.Key) string { return url.PathEscape(string(k)) }

// olBase is a valid RunEvent the invalid cases below each break once.
const olBase = `{
  "eventType": "COMPLETE",
  "eventTime": "2026-11-25T08:00:00.000Z",
  "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.40.1/client/python",
  "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
  "run": {"runId": "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
          "facets": {"errorMessage": {"message": "boom", "programmingLanguage": "PYTHON"},
                     "parent": {"run": {"runId": "0193a1b2-0000-7e4f-8a5b-6c7d8e9f0a1b"}, "job": {"namespace": "sched", "name": "dag"}}}},
  "job": {"namespace": "sched", "name": "dag.task", "facets": {"jobType": {"processingType": "BATCH", "integration": "AIRFLOW", "jobType": "TASK"}}},
  "inputs": [{"namespace": "postgres://db:5432", "name": "shop.public.orders"}],
  "outputs": [{"namespace": "postgres://db:5432", "name": "analytics.public.orders_daily",
               "facets": {"schema": {"fields": [{"name": "id", "type": "int"}]}},
               "outputFacets": {"outputStatistics": {"rowCount": 10, "size": 2048}}}]
}`

// edit is a change to olBase: set the member at path (dots, numbers index
// arrays) to value, or delete it when value is del.
type edit struct {
	path  string
	value any
}

var del = new(int)

func edited(t *testing.T, edits ...edit) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(olBase), &ev); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		parts := strings.Split(e.path, ".")
		var cur any = ev
		for i, p := range parts {
			last := i == len(parts)-1
			switch c := cur.(type) {
			case map[string]any:
				if last {
					if e.value == del {
						delete(c, p)
					} else {
						c[p] = e.value
					}
					continue
				}
				if _, ok := c[p]; !ok {
					c[p] = map[string]any{}
				}
				cur = c[p]
			case []any:
				n, err := strconv.Atoi(p)
				if err != nil || n >= len(c) {
					t.Fatalf("bad path %s", e.path)
				}
				if last {
					c[n] = e.value
					continue
				}
				cur = c[n]
			default:
				t.Fatalf("path %s goes through a %T", e.path, cur)
			}
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLineageInvalid: every broken event is a 400 naming the field (its
// JSON path) with a code, and nothing is stored.
func TestLineageInvalid(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	manyInputs := make([]any, openlineage.MaxDatasets+1)
	for i := range manyInputs {
		manyInputs[i] = map[string]any{"namespace": "ns", "name": fmt.Sprint("t", i)}
	}
	datasetEvent := func(edits ...edit) []edit {
		return append([]edit{{"run", del}, {"job", del}, {"eventType", del}, {"inputs", del}, {"outputs", del},
			{"schemaURL", "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"}}, edits...)
	}
	tests := []struct {
		name        string
		body        string // the body as is, or
		edits       []edit // olBase edited
		code, field string
	}{
		{name: "not JSON", body: `{"eventType":`, code: "invalid_json"},
		{name: "not an object", body: `"COMPLETE"`, code: "invalid_json"},
		{name: "an array to the single endpoint", body: `[` + olBase + `]`, code: "invalid_json"},
		{name: "NaN", body: strings.Replace(olBase, `"rowCount": 10`, `"rowCount": NaN`, 1), code: "invalid_json"},
		{name: "invalid UTF-8", body: strings.Replace(olBase, "dag.task", "dag.\xff", 1), code: "invalid_json"},
		{name: "member twice", body: strings.Replace(olBase, `"eventType": "COMPLETE",`, `"eventType": "COMPLETE", "eventType": "FAIL",`, 1), code: "duplicate_field", field: "eventType"},
		{name: "nested member twice", body: strings.Replace(olBase, `"rowCount": 10,`, `"rowCount": 10, "rowCount": 11,`, 1), code: "duplicate_field", field: "outputs[0].outputFacets.outputStatistics.rowCount"},
		{name: "empty object", body: `{}`, code: "missing_field", field: "eventTime"},
		{name: "eventTime missing", edits: []edit{{"eventTime", del}}, code: "missing_field", field: "eventTime"},
		{name: "eventTime a number", edits: []edit{{"eventTime", 1764057600}}, code: "invalid_value", field: "eventTime"},
		{name: "eventTime not a time", edits: []edit{{"eventTime", "yesterday"}}, code: "invalid_value", field: "eventTime"},
		{name: "eventTime a date only", edits: []edit{{"eventTime", "2026-11-25"}}, code: "invalid_value", field: "eventTime"},
		{name: "eventTime in the future", edits: []edit{{"eventTime", "2099-01-01T00:00:00Z"}}, code: "invalid_value", field: "eventTime"},
		{name: "eventTime before 1970", edits: []edit{{"eventTime", "1969-12-31T23:59:59Z"}}, code: "invalid_value", field: "eventTime"},
		{name: "eventType missing", edits: []edit{{"eventType", del}}, code: "missing_field", field: "eventType"},
		{name: "eventType unknown", edits: []edit{{"eventType", "DONE"}}, code: "invalid_value", field: "eventType"},
		{name: "eventType a number", edits: []edit{{"eventType", 3}}, code: "invalid_value", field: "eventType"},
		{name: "run missing", edits: []edit{{"run", del}}, code: "missing_field", field: "run"},
		{name: "run a string", edits: []edit{{"run", "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"}}, code: "invalid_value", field: "run"},
		{name: "runId missing", edits: []edit{{"run.runId", del}}, code: "missing_field", field: "run.runId"},
		{name: "runId not a UUID", edits: []edit{{"run.runId", "run-812"}}, code: "invalid_value", field: "run.runId"},
		{name: "runId a number", edits: []edit{{"run.runId", 812}}, code: "invalid_value", field: "run.runId"},
		{name: "run facets an array", edits: []edit{{"run.facets", []any{}}}, code: "invalid_value", field: "run.facets"},
		{name: "errorMessage a string", edits: []edit{{"run.facets.errorMessage", "boom"}}, code: "invalid_value", field: "run.facets.errorMessage"},
		{name: "errorMessage message a number", edits: []edit{{"run.facets.errorMessage.message", 42}}, code: "invalid_value", field: "run.facets.errorMessage.message"},
		{name: "parent runId a number", edits: []edit{{"run.facets.parent.run.runId", 1}}, code: "invalid_value", field: "run.facets.parent.run.runId"},
		{name: "parent job a list", edits: []edit{{"run.facets.parent.job", []any{"sched", "dag"}}}, code: "invalid_value", field: "run.facets.parent.job"},
		{name: "job missing", edits: []edit{{"job", del}}, code: "missing_field", field: "job"},
		{name: "job a string", edits: []edit{{"job", "sched/dag.task"}}, code: "invalid_value", field: "job"},
		{name: "job namespace missing", edits: []edit{{"job.namespace", del}}, code: "missing_field", field: "job.namespace"},
		{name: "job name empty", edits: []edit{{"job.name", ""}}, code: "invalid_value", field: "job.name"},
		{name: "jobType processingType a bool", edits: []edit{{"job.facets.jobType.processingType", true}}, code: "invalid_value", field: "job.facets.jobType.processingType"},
		{name: "producer missing", edits: []edit{{"producer", del}}, code: "missing_field", field: "producer"},
		{name: "producer a number", edits: []edit{{"producer", 1}}, code: "invalid_value", field: "producer"},
		{name: "schemaURL an object", edits: []edit{{"schemaURL", map[string]any{}}}, code: "invalid_value", field: "schemaURL"},
		{name: "inputs an object", edits: []edit{{"inputs", map[string]any{}}}, code: "invalid_value", field: "inputs"},
		{name: "input a string", edits: []edit{{"inputs.0", "postgres://db:5432/shop.public.orders"}}, code: "invalid_value", field: "inputs[0]"},
		{name: "input namespace missing", edits: []edit{{"inputs.0.namespace", del}}, code: "missing_field", field: "inputs[0].namespace"},
		{name: "too many inputs", edits: []edit{{"inputs", manyInputs}}, code: "invalid_value", field: "inputs"},
		{name: "input facets a string", edits: []edit{{"inputs.0.inputFacets", "x"}}, code: "invalid_value", field: "inputs[0].inputFacets"},
		{name: "output name missing", edits: []edit{{"outputs.0.name", del}}, code: "missing_field", field: "outputs[0].name"},
		{name: "output name too long", edits: []edit{{"outputs.0.name", strings.Repeat("x", asset.MaxKeyLen)}}, code: "invalid_value", field: "outputs[0].name"},
		{name: "output namespace a number", edits: []edit{{"outputs.0.namespace", 5432}}, code: "invalid_value", field: "outputs[0].namespace"},
		{name: "schema fields a string", edits: []edit{{"outputs.0.facets.schema.fields", "id int"}}, code: "invalid_value", field: "outputs[0].facets.schema.fields"},
		{name: "dataSource uri a number", edits: []edit{{"outputs.0.facets.dataSource", map[string]any{"uri": 1}}}, code: "invalid_value", field: "outputs[0].facets.dataSource.uri"},
		{name: "outputFacets an array", edits: []edit{{"outputs.0.outputFacets", []any{}}}, code: "invalid_value", field: "outputs[0].outputFacets"},
		{name: "rowCount negative", edits: []edit{{"outputs.0.outputFacets.outputStatistics.rowCount", -1}}, code: "invalid_value", field: "outputs[0].outputFacets.outputStatistics.rowCount"},
		{name: "rowCount fractional", edits: []edit{{"outputs.0.outputFacets.outputStatistics.rowCount", 1.5}}, code: "invalid_value", field: "outputs[0].outputFacets.outputStatistics.rowCount"},
		{name: "rowCount a string", edits: []edit{{"outputs.0.outputFacets.outputStatistics.rowCount", "10"}}, code: "invalid_value", field: "outputs[0].outputFacets.outputStatistics.rowCount"},
		{name: "size negative", edits: []edit{{"outputs.0.outputFacets.outputStatistics.size", -2048}}, code: "invalid_value", field: "outputs[0].outputFacets.outputStatistics.size"},
		{name: "DatasetEvent without dataset", edits: datasetEvent(), code: "missing_field", field: "dataset"},
		{name: "DatasetEvent dataset name missing", edits: datasetEvent(edit{"dataset", map[string]any{"namespace": "bigquery"}}), code: "missing_field", field: "dataset.name"},
		{name: "JobEvent job name missing", edits: []edit{{"run", del}, {"eventType", del}, {"job.name", del},
			{"schemaURL", "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"}}, code: "missing_field", field: "job.name"},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := tt.body
			if body == "" {
				body = edited(t, tt.edits...)
			}
			r := post(t, base+"/api/v1/lineage", "application/json", body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400: %s", r.status, r.body)
			}
			code, field, _ := errorOf(t, r)
			if code != tt.code || field != tt.field {
				t.Errorf("error = %q %q, want %q %q: %s", code, field, tt.code, tt.field, r.body)
			}
		})
	}
	t.Cleanup(func() {
		// Not one of them stored anything (or made an asset).
		drained(t, base)
		if r := get(t, base+"/api/v1/events"); bytes.Contains(r.body, []byte(`"id":"ol-`)) {
			t.Errorf("a refused event was stored: %s", r.body)
		}
		if r := get(t, base+"/api/v1/assets?q=ol/"); bytes.Contains(r.body, []byte(`"ol/`)) {
			t.Errorf("a refused event made an asset: %s", r.body)
		}
	})
}

// TestLineageErrorsListsAll: the 400 names the first problem as every
// endpoint does, and lists all of them.
func TestLineageErrorsListsAll(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	r := post(t, base+"/api/v1/lineage", "application/json", edited(t, edit{"run.runId", "x"}, edit{"job.name", del}, edit{"producer", del}))
	var body struct {
		Error  struct{ Field, RequestID string }
		Errors []struct{ Code, Field, Message string }
	}
	if err := json.Unmarshal(r.body, &body); err != nil || r.status != 400 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var fields []string
	for _, e := range body.Errors {
		fields = append(fields, e.Field)
	}
	if body.Error.Field != "run.runId" || strings.Join(fields, ",") != "run.runId,job.name,producer" {
		t.Errorf("errors = %s", r.body)
	}
	if !strings.HasPrefix(body.Errors[0].Message, "must be a UUID") {
		t.Errorf("message = %q", body.Errors[0].Message)
	}
}

// TestLineageProducers is the end-to-end test: events as Airflow, Spark,
// dbt and Flink send them make assets of their datasets, observed lineage
// from inputs to outputs, materializations with the run's statistics,
// and a Spark FAIL a materialization_failed with its error.
func TestLineageProducers(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	files := []struct {
		name     string
		accepted int
	}{
		{"airflow_dag_start.json", 0}, // names no dataset
		{"airflow_task_start.json", 1},
		{"airflow_task_complete.json", 1},
		{"spark_complete_column_lineage.json", 1},
		{"spark_fail.json", 1},
		{"dbt_model_complete.json", 1},
		{"flink_streaming_running.json", 1},
		{"dataset_event.json", 1},
		{"job_event.json", 1},
	}
	for _, f := range files {
		r := post(t, base+"/api/v1/lineage", "application/json", olEvent(t, f.name))
		if r.status != http.StatusCreated {
			t.Fatalf("%s: %d %s", f.name, r.status, r.body)
		}
		var got struct{ Received, Accepted int }
		if err := json.Unmarshal(r.body, &got); err != nil || got.Received != 1 || got.Accepted != f.accepted {
			t.Errorf("%s: %s, want %d accepted", f.name, r.body, f.accepted)
		}
	}
	// A retry (the clients retry on 5xx and timeouts) is stored once.
	if r := post(t, base+"/api/v1/lineage", "application/json", olEvent(t, "airflow_task_complete.json")); r.status != http.StatusCreated {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}

	lake := func(name string) asset.Key { return olKey(t, "s3://lake", name) }
	orders := olKey(t, "postgres://warehouse.internal:5432", "analytics.public.orders_daily")

	// Every dataset is an asset, inputs included.
	r := get(t, base+"/api/v1/assets?origin=discovered")
	for _, k := range []asset.Key{orders, olKey(t, "postgres://shop-db.internal:5432", "shop.public.customers"),
		lake("raw/shop/orders"), lake("marts/orders_enriched"), lake("marts/fx_exposure"),
		olKey(t, "snowflake://xy12345.eu-west-1.aws", "ANALYTICS.JAFFLE_SHOP.CUSTOMERS"),
		olKey(t, "kafka://kafka-prod-1:9092,kafka-prod-2:9092", "web.sessions"),
		olKey(t, "bigquery", "acme-prod.finance.fx_rates"), olKey(t, "bigquery", "acme-prod.finance.fx_exposure")} {
		if !bytes.Contains(r.body, []byte(`"key":`+mustMarshal(t, k))) {
			t.Errorf("asset %s missing from %s", k, r.body)
		}
	}

	// Observed lineage: the Spark job's inputs feed its output, which
	// feeds the failed job's output.
	r = get(t, base+"/api/v1/assets/"+keyURL(lake("marts/orders_enriched"))+"/lineage")
	var sub struct {
		Edges []struct {
			Upstream, Downstream asset.Key
			Observed             bool
		}
	}
	if err := json.Unmarshal(r.body, &sub); err != nil || r.status != 200 {
		t.Fatalf("lineage = %d %s", r.status, r.body)
	}
	edges := map[string]bool{}
	for _, e := range sub.Edges {
		edges[string(e.Upstream)+" -> "+string(e.Downstream)] = e.Observed
	}
	for _, want := range []string{
		string(lake("raw/shop/orders")) + " -> " + string(lake("marts/orders_enriched")),
		string(lake("raw/shop/customers")) + " -> " + string(lake("marts/orders_enriched")),
		string(lake("marts/orders_enriched")) + " -> " + string(lake("marts/fx_exposure")),
	} {
		if !edges[want] {
			t.Errorf("observed edge %s missing: %s", want, r.body)
		}
	}

	// The Airflow task: a run started, then a materialization with the
	// row count, once despite the retry (counted once when the store has
	// said the retry was a copy).
	drained(t, base)
	var a struct {
		Counts              map[string]int
		LastMaterialization *asset.Event `json:"last_materialization"`
		LastFailure         *asset.Event `json:"last_failure"`
		RowCount            *int64       `json:"row_count"`
	}
	getInto(t, base+"/api/v1/assets/"+keyURL(orders), &a)
	if a.Counts["run_started"] != 1 || a.Counts["materialization"] != 1 {
		t.Errorf("counts = %v", a.Counts)
	}
	if m := a.LastMaterialization; m == nil || m.RunID != "01936a1e-43b0-7c55-9a4e-2d8f4c61b0e7" {
		t.Fatalf("last materialization = %+v", m)
	} else if n, _ := m.Metadata.RowCount(); n != 18342 || m.Metadata["job_name"].Text != "shop_daily.load_orders" {
		t.Errorf("metadata = %v", m.Metadata)
	}

	// The Spark failure.
	a.LastFailure = nil
	getInto(t, base+"/api/v1/assets/"+keyURL(lake("marts/fx_exposure")), &a)
	if f := a.LastFailure; f == nil || f.Kind != asset.KindMaterializationFailed ||
		!strings.Contains(f.Metadata["error_message"].Text, "TABLE_OR_VIEW_NOT_FOUND") {
		t.Errorf("last failure = %+v", f)
	}

	// The raw event comes back with the asset's events.
	drained(t, base)
	var page struct{ Events []asset.Event }
	getInto(t, base+"/api/v1/assets/"+keyURL(lake("marts/orders_enriched"))+"/events?kind=materialization", &page)
	if len(page.Events) != 1 {
		t.Fatalf("events = %+v", page.Events)
	}
	raw := page.Events[0].Metadata[openlineage.RawKey]
	if raw.Type != asset.MetaJSON || !strings.Contains(raw.Text, `"columnLineage"`) {
		t.Errorf("raw event not kept: %v", raw)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func getInto(t *testing.T, u string, v any) {
	t.Helper()
	r := get(t, u)
	if r.status != 200 {
		t.Fatalf("GET %s = %d %s", u, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, r.body)
	}
}

// TestLineageBatch: a JSON array or NDJSON; one bad event stores none of
// them, and is named by its index or line.
func TestLineageBatch(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	good := []string{
		compactJSON(t, olEvent(t, "airflow_task_start.json")),
		compactJSON(t, olEvent(t, "airflow_task_complete.json")),
		compactJSON(t, olEvent(t, "dbt_model_complete.json")),
	}
	bad := compactJSON(t, edited(t, edit{"run.runId", "nope"}))

	r := post(t, base+"/api/v1/lineage/batch", "application/json", "["+good[0]+","+good[1]+","+bad+"]")
	if code, field, line := errorOf(t, r); r.status != 400 || code != "invalid_value" || field != "[2].run.runId" || line != 0 {
		t.Errorf("array with a bad event = %d %s", r.status, r.body)
	}
	r = post(t, base+"/api/v1/lineage/batch", "application/x-ndjson", good[0]+"\n\n"+bad+"\n"+good[1]+"\n")
	if code, field, line := errorOf(t, r); r.status != 400 || code != "invalid_value" || field != "run.runId" || line != 3 {
		t.Errorf("NDJSON with a bad event = %d %s", r.status, r.body)
	}
	r = post(t, base+"/api/v1/lineage/batch", "application/json", `[]`)
	if code, _, _ := errorOf(t, r); r.status != 400 || code != "missing_field" {
		t.Errorf("empty batch = %d %s", r.status, r.body)
	}
	drained(t, base)
	if r := get(t, base+"/api/v1/events"); bytes.Contains(r.body, []byte(`"id":"ol-`)) {
		t.Fatalf("a refused batch stored events: %s", r.body)
	}

	r = post(t, base+"/api/v1/lineage/batch", "application/x-ndjson", strings.Join(good, "\n")+"\n")
	if r.status != http.StatusCreated || !bytes.Contains(r.body, []byte(`"received":3,"accepted":3`)) {
		t.Fatalf("NDJSON batch = %d %s", r.status, r.body)
	}
	r = post(t, base+"/api/v1/lineage/batch", "application/json", "[\n"+strings.Join(good, ",\n")+"\n]")
	if r.status != http.StatusCreated || !bytes.Contains(r.body, []byte(`"received":3,"accepted":3`)) {
		t.Fatalf("array batch = %d %s", r.status, r.body)
	}
	drained(t, base)
	var page struct{ Events []asset.Event }
	getInto(t, base+"/api/v1/events", &page)
	stored := 0
	for _, e := range page.Events {
		if strings.HasPrefix(e.ID, "ol-") {
			stored++
		}
	}
	if stored != 3 { // the array repeated the NDJSON: the same ids
		t.Errorf("%d events stored, want 3", stored)
	}
}

// TestLineageTooManyEvents: --max-events-per-request bounds a batch's
// OpenLineage events and the events they make (one per output).
func TestLineageTooManyEvents(t *testing.T) {
	t.Parallel()
	base := serverWith(t, func(c *app.Config) { c.MaxEvents = 2 })
	one := compactJSON(t, olEvent(t, "dbt_model_complete.json"))
	three := strings.Replace(compactJSON(t, olBase), `"outputs":[`, `"outputs":[{"namespace":"pg","name":"a"},{"namespace":"pg","name":"b"},`, 1)
	for name, body := range map[string]string{
		"three events":         one + "\n" + one + "\n" + one,
		"four outputs in two":  one + "\n" + three,
		"three outputs in one": three,
	} {
		r := post(t, base+"/api/v1/lineage/batch", "application/x-ndjson", body)
		if code, _, _ := errorOf(t, r); r.status != 400 || code != "too_many_events" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := post(t, base+"/api/v1/lineage/batch", "application/x-ndjson", one+"\n"+one); r.status != http.StatusCreated {
		t.Errorf("two events: %d %s", r.status, r.body)
	}
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func postEncoded(t *testing.T, u, encoding string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", encoding)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, buf.Bytes()}
}

// TestLineageGzipAndLimits: gzip bodies are read; the body limit bounds
// both the bytes sent and what they inflate to; other encodings are 415.
func TestLineageGzipAndLimits(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	base := server(t, limit)
	one := olEvent(t, "spark_complete_column_lineage.json")
	if r := postEncoded(t, base+"/api/v1/lineage", "gzip", gzipped(t, one)); r.status != http.StatusCreated {
		t.Errorf("gzip event = %d %s", r.status, r.body)
	}
	batch := "[" + olEvent(t, "dbt_model_complete.json") + "," + olEvent(t, "spark_fail.json") + "]"
	if r := postEncoded(t, base+"/api/v1/lineage/batch", "gzip", gzipped(t, batch)); r.status != http.StatusCreated ||
		!bytes.Contains(r.body, []byte(`"accepted":2`)) {
		t.Errorf("gzip batch = %d %s", r.status, r.body)
	}

	// A small body that inflates past the limit (spaces compress well).
	bomb := strings.Replace(one, `"eventType"`, strings.Repeat(" ", limit)+`"eventType"`, 1)
	if z := gzipped(t, bomb); len(z) > limit/4 {
		t.Fatalf("the bomb compresses to %d bytes", len(z))
	}
	for _, tt := range []struct {
		name, encoding string
		body           []byte
		status         int
		code, field    string
	}{
		{"inflates past the limit", "gzip", gzipped(t, bomb), 413, "body_too_large", ""},
		{"larger than the limit", "", []byte(bomb), 413, "body_too_large", ""},
		{"not gzip", "gzip", []byte(one), 400, "invalid_value", "Content-Encoding"},
		{"truncated gzip", "gzip", gzipped(t, one)[:200], 400, "invalid_value", "Content-Encoding"},
		{"brotli", "br", []byte(one), 415, "unsupported_media_type", "Content-Encoding"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := postEncoded(t, base+"/api/v1/lineage", tt.encoding, tt.body)
			if code, field, _ := errorOf(t, r); r.status != tt.status || code != tt.code || field != tt.field {
				t.Errorf("= %d %s, want %d %s %s", r.status, r.body, tt.status, tt.code, tt.field)
			}
		})
	}
	if r := post(t, base+"/api/v1/lineage", "text/plain", one); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain = %d %s", r.status, r.body)
	}
}

// TestLineageRoutes: POST /api/v1/lineage lives beside the lineage reads
// under /api/v1/lineage/... without taking their paths or methods.
func TestLineageRoutes(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v1/lineage", 400}, // the Marquez-compatible read, without its nodeId
		{"GET", "/api/v1/lineage/batch", 405},
		{"GET", "/api/v1/lineage/graph", 200},
		{"GET", "/api/v1/lineage/roots", 200},
		{"POST", "/api/v1/lineage/graph", 405},
	} {
		if r := do(t, tt.method, base+tt.path, "application/json", ""); r.status != tt.status {
			t.Errorf("%s %s = %d, want %d: %s", tt.method, tt.path, r.status, tt.status, r.body)
		}
	}
}
