package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/openlineage/marquez"
)

// marquezGraph is the answer with data kept raw, to read by type.
type marquezGraph struct {
	Graph []struct {
		ID       string          `json:"id"`
		Type     string          `json:"type"`
		Data     json.RawMessage `json:"data"`
		InEdges  []marquez.Edge  `json:"inEdges"`
		OutEdges []marquez.Edge  `json:"outEdges"`
	} `json:"graph"`
}

func marquezQuery(t *testing.T, base, nodeID string, depth int) marquezGraph {
	t.Helper()
	var g marquezGraph
	getInto(t, fmt.Sprintf("%s/api/v1/lineage?nodeId=%s&depth=%d", base, url.QueryEscape(nodeID), depth), &g)
	checkMarquezShape(t, g)
	return g
}

// checkMarquezShape: ids unique, every edge between a dataset and a job
// and listed at both ends, every node with data naming itself.
func checkMarquezShape(t *testing.T, g marquezGraph) {
	t.Helper()
	types := map[string]string{}
	for _, n := range g.Graph {
		if _, dup := types[n.ID]; dup {
			t.Errorf("node %s twice", n.ID)
		}
		types[n.ID] = n.Type
		var d struct {
			ID   struct{ Namespace, Name string }
			Type string
		}
		if err := json.Unmarshal(n.Data, &d); err != nil || strings.ToLower(n.Type)+":"+d.ID.Namespace+":"+d.ID.Name != n.ID {
			t.Errorf("node %s: data %s", n.ID, n.Data)
		}
	}
	out := map[marquez.Edge]bool{}
	for _, n := range g.Graph {
		for _, e := range n.OutEdges {
			if e.Origin != n.ID {
				t.Errorf("out edge %v of %s", e, n.ID)
			}
			out[e] = true
		}
	}
	for _, n := range g.Graph {
		for _, e := range n.InEdges {
			if e.Destination != n.ID || !out[e] {
				t.Errorf("in edge %v of %s not an out edge of its origin", e, n.ID)
			}
			if types[e.Origin] == types[e.Destination] || types[e.Origin] == "" {
				t.Errorf("edge %v does not link a dataset and a job", e)
			}
			delete(out, e)
		}
	}
	for e := range out {
		t.Errorf("out edge %v not an in edge of its destination", e)
	}
}

func (g marquezGraph) edges() []string {
	var out []string
	for _, n := range g.Graph {
		for _, e := range n.OutEdges {
			out = append(out, e.Origin+" -> "+e.Destination)
		}
	}
	slices.Sort(out)
	return out
}

