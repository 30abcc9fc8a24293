package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
)

// TestColumnLineage: the columnLineage facet of an OpenLineage event,
// through the real server: an asset's columns with what they come from
// and what reads them, a column's lineage both ways, the 4xx of bad
// requests, and all of it again after a restart.
func TestColumnLineage(t *testing.T) {
	t.Parallel()
	cfg := app.Config{DataDir: t.TempDir(), Logger: quiet}
	srv := serve(t, cfg)
	postLineage(t, srv.base, olFile(t, "spark_complete_column_lineage.json"))
	postLineage(t, srv.base, olFile(t, "spark_fail.json")) // later, no facet: the lineage in force stays

	enriched := datasetKey(t, "s3://lake", "marts/orders_enriched")
	customers := datasetKey(t, "s3://lake", "raw/shop/customers")
	orders := datasetKey(t, "s3://lake", "raw/shop/orders")
	path := func(k asset.Key) string { return srv.base + "/api/v1/assets/" + url.PathEscape(string(k)) }

	check := func(when string) {
		t.Helper()
		var cols struct {
			Asset   asset.Key
			Columns []struct {
				Name, Type           string
				Upstream, Downstream []asset.ColumnInput
			}
		}
		getJSON(t, path(enriched)+"/columns", &cols)
		got := map[string]string{}
		for _, c := range cols.Columns {
			var ups []string
			for _, u := range c.Upstream {
				ups = append(ups, u.String()+" "+u.Transformation)
			}
			got[c.Name] = c.Type + " <- " + strings.Join(ups, ", ")
		}
		want := map[string]string{
			"country": "string <- " + string(customers) + "#country DIRECT/IDENTITY, " + string(customers) + "#customer_id INDIRECT/JOIN",
			"amount":  "decimal(12,2) <- " + string(orders) + "#amount DIRECT/IDENTITY",
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: column %s = %q, want %q (all: %v)", when, name, got[name], w, got)
			}
		}

		// a source column: nothing upstream, its readers downstream
		getJSON(t, path(customers)+"/columns", &cols)
		var country []string
		for _, c := range cols.Columns {
			if c.Name == "country" {
				for _, d := range c.Downstream {
					country = append(country, d.String())
				}
			}
		}
		if strings.Join(country, ",") != string(enriched)+"#country" {
			t.Errorf("%s: readers of customers.country = %v", when, country)
		}

		var g struct {
			Nodes []struct {
				Asset  asset.Key
				Column string
				Depth  int
			}
			Edges []struct{ From, To asset.ColumnRef }
		}
		getJSON(t, path(orders)+"/columns/amount/lineage?direction=downstream", &g)
		if len(g.Nodes) != 2 || g.Nodes[1].Asset != enriched || g.Nodes[1].Column != "amount" || g.Nodes[1].Depth != 1 || len(g.Edges) != 1 {
			t.Errorf("%s: downstream of orders.amount = %+v", when, g)
		}
	}
	check("at once")

	bad := []struct {
		name, url string
		status    int
		field     string
	}{
		{"unknown column", path(enriched) + "/columns/nope/lineage", 404, "column"},
		{"unknown asset", path("nope/nope") + "/columns", 404, "key"},
		{"bad direction", path(enriched) + "/columns/amount/lineage?direction=sideways", 400, "direction"},
		{"bad depth", path(enriched) + "/columns/amount/lineage?depth=-1", 400, "depth"},
		{"bad limit", path(enriched) + "/columns/amount/lineage?limit=0", 400, "limit"},
		{"bad key", srv.base + "/api/v1/assets/a%2F..%2Fb/columns", 400, "key"},
	}
	for _, tc := range bad {
		status, body := do(t, http.MethodGet, tc.url, "")
		e, _ := body["error"].(map[string]any)
		if status != tc.status || e == nil || e["field"] != tc.field {
			t.Errorf("%s: %d %v, want %d naming %s", tc.name, status, body, tc.status, tc.field)
		}
	}

	srv.stop()
	srv = serve(t, cfg)
	path = func(k asset.Key) string { return srv.base + "/api/v1/assets/" + url.PathEscape(string(k)) }
	check("after a restart")
}
