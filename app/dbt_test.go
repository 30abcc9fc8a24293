package app_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
)

// The dbt import through the whole server: the test project's artifacts
// over real HTTP, then what the catalog, lineage, checks and freshness
// say, before and after a restart.

func dbtFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "dbt", "testdata", "shop", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dbtBody is the import body for the artifacts given by name (manifest,
// run_results, sources) and extra members, gzip-compressed.
func dbtBody(t testing.TB, names []string, extra string) []byte {
	t.Helper()
	var raw bytes.Buffer
	raw.WriteString("{")
	for i, n := range names {
		if i > 0 {
			raw.WriteString(",")
		}
		file := map[string]string{"manifest": "manifest.json", "run_results": "run_results.json", "sources": "sources.json"}[n]
		fmt.Fprintf(&raw, "%q:%s", n, dbtFile(t, file))
	}
	raw.WriteString(extra + "}")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	return z.Bytes()
}

type imported struct {
	Assets           int         `json:"assets"`
	Checks           int         `json:"checks"`
	ColumnLineage    int         `json:"column_lineage"`
	Materializations int         `json:"materializations"`
	Failures         int         `json:"failures"`
	Tests            int         `json:"tests"`
	TestsFailed      int         `json:"tests_failed"`
	Observations     int         `json:"observations"`
	Events           int         `json:"events"`
	DeclaredInFile   []asset.Key `json:"declared_in_file"`
}

func postDBT(t *testing.T, base string, body []byte, gzipped bool) (int, []byte) {
	t.Helper()
	return postDBTAs(t, base, "application/json", body, gzipped)
}

func postDBTAs(t *testing.T, base, contentType string, body []byte, gzipped bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/dbt/import", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type wireAsset struct {
	Spec                asset.Spec     `json:"spec"`
	LastMaterialization *asset.Event   `json:"last_materialization"`
	LastFailure         *asset.Event   `json:"last_failure"`
	LastObservation     *asset.Event   `json:"last_observation"`
	LastChecks          []asset.Event  `json:"last_checks"`
	Counts              map[string]int `json:"counts"`
	Upstream            []asset.Key    `json:"upstream"`
}

func getAsset(t *testing.T, base string, k asset.Key) wireAsset {
	t.Helper()
	var a wireAsset
	getJSON(t, base+"/api/v1/assets/"+url.PathEscape(string(k)), &a)
	return a
}

type edge struct {
	Upstream   asset.Key `json:"upstream"`
	Downstream asset.Key `json:"downstream"`
	Declared   bool      `json:"declared"`
	Observed   bool      `json:"observed"`
}

func graphEdges(t *testing.T, base string) map[[2]asset.Key]edge {
	t.Helper()
	var g struct {
		Edges []edge `json:"edges"`
	}
	getJSON(t, base+"/api/v1/lineage/graph?limit=10000", &g)
	out := map[[2]asset.Key]edge{}
	for _, e := range g.Edges {
		out[[2]asset.Key{e.Upstream, e.Downstream}] = e
	}
	return out
}

// waitStored sends a marker event and waits until the store lists it:
// the writer stores batches in the order they were acknowledged, so
// everything acknowledged before is stored then.
func waitStored(t *testing.T, base string) {
	t.Helper()
	id := asset.NewEventID()
	body := fmt.Sprintf(`{"id":%q,"kind":"observation","asset":"test/marker"}`, id)
	resp, err := http.Post(base+"/api/v1/events", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST marker = %v %v", resp, err)
	}
	resp.Body.Close()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var page struct {
			Events []asset.Event `json:"events"`
		}
		getJSON(t, base+"/api/v1/events?asset=test/marker&limit=1000", &page)
		for _, e := range page.Events {
			if e.ID == id {
				return
			}
		}
	}
	t.Fatal("the marker event was never stored")
}

func storedKinds(t *testing.T, base string, k asset.Key) map[asset.Kind]int {
	t.Helper()
	var page struct {
		Events []asset.Event `json:"events"`
	}
	getJSON(t, base+"/api/v1/events?limit=1000&asset="+url.QueryEscape(string(k)), &page)
	out := map[asset.Kind]int{}
	for _, e := range page.Events {
		out[e.Kind]++
	}
	return out
}