// TestMarquezLineage: OpenLineage events and declared dependencies read
// back in Marquez's shape, by dataset and by job.
func TestMarquezLineage(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	for _, f := range []string{"spark_complete_column_lineage.json", "spark_fail.json", "airflow_task_complete.json"} {
		if r := post(t, base+"/api/v1/lineage", "application/json", olEvent(t, f)); r.status != http.StatusCreated {
			t.Fatalf("%s: %d %s", f, r.status, r.body)
		}
	}
	const (
		enriched = "dataset:s3://lake:marts/orders_enriched"
		enrich   = "job:spark-prod:orders_enrichment.execute_insert_into_hadoop_fs_relation_command.lake_marts_orders_enriched"
		exposure = "job:spark-prod:fx_exposure.execute_insert_into_hadoop_fs_relation_command.lake_marts_fx_exposure"
	)
	want := []string{
		"dataset:s3://lake:marts/orders_enriched -> " + exposure,
		"dataset:s3://lake:raw/shop/customers -> " + enrich,
		"dataset:s3://lake:raw/shop/orders -> " + enrich,
		enrich + " -> dataset:s3://lake:marts/orders_enriched",
		exposure + " -> dataset:s3://lake:marts/fx_exposure",
	}
	slices.Sort(want)
	g := marquezQuery(t, base, enriched, 20)
	if got := g.edges(); !slices.Equal(got, want) {
		t.Errorf("edges:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, n := range g.Graph {
		if n.ID == enriched {
			var d marquez.DatasetData
			if err := json.Unmarshal(n.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.Type != "DB_TABLE" || d.LastModifiedAt == nil || d.AssetKey != "ol/s3:%2F%2Flake/marts/orders_enriched" {
				t.Errorf("dataset data %s", n.Data)
			}
		}
		if n.ID == enrich {
			var j marquez.JobData
			if err := json.Unmarshal(n.Data, &j); err != nil {
				t.Fatal(err)
			}
			if j.Type != "BATCH" || len(j.Inputs) != 2 || len(j.Outputs) != 1 || j.Outputs[0] != (marquez.ID{Namespace: "s3://lake", Name: "marts/orders_enriched"}) {
				t.Errorf("job data %s", n.Data)
			}
		}
	}
	// By job: the same graph around what the job builds.
	if got := marquezQuery(t, base, enrich, 20).edges(); !slices.Equal(got, want) {
		t.Errorf("by job:\n%s", strings.Join(got, "\n"))
	}
	// depth 1 from the raw input: its job and what the job builds.
	if got := marquezQuery(t, base, "dataset:s3://lake:raw/shop/orders", 1).edges(); !slices.Equal(got, []string{
		"dataset:s3://lake:raw/shop/orders -> " + enrich, enrich + " -> dataset:s3://lake:marts/orders_enriched"}) {
		t.Errorf("depth 1:\n%s", strings.Join(got, "\n"))
	}

	// Namespaces with ':' in them: each split is tried.
	if got := marquezQuery(t, base, "dataset:postgres://warehouse.internal:5432:analytics.public.orders_daily", 20).edges(); !slices.Equal(got, []string{
		"dataset:postgres://shop-db.internal:5432:shop.public.customers -> job:airflow-prod:shop_daily.load_orders",
		"dataset:postgres://shop-db.internal:5432:shop.public.orders -> job:airflow-prod:shop_daily.load_orders",
		"job:airflow-prod:shop_daily.load_orders -> dataset:postgres://warehouse.internal:5432:analytics.public.orders_daily"}) {
		t.Errorf("airflow:\n%s", strings.Join(got, "\n"))
	}

	// Declared assets: datasets of Freshet's namespace, one job per built asset.
	g = marquezQuery(t, base, "dataset:freshet://freshet:marts/revenue", 20)
	wantDeclared := []string{
		"dataset:freshet://freshet:raw/customers -> job:freshet:staging/orders",
		"dataset:freshet://freshet:raw/orders -> job:freshet:staging/orders",
		"dataset:freshet://freshet:staging/orders -> job:freshet:marts/revenue",
		"job:freshet:marts/revenue -> dataset:freshet://freshet:marts/revenue",
		"job:freshet:staging/orders -> dataset:freshet://freshet:staging/orders",
	}
	if got := g.edges(); !slices.Equal(got, wantDeclared) {
		t.Errorf("declared:\n%s", strings.Join(got, "\n"))
	}
	for _, n := range g.Graph {
		if n.ID == "dataset:freshet://freshet:raw/orders" && !strings.Contains(string(n.Data), `"description":"Orders from the shop"`) {
			t.Errorf("raw/orders data %s", n.Data)
		}
	}
	if got := marquezQuery(t, base, "job:freshet:staging/orders", 1).edges(); !slices.Equal(got, wantDeclared) {
		t.Errorf("job:freshet:staging/orders at depth 1: %v", got)
	}
}

func TestMarquezLineageErrors(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	for _, tc := range []struct {
		query  string
		status int
		field  string
		code   string
	}{
		{"", 400, "nodeId", "missing_field"},
		{"depth=3", 400, "nodeId", "missing_field"},
		{"nodeId=raw/orders", 400, "nodeId", "invalid_value"},
		{"nodeId=run:0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b", 400, "nodeId", "invalid_value"},
		{"nodeId=dataset:raw", 400, "nodeId", "invalid_value"},
		{"nodeId=dataset:freshet://freshet:raw/orders&depth=0", 400, "depth", "invalid_value"},
		{"nodeId=dataset:freshet://freshet:raw/orders&depth=-1", 400, "depth", "invalid_value"},
		{"nodeId=dataset:freshet://freshet:raw/orders&depth=deep", 400, "depth", "invalid_value"},
		{"nodeId=dataset:freshet://freshet:raw/orders&depth=10001", 400, "depth", "invalid_value"},
		{"nodeId=dataset:freshet://freshet:raw/nothing", 404, "nodeId", "not_found"},
		{"nodeId=dataset:s3://lake:raw/orders", 404, "nodeId", "not_found"},
		{"nodeId=job:freshet:raw/orders", 404, "nodeId", "not_found"}, // builds nothing: no job
		{"nodeId=job:airflow:dag.task", 404, "nodeId", "not_found"},
		{"nodeId=dataset:" + strings.Repeat("a:", 3000), 400, "nodeId", "invalid_value"},
	} {
		r := get(t, base+"/api/v1/lineage?"+tc.query)
		var e struct{ Error struct{ Code, Field string } }
		if err := json.Unmarshal(r.body, &e); err != nil || r.status != tc.status || e.Error.Field != tc.field || e.Error.Code != tc.code {
			t.Errorf("?%s: %d %s, want %d %s %s", tc.query, r.status, r.body, tc.status, tc.code, tc.field)
		}
	}
	// POST on the same path is still OpenLineage in.
	if r := post(t, base+"/api/v1/lineage", "application/json", olEvent(t, "spark_fail.json")); r.status != http.StatusCreated {
		t.Errorf("POST: %d %s", r.status, r.body)
	}
}

// TestOpenLineageOutLoop: a Freshet whose openlineage block points at
// itself. Its run's events go out over HTTP, come back in through POST
// /api/v1/lineage, and the Marquez read shows the step's job.
func TestOpenLineageOutLoop(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self := "http://" + ln.Addr().String()
	defs := definitions(t, fmt.Sprintf(`
openlineage: {url: %q, namespace: loop}
assets:
  - key: raw/src
  - key: marts/out
    deps: [raw/src]
    materialize: {argv: ["true"]}
`, self))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	if r := post(t, self+"/api/v1/runs", "application/json", `{"selection": ["marts/out"]}`); r.status/100 != 2 {
		t.Fatalf("launch: %d %s", r.status, r.body)
	}
	// The step's COMPLETE arrives as a materialization of the dataset
	// (freshet://loop, marts/out), i.e. the asset ol/freshet:%2F%2Floop/marts/out.
	key := asset.Key("ol/freshet:%2F%2Floop/marts/out")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := get(t, self+"/api/v1/assets/"+keyURL(key))
		if r.status == 200 && strings.Contains(string(r.body), `"last_materialization"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emitted COMPLETE never came back: %d %s", r.status, r.body)
		}
	}
	g := marquezQuery(t, self, "job:loop:marts/out", 5)
	want := []string{
		"dataset:freshet://loop:raw/src -> job:loop:marts/out",
		"job:loop:marts/out -> dataset:freshet://loop:marts/out",
	}
	if got := g.edges(); !slices.Equal(got, want) {
		t.Errorf("edges:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
