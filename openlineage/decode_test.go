package openlineage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustKey(t testing.TB, ns, name string) asset.Key {
	t.Helper()
	k, err := DatasetKey(ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func metaString(m asset.Metadata, name string) string {
	v, ok := m[name]
	if !ok {
		return "<none>"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestProducers: a hand-written event in each producer's style maps to
// the Freshet events docs/openlineage.md promises.
func TestProducers(t *testing.T) {
	t.Parallel()
	pg := func(name string) asset.Key { return mustKey(t, "postgres://shop-db.internal:5432", name) }
	lake := func(name string) asset.Key { return mustKey(t, "s3://lake", name) }
	snow := func(name string) asset.Key { return mustKey(t, "snowflake://xy12345.eu-west-1.aws", name) }
	kafka := func(name string) asset.Key { return mustKey(t, "kafka://kafka-prod-1:9092,kafka-prod-2:9092", name) }
	bq := func(name string) asset.Key { return mustKey(t, "bigquery", name) }
	type want struct {
		kind     asset.Kind
		asset    asset.Key
		time     string
		runID    string
		upstream []asset.Key
		meta     map[string]string // name -> JSON of the value ("<none>": absent)
	}
	for _, tt := range []struct {
		file string
		want []want
	}{
		{"airflow_task_start.json", []want{{
			kind: asset.KindRunStarted, asset: mustKey(t, "postgres://warehouse.internal:5432", "analytics.public.orders_daily"),
			time: "2026-11-25T06:00:04.812345Z", runID: "01936a1e-43b0-7c55-9a4e-2d8f4c61b0e7",
			upstream: []asset.Key{pg("shop.public.orders"), pg("shop.public.customers")},
			meta: map[string]string{
				"job_namespace": `"airflow-prod"`, "job_name": `"shop_daily.load_orders"`, "event_type": `"START"`,
				"parent_run_id": `"01936a1e-3f00-7a1b-8c2d-3e4f5a6b7c8d"`, "parent_job_name": `"shop_daily"`,
				"root_job_namespace": `"airflow-prod"`, "nominal_end_time": `"2026-11-25T06:00:00.000000Z"`,
				"processing_type": `"BATCH"`, "integration": `"AIRFLOW"`, "job_type": `"TASK"`,
				"producer":  `"https://github.com/apache/airflow/tree/providers-openlineage/2.3.0"`,
				"row_count": "<none>",
			},
		}}},
		{"airflow_task_complete.json", []want{{
			kind: asset.KindMaterialization, asset: mustKey(t, "postgres://warehouse.internal:5432", "analytics.public.orders_daily"),
			time: "2026-11-25T06:03:41.097512Z", runID: "01936a1e-43b0-7c55-9a4e-2d8f4c61b0e7",
			upstream: []asset.Key{pg("shop.public.orders"), pg("shop.public.customers")},
			meta: map[string]string{
				"row_count": "18342", "data_source": `"postgres://warehouse.internal:5432"`,
				"columns":    `[{"name":"order_id","type":"bigint","description":"shop order id"},{"name":"customer_id","type":"bigint"},{"name":"created_at","type":"timestamptz"},{"name":"amount","type":"numeric(12,2)"},{"name":"segment","type":"text"}]`,
				"event_type": `"COMPLETE"`,
			},
		}}},
		{"airflow_dag_start.json", nil}, // no dataset: nothing to store
		{"spark_complete_column_lineage.json", []want{{
			kind: asset.KindMaterialization, asset: lake("marts/orders_enriched"),
			time: "2026-11-25T07:12:03.514Z", runID: "0193a7c2-5d1e-7f3a-b4c5-d6e7f8091a2b",
			upstream: []asset.Key{lake("raw/shop/orders"), lake("raw/shop/customers")},
			meta: map[string]string{
				"row_count": "119873", "size_bytes": "28411002", "file_count": "8",
				"data_source": `"s3://lake"`, "data_source_name": `"s3://lake"`,
				"parent_job_name": `"orders_enrichment"`, "integration": `"SPARK"`,
				// the join key that affects every column (the facet's dataset inputs) is not any one column's lineage
				asset.ColumnLineageKey: mustJSON(t, asset.ColumnLineage{
					"amount":   {{ColumnRef: asset.ColumnRef{Asset: lake("raw/shop/orders"), Column: "amount"}, Transformation: "DIRECT/IDENTITY"}},
					"order_id": {{ColumnRef: asset.ColumnRef{Asset: lake("raw/shop/orders"), Column: "order_id"}, Transformation: "DIRECT/IDENTITY"}},
					"country": {
						{ColumnRef: asset.ColumnRef{Asset: lake("raw/shop/customers"), Column: "country"}, Transformation: "DIRECT/IDENTITY"},
						{ColumnRef: asset.ColumnRef{Asset: lake("raw/shop/customers"), Column: "customer_id"}, Transformation: "INDIRECT/JOIN"},
					},
				}),
			},
		}}},
		{"spark_fail.json", []want{{
			kind: asset.KindMaterializationFailed, asset: lake("marts/fx_exposure"),
			time: "2026-11-25T07:40:19.877Z", runID: "0193a7e0-11aa-7c2d-9e8f-0a1b2c3d4e5f",
			upstream: []asset.Key{lake("marts/orders_enriched")},
			meta: map[string]string{
				"error_message": "\"org.apache.spark.sql.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table or view `raw`.`fx_rates` cannot be found.\"",
				"event_type":    `"FAIL"`,
			},
		}}},
		{"dbt_model_complete.json", []want{{
			kind: asset.KindMaterialization, asset: snow("ANALYTICS.JAFFLE_SHOP.CUSTOMERS"),
			time: "2026-11-25T08:02:55.441872Z", runID: "6f0bd9a4-8d6f-4c1e-9f62-1b2a7c3d4e5f",
			upstream: []asset.Key{snow("ANALYTICS.JAFFLE_SHOP.STG_CUSTOMERS"), snow("ANALYTICS.JAFFLE_SHOP.STG_ORDERS")},
			meta:     map[string]string{"row_count": "100", "job_name": `"analytics.jaffle_shop.customers"`, "parent_run_id": `"0a6d3c3e-2b1f-4f5e-8d7c-6b5a4f3e2d1c"`},
		}}},
		{"flink_streaming_running.json", []want{{
			kind: asset.KindMaterialization, asset: kafka("web.sessions"),
			time: "2026-11-25T09:15:00.123456789Z", runID: "0193a8f1-0c2b-7d4e-8f90-a1b2c3d4e5f6",
			upstream: []asset.Key{kafka("web.clicks")},
			meta:     map[string]string{"processing_type": `"STREAMING"`, "event_type": `"RUNNING"`},
		}}},
		{"dataset_event.json", []want{{
			kind: asset.KindObservation, asset: bq("acme-prod.finance.fx_rates"), time: "2026-11-25T10:00:00Z",
			meta: map[string]string{
				"columns":  `[{"name":"currency","type":"STRING"},{"name":"rate","type":"NUMERIC"},{"name":"as_of","type":"DATE"}]`,
				"producer": `"https://github.com/acme/catalog-crawler/tree/v0.9.2"`, "event_type": "<none>", "job_name": "<none>",
				"data_source": `"bigquery"`,
			},
		}}},
		{"job_event.json", []want{{
			kind: asset.KindObservation, asset: bq("acme-prod.finance.fx_exposure"), time: "2026-11-25T10:05:00Z",
			upstream: []asset.Key{bq("acme-prod.finance.fx_rates"), bq("acme-prod.marts.orders_enriched")},
			meta:     map[string]string{"job_namespace": `"acme-batch"`, "job_name": `"finance.fx_exposure"`, "event_type": "<none>"},
		}}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			raw := readEvent(t, tt.file)
			events, err := Decode(raw, testNow)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(events) != len(tt.want) {
				t.Fatalf("got %d events, want %d: %+v", len(events), len(tt.want), events)
			}
			for i, w := range tt.want {
				e := events[i]
				if e.Kind != w.kind || e.Asset != w.asset || e.RunID != w.runID || e.Time.Format(time.RFC3339Nano) != w.time {
					t.Errorf("event %d = %s %s run %q at %s, want %s %s run %q at %s", i,
						e.Kind, e.Asset, e.RunID, e.Time.Format(time.RFC3339Nano), w.kind, w.asset, w.runID, w.time)
				}
				if !slices.Equal(e.Upstream, w.upstream) {
					t.Errorf("upstream = %v, want %v", e.Upstream, w.upstream)
				}
				for name, v := range w.meta {
					if got := metaString(e.Metadata, name); got != v {
						t.Errorf("metadata %s = %s, want %s", name, got, v)
					}
				}
				// The raw event is kept, whole.
				var kept, sent any
				if err := json.Unmarshal([]byte(e.Metadata[RawKey].Text), &kept); err != nil {
					t.Fatalf("metadata openlineage: %v", err)
				}
				if err := json.Unmarshal(raw, &sent); err != nil {
					t.Fatal(err)
				}
				if a, b := mustJSON(t, kept), mustJSON(t, sent); a != b {
					t.Errorf("kept raw event differs from the sent one:\n%s\n%s", a, b)
				}
				if !strings.HasPrefix(e.ID, "ol-") || len(e.ID) != 35 {
					t.Errorf("id = %q", e.ID)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const minimal = `{"eventType":"COMPLETE","eventTime":"2026-11-25T08:00:00Z","producer":"https://example.com/p",
 "run":{"runId":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"},"job":{"namespace":"ns","name":"job"},
 "inputs":[{"namespace":"pg://db","name":"a.b.in"}],"outputs":[{"namespace":"pg://db","name":"a.b.out"}]}`

// TestLenient: what real producers send that the schema does not quite
// allow is accepted, with the meaning it obviously has.
func TestLenient(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, from, to string
		time           string // the event's time in RFC 3339, if it changes
	}{
		{"no schemaURL", ``, ``, ""},
		{"definitions fragment", `"producer"`, `"schemaURL":"https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/RunEvent","producer"`, ""},
		{"$defs fragment", `"producer"`, `"schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent","producer"`, ""},
		{"time without zone", `08:00:00Z`, `08:00:00`, "2026-11-25T08:00:00Z"},
		{"time with nanoseconds", `08:00:00Z`, `08:00:00.123456789Z`, "2026-11-25T08:00:00.123456789Z"},
		{"time with picoseconds", `08:00:00Z`, `08:00:00.123456789123Z`, "2026-11-25T08:00:00.123456789Z"},
		{"time with an offset", `08:00:00Z`, `09:30:00+01:30`, "2026-11-25T08:00:00Z"},
		{"time with a compact offset", `08:00:00Z`, `03:00:00-0500`, "2026-11-25T08:00:00Z"},
		{"time with a space", `2026-11-25T08:00:00Z`, `2026-11-25 08:00:00.5+00:00`, "2026-11-25T08:00:00.5Z"},
		{"Java zone region", `08:00:00Z`, `09:00:00.001+01:00[Europe/Paris]`, "2026-11-25T08:00:00.001Z"},
		{"facets without _producer", `"job":{"namespace":"ns","name":"job"}`, `"job":{"namespace":"ns","name":"job","facets":{"jobType":{"processingType":"BATCH","integration":"X","jobType":"TASK"}}}`, ""},
		{"unknown facets", `"runId":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"`, `"runId":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b","facets":{"acme_cost":{"usd":1.25,"tags":["x"]},"weird":[1,2]}`, ""},
		{"unknown top-level member", `"producer"`, `"acmeTrace":{"id":7},"producer"`, ""},
		{"lower-case eventType", `"COMPLETE"`, `"complete"`, ""},
		{"upper-case runId", `0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b`, `0193A1B2-7C3D-7E4F-8A5B-6C7D8E9F0A1B`, ""},
		{"null members", `"inputs"`, `"schemaURL":null,"facets":null,"inputs"`, ""},
		{"output that is also an input", `"name":"a.b.in"}]`, `"name":"a.b.in"},{"namespace":"pg://db","name":"a.b.out"}]`, ""},
		{"deleted facet", `"name":"a.b.out"}`, `"name":"a.b.out","facets":{"schema":{"_deleted":true,"fields":"gone"}}}`, ""},
		{"byte order mark", `{"eventType"`, "\ufeff{\"eventType\"", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := minimal
			if tt.from != "" {
				if !strings.Contains(body, tt.from) {
					t.Fatalf("%q is not in the event", tt.from)
				}
				body = strings.Replace(body, tt.from, tt.to, 1)
			}
			events, err := Decode([]byte(body), testNow)
			if err != nil {
				t.Fatalf("refused: %v\n%s", err, body)
			}
			if len(events) != 1 {
				t.Fatalf("%d events", len(events))
			}
			e := events[0]
			want := mustKey(t, "pg://db", "a.b.out")
			if e.Kind != asset.KindMaterialization || e.Asset != want || e.RunID != "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b" {
				t.Errorf("event = %+v", e)
			}
			if !slices.Equal(e.Upstream, []asset.Key{mustKey(t, "pg://db", "a.b.in")}) {
				t.Errorf("upstream = %v", e.Upstream)
			}
			if tt.time != "" && e.Time.Format(time.RFC3339Nano) != tt.time {
				t.Errorf("time = %s, want %s", e.Time.Format(time.RFC3339Nano), tt.time)
			}
			if _, ok := e.Metadata["columns"]; ok {
				t.Error("a deleted schema facet became columns")
			}
		})
	}
}

// TestErrors: the decoder names the JSON path of each problem, and finds
// them all; in a batch, with the array index or the NDJSON line.
func TestErrors(t *testing.T) {
	t.Parallel()
	_, err := Decode([]byte(`{"eventType":"DONE","eventTime":"soon","run":{"runId":"r-1"},"job":{"namespace":"","name":7},"outputs":[{"namespace":"x"}]}`), testNow)
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v (%T)", err, err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Code+" "+e.Field)
	}
	want := []string{
		"invalid_value eventTime", "invalid_value eventType", "invalid_value run.runId", "invalid_value job.namespace",
		"invalid_value job.name", "missing_field outputs[0].name", "missing_field producer",
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if msg := es[2].Error(); !strings.HasPrefix(msg, "run.runId: must be a UUID") {
		t.Errorf("message = %q", msg)
	}

	good := strings.ReplaceAll(minimal, "\n", "")
	bad := strings.Replace(good, `"producer":"https://example.com/p",`, ``, 1)
	_, _, err = DecodeBatch([]byte("["+good+","+good+","+bad+"]"), testNow, 0)
	if !errors.As(err, &es) || es[0].Field != "[2].producer" || es[0].Line != 0 {
		t.Errorf("array: %v", err)
	}
	_, _, err = DecodeBatch([]byte(good+"\n\n"+bad+"\n"), testNow, 0)
	if !errors.As(err, &es) || es[0].Field != "producer" || es[0].Line != 3 {
		t.Errorf("ndjson: %v", err)
	}
	events, n, err := DecodeBatch([]byte(good+"\n"+strings.Replace(good, "08:00", "09:00", 1)), testNow, 0)
	if err != nil || n != 2 || len(events) != 2 || events[0].ID == events[1].ID {
		t.Errorf("two events of a run: %v %d %v", err, n, events)
	}
	if _, err := Decode([]byte("["+good+"]"), testNow); err == nil || !strings.Contains(err.Error(), "batch") {
		t.Errorf("an array sent as one event: %v", err)
	}
}

// TestOutputs: each output is an event with the run's inputs as its
// upstream and its own statistics; the raw event is kept once, on the
// first, and the others name that one.
func TestOutputs(t *testing.T) {
	t.Parallel()
	body := strings.Replace(minimal, `"outputs":[{"namespace":"pg://db","name":"a.b.out"}]`,
		`"outputs":[{"namespace":"pg://db","name":"a.b.out"},
		 {"namespace":"pg://db","name":"a.b.out2","outputFacets":{"outputStatistics":{"rowCount":7}}},
		 {"namespace":"pg://db","name":"a.b.out"},
		 {"namespace":"s3://x","name":"y/z"}]`, 1)
	events, err := Decode([]byte(body), testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []asset.Key{mustKey(t, "pg://db", "a.b.out"), mustKey(t, "pg://db", "a.b.out2"), mustKey(t, "s3://x", "y/z")}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d (an output listed twice is one)", len(events), len(want))
	}
	ref := fmt.Sprintf(`{"id":%q,"asset":%q}`, events[0].ID, want[0])
	for i, e := range events {
		if e.Asset != want[i] || !slices.Equal(e.Upstream, []asset.Key{mustKey(t, "pg://db", "a.b.in")}) {
			t.Errorf("event %d = %s from %v", i, e.Asset, e.Upstream)
		}
		_, raw := e.Metadata[RawKey]
		got := metaString(e.Metadata, RefKey)
		switch {
		case i == 0 && (!raw || got != "<none>"):
			t.Errorf("the first output's event has raw %v, ref %s", raw, got)
		case i > 0 && (raw || got != ref):
			t.Errorf("output %d has raw %v, ref %s, want %s", i, raw, got, ref)
		}
	}
	if n, ok := events[1].Metadata.RowCount(); !ok || n != 7 {
		t.Errorf("row count of the second output = %d %v", n, ok)
	}
	if _, ok := events[0].Metadata.RowCount(); ok {
		t.Error("the first output got the second's row count")
	}
}

// TestTooManyEvents: a batch is refused when its OpenLineage events, or
// the Freshet events they make (one per output), pass the limit.
func TestTooManyEvents(t *testing.T) {
	t.Parallel()
	one := strings.ReplaceAll(minimal, "\n", "")
	three := strings.Replace(one, `{"namespace":"pg://db","name":"a.b.out"}`,
		`{"namespace":"pg://db","name":"o1"},{"namespace":"pg://db","name":"o2"},{"namespace":"pg://db","name":"o3"}`, 1)
	for name, body := range map[string]string{
		"array":                "[" + one + "," + one + "," + one + "]",
		"ndjson":               one + "\n" + one + "\n\n" + one + "\n",
		"outputs of one event": three,
		"outputs over a batch": one + "\n" + three,
	} {
		_, _, err := DecodeBatch([]byte(body), testNow, 2)
		var es Errors
		if !errors.As(err, &es) || es[0].Code != "too_many_events" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if events, n, err := DecodeBatch([]byte(one+"\n"+one+"\n\n"), testNow, 2); err != nil || n != 2 || len(events) != 2 {
		t.Errorf("two events, limit 2: %d %v", n, err)
	}
}

// TestIDs: the same event gets the same ids (a retry is stored once);
// another event of the run, or another output, other ids.
func TestIDs(t *testing.T) {
	t.Parallel()
	raw := readEvent(t, "airflow_task_complete.json")
	a, err := Decode(raw, testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Decode(raw, testNow.Add(time.Hour))
	if a[0].ID != b[0].ID {
		t.Errorf("a retry got another id: %s, %s", a[0].ID, b[0].ID)
	}
	start, _ := Decode(readEvent(t, "airflow_task_start.json"), testNow)
	if start[0].ID == a[0].ID {
		t.Error("START and COMPLETE share an id")
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2026-11-25T08:00:00Z":                "2026-11-25T08:00:00Z",
		"2026-11-25t08:00:00z":                "2026-11-25T08:00:00Z",
		"2026-11-25T08:00:00":                 "2026-11-25T08:00:00Z",
		"2026-11-25T08:00:00.1":               "2026-11-25T08:00:00.1Z",
		"2026-11-25T08:00:00,25Z":             "2026-11-25T08:00:00.25Z",
		"2026-11-25T10:00:00+02":              "2026-11-25T08:00:00Z",
		"2026-11-25T08:00:00.000000000001Z":   "2026-11-25T08:00:00Z",
		"2026-11-25T09:00:00+01:00[Etc/GMT1]": "2026-11-25T08:00:00Z",
		"2026-11-25T08:00:00[UTC]":            "2026-11-25T08:00:00Z",
	} {
		got, ok := parseTime(in)
		if !ok || got.Format(time.RFC3339Nano) != want {
			t.Errorf("parseTime(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "2026-11-25", "2026-11-25X08:00:00Z", "2026-11-25T08:00:00.Z", "2026-11-25T08:00:00+1", "2026-11-25T08:00:00+24:00",
		"2026-11-25T08:00:00+01:60", "2026-11-25T08:00:00 UTC", "2026-13-25T08:00:00Z", "2026-11-25T25:00:00Z", "1700000000"} {
		if got, ok := parseTime(in); ok {
			t.Errorf("parseTime(%q) = %v, want an error", in, got)
		}
	}
}

func TestDatasetKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ ns, name, key string }{
		{"postgres://db.internal:5432", "analytics.public.orders", "ol/postgres:%2F%2Fdb.internal:5432/analytics.public.orders"},
		{"s3://lake", "raw/shop/orders", "ol/s3:%2F%2Flake/raw/shop/orders"},
		{"file", "/tmp/spark-warehouse/t2", "ol/file/%2Ftmp/spark-warehouse/t2"},
		{"hdfs://nn:8020", "/user/hive//warehouse/", "ol/hdfs:%2F%2Fnn:8020/%2Fuser/hive%2F/warehouse%2F"},
		{"bigquery", "proj.dataset.table", "ol/bigquery/proj.dataset.table"},
		{"kafka://b1:9092,b2:9092", "web.clicks", "ol/kafka:%2F%2Fb1:9092,b2:9092/web.clicks"},
		{"ns", "100% done", "ol/ns/100%25 done"},
		{" ns ", " padded ", "ol/%20ns%20/%20padded%20"},
		{"ns", "/", "ol/ns/%2F"},
		{"ns", "tab\there", "ol/ns/tab%09here"},
		{"ns", "ünïcødé/表", "ol/ns/ünïcødé/表"},
	} {
		k, err := DatasetKey(tt.ns, tt.name)
		if err != nil || string(k) != tt.key {
			t.Errorf("DatasetKey(%q, %q) = %q, %v; want %q", tt.ns, tt.name, k, err, tt.key)
			continue
		}
		ns, name, ok := ParseDatasetKey(k)
		if !ok || ns != tt.ns || name != tt.name {
			t.Errorf("ParseDatasetKey(%q) = %q, %q, %v", k, ns, name, ok)
		}
	}
	for _, k := range []asset.Key{"raw/orders", "ol/ns", "ol/ns/a%2Fb", "ol/ns/a%zz", "lo/ns/a"} {
		if ns, name, ok := ParseDatasetKey(k); ok {
			t.Errorf("ParseDatasetKey(%q) = %q, %q: not a key DatasetKey makes", k, ns, name)
		}
	}
	if _, err := DatasetKey("ns", strings.Repeat("x", asset.MaxKeyLen)); err == nil {
		t.Error("an over-long name made a key")
	}
	if _, err := DatasetKey("ns", "bad\xffutf8"); err == nil {
		t.Error("invalid UTF-8 made a key")
	}
}

// FuzzDatasetKey: every namespace and name makes a valid key or an
// error, and a key turns back into exactly its namespace and name.
func FuzzDatasetKey(f *testing.F) {
	for _, s := range [][2]string{{"postgres://h:5432", "db.s.t"}, {"file", "/tmp/x//y/"}, {"%", "%2F"}, {" ", "a/ b /c"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, ns, name string) {
		k, err := DatasetKey(ns, name)
		if err != nil {
			return
		}
		if _, err := asset.ParseKey(string(k)); err != nil {
			t.Fatalf("DatasetKey(%q, %q) = %q, not a valid key: %v", ns, name, k, err)
		}
		gotNS, gotName, ok := ParseDatasetKey(k)
		if !ok || gotNS != ns || gotName != name {
			t.Fatalf("ParseDatasetKey(DatasetKey(%q, %q) = %q) = %q, %q, %v", ns, name, k, gotNS, gotName, ok)
		}
	})
}

// FuzzDecode: no input panics; an error is a non-empty Errors of coded
// problems; what is accepted are valid events that survive a JSON round
// trip and carry the raw event as valid JSON.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"airflow_task_complete.json", "spark_fail.json", "dataset_event.json", "job_event.json", "flink_streaming_running.json"} {
		b := readEvent(f, name)
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte(minimal), false)
	f.Add([]byte("["+minimal+",{}]"), true)
	f.Add([]byte(`{"run":{"runId":"x","facets":{"parent":{"run":7}}},"outputs":[{"namespace":"a","name":"/"}]}`), false)
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		var (
			events []asset.Event
			err    error
		)
		if batch {
			events, _, err = DecodeBatch(body, testNow, 0)
		} else {
			events, err = Decode(body, testNow)
		}
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 || len(es) > MaxErrors {
				t.Fatalf("error %v is not a non-empty Errors", err)
			}
			for _, e := range es {
				if e.Code == "" || e.Message == "" {
					t.Fatalf("uncoded error %+v", e)
				}
			}
			return
		}
		raws := 0
		for _, e := range events {
			if v, ok := e.Metadata[RawKey]; ok {
				raws++
				if v.Type != asset.MetaJSON || !json.Valid([]byte(v.Text)) {
					t.Fatalf("raw event is not JSON: %v", v)
				}
			}
			if _, err := asset.ParseKey(string(e.Asset)); err != nil || e.ID == "" || e.Time.IsZero() {
				t.Fatalf("accepted an invalid event: %+v", e)
			}
			if _, err := asset.ColumnLineageOf(e.Metadata); err != nil {
				t.Fatalf("accepted column lineage that does not read back: %v", err)
			}
			if _, _, ok := ParseDatasetKey(e.Asset); !ok {
				t.Fatalf("asset %q is not a dataset key", e.Asset)
			}
			for _, u := range e.Upstream {
				if u == e.Asset {
					t.Fatalf("%s is its own upstream", u)
				}
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("accepted event does not marshal: %v", err)
			}
			var back asset.Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("accepted event does not round-trip: %v\n%s", err, b)
			}
			if b2, _ := json.Marshal(back); string(b2) != string(b) {
				t.Fatalf("accepted event changes in a JSON round trip:\n%s\n%s", b, b2)
			}
		}
		if !batch && len(events) > 0 && raws != 1 {
			t.Fatalf("the raw event is kept %d times", raws)
		}
	})
}