// rootCause polls an asset's freshness until it is in state with root
// cause root.
func rootCause(t *testing.T, base string, k asset.Key, state string, root asset.Key) {
	t.Helper()
	var fr struct {
		Result struct {
			State     string    `json:"state"`
			RootCause asset.Key `json:"root_cause"`
		} `json:"result"`
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		getJSON(t, base+"/api/v1/assets/"+url.PathEscape(string(k))+"/freshness", &fr)
		if fr.Result.State == state && fr.Result.RootCause == root {
			return
		}
	}
	t.Fatalf("%s never %s with root cause %s; last: %s, %s", k, state, root, fr.Result.State, fr.Result.RootCause)
}

const (
	orders    asset.Key = "dbt/analytics/marts/orders"
	customers asset.Key = "dbt/analytics/marts/customers"
	stgOrders asset.Key = "dbt/analytics/staging/stg_orders"
	srcOrders asset.Key = "dbt/raw/shop/orders"
)

func TestDBTImport(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("dbt.yaml", []byte(`
assets:
  - key: dbt/analytics/marts/customers   # the file is authoritative for this one
    description: Customers, as the platform team declares them.
    owners: [platform@shop.example]
freshness_policies:
  - select: {tag: staging}
    max_lag: 3650d
  - select: {tag: finance}
    max_lag: 3650d
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet}
	srv := serve(t, cfg)

	code, b := postDBT(t, srv.base, dbtBody(t, []string{"manifest", "run_results", "sources"}, ""), true)
	if code != http.StatusCreated {
		t.Fatalf("import = %d %s", code, b)
	}
	var got imported
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := imported{Assets: 11, Checks: 10, ColumnLineage: 15, Materializations: 7, Failures: 1, Tests: 9, TestsFailed: 3, Observations: 2, Events: 19,
		DeclaredInFile: []asset.Key{customers}}
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		t.Errorf("import answered %s, want %s", g, w)
	}

	check := func(srv running) {
		t.Helper()
		var list struct {
			Assets []struct {
				Spec asset.Spec `json:"spec"`
			} `json:"assets"`
		}
		getJSON(t, srv.base+"/api/v1/assets?origin=dbt", &list)
		if len(list.Assets) != 10 {
			t.Errorf("%d assets of origin dbt, want 10 (11 less the one freshet.yaml declares)", len(list.Assets))
		}

		o := getAsset(t, srv.base, orders)
		if o.Spec.Origin != asset.OriginDBT || o.Spec.Group != "finance" || !slices.Equal(o.Spec.Owners, []string{"finance-data@shop.example"}) {
			t.Errorf("orders spec %+v", o.Spec)
		}
		if len(o.Spec.Columns) != 4 || o.Spec.Columns[3].Name != "amount" || o.Spec.Columns[3].Type != "numeric(12,2)" {
			t.Errorf("orders columns %+v", o.Spec.Columns)
		} else if d := o.Spec.Columns[0].Deps; len(d) != 1 || d[0].String() != "dbt/analytics/staging/stg_orders#order_id" {
			t.Errorf("orders.order_id column lineage %+v", d)
		}
		if len(o.Spec.Checks) != 4 {
			t.Errorf("orders checks %+v", o.Spec.Checks)
		}
		// the inferred column lineage is queryable, both ways
		var cg struct {
			Nodes []struct {
				Asset  asset.Key
				Column string
				Depth  int
			}
		}
		getJSON(t, srv.base+"/api/v1/assets/"+url.PathEscape(string(orders))+"/columns/order_id/lineage?direction=upstream&depth=1", &cg)
		if len(cg.Nodes) != 2 || cg.Nodes[1].Asset != "dbt/analytics/staging/stg_orders" || cg.Nodes[1].Column != "order_id" || cg.Nodes[1].Depth != -1 {
			t.Errorf("orders.order_id column lineage through the API: %+v", cg.Nodes)
		}
		if o.LastMaterialization == nil {
			t.Fatal("orders has no materialization")
		}
		if n, _ := o.LastMaterialization.Metadata.RowCount(); n != 18342 {
			t.Errorf("orders row count %d", n)
		}
		failed := map[string]bool{}
		for _, c := range o.LastChecks {
			failed[c.Check.Name] = !c.Check.Passed
		}
		if len(failed) != 4 || !failed["not_null_orders_customer_id"] || failed["unique_orders_order_id"] {
			t.Errorf("orders checks %v", failed)
		}
		if f := getAsset(t, srv.base, "dbt/analytics/marts/revenue_daily").LastFailure; f == nil || !strings.Contains(f.Metadata["message"].Text, "does not exist") {
			t.Errorf("revenue_daily failure %+v", f)
		}
		src := getAsset(t, srv.base, srcOrders)
		if src.LastObservation == nil || src.LastObservation.DataTime == nil ||
			!src.LastObservation.DataTime.Equal(time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC)) {
			t.Errorf("source observation %+v", src.LastObservation)
		}
		if c := getAsset(t, srv.base, customers); c.Spec.Origin != asset.OriginDeclared || c.Spec.Description != "Customers, as the platform team declares them." {
			t.Errorf("customers spec %+v: freshet.yaml should win", c.Spec)
		}

		edges := graphEdges(t, srv.base)
		for _, w := range []edge{
			{srcOrders, stgOrders, true, true},
			{stgOrders, orders, true, true},
			{"dbt/analytics/staging/stg_payments", orders, true, true}, // through the ephemeral model
			{orders, "dbt/analytics/marts/revenue_daily", true, false}, // its run failed: nothing observed
			// customers is the file's: its dbt deps are not declared, but
			// its dbt run reported what it read.
			{orders, customers, false, true},
		} {
			if g, ok := edges[[2]asset.Key{w.Upstream, w.Downstream}]; !ok || g != w {
				t.Errorf("edge %s -> %s = %+v (present %v), want %+v", w.Upstream, w.Downstream, g, ok, w)
			}
		}

		// The source's dbt freshness (error after 1d) fails: loaded a week
		// ago. stg_orders and orders are under the file's selections.
		stateOf(t, srv.base, srcOrders, "FAIL")
		stateOf(t, srv.base, stgOrders, "PASS")
		// orders is built from stripe_payments too, a source without
		// freshness, so nothing ever said how fresh it is. (Until the
		// monitor has seen the events, it is UNKNOWN for want of any.)
		rootCause(t, srv.base, orders, "UNKNOWN", "dbt/raw/shop/stripe_payments")
	}
	check(srv)

	// The same files again: nothing new is stored.
	if code, b := postDBT(t, srv.base, dbtBody(t, []string{"manifest", "run_results", "sources"}, ""), true); code != http.StatusCreated {
		t.Fatalf("second import = %d %s", code, b)
	}
	waitStored(t, srv.base)
	if k := storedKinds(t, srv.base, orders); k[asset.KindMaterialization] != 1 || k[asset.KindCheckResult] != 4 {
		t.Errorf("orders events after two imports: %v", k)
	}

	// A bad import stores nothing.
	var m map[string]any
	json.Unmarshal(dbtFile(t, "manifest.json"), &m)
	n := m["nodes"].(map[string]any)["model.shop.stg_payments"].(map[string]any)
	n["alias"] = "stg_payments_v2"
	n["depends_on"] = map[string]any{"nodes": []any{"source.shop.shop.refunds"}}
	bad, _ := json.Marshal(map[string]any{"manifest": m})
	code, b = postDBT(t, srv.base, bad, false)
	var e struct {
		Error struct{ Code, Field, Message string } `json:"error"`
	}
	json.Unmarshal(b, &e)
	if code != http.StatusBadRequest || e.Error.Field != `manifest.nodes["model.shop.stg_payments"].depends_on.nodes[0]` {
		t.Errorf("bad import = %d %s", code, b)
	}
	resp, err := http.Get(srv.base + "/api/v1/assets/" + url.PathEscape("dbt/analytics/staging/stg_payments_v2"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a refused import made an asset: %d", resp.StatusCode)
	}

	srv.stop()
	srv = serve(t, cfg)
	check(srv)
}

// TestDBTImportNamespace: with the warehouse's OpenLineage namespace, the
// import's assets are the ones dbt-ol's events report on.
func TestDBTImportNamespace(t *testing.T) {
	t.Parallel()
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet})
	code, b := postDBT(t, srv.base, dbtBody(t, []string{"manifest"}, `,"namespace":"postgres://warehouse:5432"`), true)
	if code != http.StatusCreated {
		t.Fatalf("import = %d %s", code, b)
	}
	ordersKey := datasetKey(t, "postgres://warehouse:5432", "analytics.marts.orders")
	postLineage(t, srv.base, `{"eventType":"COMPLETE","eventTime":"2026-11-26T06:00:00Z","producer":"https://github.com/OpenLineage/OpenLineage/tree/1.24.2/integration/dbt",
"run":{"runId":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},"job":{"namespace":"dbt-prod","name":"shop.orders"},
"inputs":[{"namespace":"postgres://warehouse:5432","name":"analytics.staging.stg_orders"}],
"outputs":[{"namespace":"postgres://warehouse:5432","name":"analytics.marts.orders","outputFacets":{"outputStatistics":{"rowCount":18400}}}]}`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a := getAsset(t, srv.base, ordersKey)
		if a.LastMaterialization != nil {
			if a.Spec.Origin != asset.OriginDBT || a.Spec.Description != "One row per order, with its payment total." {
				t.Errorf("the OpenLineage event did not land on the dbt asset: %+v", a.Spec)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the OpenLineage materialization never showed")
		}
	}
	var list struct {
		Assets []json.RawMessage `json:"assets"`
	}
	getJSON(t, srv.base+"/api/v1/assets", &list)
	if len(list.Assets) != 11 {
		t.Errorf("%d assets, want the 11 of the import (the event made none)", len(list.Assets))
	}
}

// TestDBTImportConcurrentEvents: imports (which rebuild the lineage
// graph's declared edges) while events report observed edges: no edge is
// lost, and -race sees no race.
func TestDBTImportConcurrentEvents(t *testing.T) {
	t.Parallel()
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet})
	body := dbtBody(t, []string{"manifest"}, "")
	const n = 40
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 5 {
			if code, b := postDBT(t, srv.base, body, true); code != http.StatusCreated {
				t.Errorf("import = %d %s", code, b)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			ev := fmt.Sprintf(`{"kind":"materialization","asset":"etl/out","upstream":["etl/in%d"]}`, i)
			resp, err := http.Post(srv.base+"/api/v1/events", "application/json", strings.NewReader(ev))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}
	}()
	wg.Wait()
	waitStored(t, srv.base)
	edges := graphEdges(t, srv.base)
	for i := range n {
		if e, ok := edges[[2]asset.Key{asset.Key(fmt.Sprintf("etl/in%d", i)), "etl/out"}]; !ok || !e.Observed {
			t.Errorf("edge etl/in%d -> etl/out lost", i)
		}
	}
	if e := edges[[2]asset.Key{stgOrders, orders}]; !e.Declared {
		t.Error("declared dbt edge missing")
	}
}

// TestDBTImportLimits: the body limit, and what is not an import.
func TestDBTImportLimits(t *testing.T) {
	t.Parallel()
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet, DBTBodyLimit: 20 << 10})
	cases := []struct {
		name    string
		body    []byte
		gzipped bool
		status  int
		field   string
	}{
		{"over the limit once inflated", dbtBody(t, []string{"manifest"}, ""), true, http.StatusRequestEntityTooLarge, ""},
		{"not gzip", []byte(`{"manifest": {}}`), true, http.StatusBadRequest, "Content-Encoding"},
		{"no manifest", []byte(`{"run_results": {}}`), false, http.StatusBadRequest, "manifest"},
		{"an unknown member", []byte(`{"manifest": {}, "catalog": {}}`), false, http.StatusBadRequest, "catalog"},
		{"namespace a number", []byte(`{"manifest": {}, "namespace": 5}`), false, http.StatusBadRequest, "namespace"},
		{"an array", []byte(`[]`), false, http.StatusBadRequest, ""},
		{"a manifest of another version", []byte(`{"manifest": {"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v7.json"}}}`), false,
			http.StatusBadRequest, "manifest.metadata.dbt_schema_version"},
	}
	if code, b := postDBTAs(t, srv.base, "application/x-ndjson", []byte(`{"manifest": {}}`), false); code != http.StatusUnsupportedMediaType ||
		!strings.Contains(string(b), `"field":"Content-Type"`) {
		t.Errorf("NDJSON: %d %s, want 415 naming Content-Type", code, b)
	}
	for _, c := range cases {
		code, b := postDBT(t, srv.base, c.body, c.gzipped)
		var e struct {
			Error struct{ Field string } `json:"error"`
		}
		json.Unmarshal(b, &e)
		if code != c.status || e.Error.Field != c.field {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, code, b, c.status, c.field)
		}
	}
}
