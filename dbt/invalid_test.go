package dbt_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/dbt"
)

type obj = map[string]any

func edit(t *testing.T, name string, fn func(obj)) []byte {
	t.Helper()
	var m obj
	if err := json.Unmarshal(read(t, name), &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func node(m obj, section, id string) obj { return m[section].(obj)[id].(obj) }

func results(m obj, i int) obj { return m["results"].([]any)[i].(obj) }

// Each invalid artifact is refused with a *dbt.FieldError naming the
// artifact and the JSON path of the value at fault.
func TestInvalidArtifacts(t *testing.T) {
	t.Parallel()
	const orders = "model.shop.orders"
	cases := []struct {
		name       string
		manifest   func(obj) // edits the manifest (nil: as is)
		runResults func(obj)
		sources    func(obj)
		raw        *dbt.Artifacts // instead of edits
		field      string
		msg        string
	}{
		{name: "manifest v9", manifest: func(m obj) {
			m["metadata"].(obj)["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v9.json"
		}, field: "manifest.metadata.dbt_schema_version", msg: "manifest schema v9 is not supported: Freshet reads v10 to v12"},
		{name: "manifest v13", manifest: func(m obj) {
			m["metadata"].(obj)["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v13.json"
		}, field: "manifest.metadata.dbt_schema_version", msg: "v13 is not supported"},
		{name: "run results sent as the manifest", raw: &dbt.Artifacts{Manifest: read(t, "run_results.json")},
			field: "manifest.metadata.dbt_schema_version", msg: "is a dbt run-results, not a manifest"},
		{name: "no schema version", manifest: func(m obj) { delete(m["metadata"].(obj), "dbt_schema_version") },
			field: "manifest.metadata.dbt_schema_version", msg: "dbt_schema_version is required"},
		{name: "no metadata", manifest: func(m obj) { delete(m, "metadata") }, field: "manifest.metadata", msg: "metadata is required"},
		{name: "no nodes", manifest: func(m obj) { delete(m, "nodes") }, field: "manifest.nodes", msg: "nodes is required"},
		{name: "nodes an array", manifest: func(m obj) { m["nodes"] = []any{} }, field: "manifest.nodes", msg: "must be an object, not array"},
		{name: "dangling depends_on", manifest: func(m obj) {
			node(m, "nodes", orders)["depends_on"].(obj)["nodes"].([]any)[1] = "model.shop.int_order_paymentz"
		}, field: `manifest.nodes["model.shop.orders"].depends_on.nodes[1]`, msg: `no such node or source "model.shop.int_order_paymentz"`},
		{name: "missing node a test is attached to", manifest: func(m obj) {
			delete(m["nodes"].(obj), "model.shop.stg_orders")
			node(m, "nodes", orders)["depends_on"].(obj)["nodes"] = []any{}
			node(m, "nodes", "model.shop.customers")["depends_on"].(obj)["nodes"] = []any{}
			node(m, "nodes", "test.shop.unique_stg_orders_order_id")["depends_on"].(obj)["nodes"] = []any{}
			node(m, "nodes", "test.shop.not_null_stg_orders_order_id")["depends_on"].(obj)["nodes"] = []any{}
		}, field: `manifest.nodes["test.shop.not_null_stg_orders_order_id"].attached_node`, msg: `no such model, seed, snapshot or source "model.shop.stg_orders"`},
		{name: "truncated", raw: &dbt.Artifacts{Manifest: read(t, "manifest.json")[:4000]}, field: "manifest", msg: "ends early"},
		{name: "not JSON", raw: &dbt.Artifacts{Manifest: []byte(`{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"}, "nodes": {,}}`)},
			field: "manifest", msg: "invalid JSON at line 1, column 101: invalid character ','"},
		{name: "an array", raw: &dbt.Artifacts{Manifest: []byte(`[]`)}, field: "manifest", msg: "must be a JSON object"},
		{name: "empty", raw: &dbt.Artifacts{Manifest: []byte(" \n")}, field: "manifest", msg: "the manifest is empty"},
		{name: "tags a string", manifest: func(m obj) { node(m, "nodes", orders)["tags"] = "finance" },
			field: `manifest.nodes["model.shop.orders"].tags`, msg: "must be an array, not string"},
		{name: "depends_on.nodes a number", manifest: func(m obj) { node(m, "nodes", orders)["depends_on"].(obj)["nodes"] = 3 },
			field: `manifest.nodes["model.shop.orders"].depends_on.nodes`, msg: "must be an array, not number"},
		{name: "a column's data_type a number", manifest: func(m obj) {
			node(m, "nodes", orders)["columns"].(obj)["amount"].(obj)["data_type"] = 12
		}, field: `manifest.nodes["model.shop.orders"].columns.amount.data_type`, msg: "must be a string, not number"},
		{name: "unique_id differs from its key", manifest: func(m obj) { node(m, "nodes", orders)["unique_id"] = "model.shop.order" },
			field: `manifest.nodes["model.shop.orders"].unique_id`, msg: `"model.shop.order" differs from the node's key`},
		{name: "unknown resource_type", manifest: func(m obj) { node(m, "nodes", orders)["resource_type"] = "modle" },
			field: `manifest.nodes["model.shop.orders"].resource_type`, msg: `unknown resource_type "modle"`},
		{name: "no name", manifest: func(m obj) { delete(node(m, "nodes", orders), "name") },
			field: `manifest.nodes["model.shop.orders"].name`, msg: "name is required"},
		{name: "no schema", manifest: func(m obj) { delete(node(m, "sources", "source.shop.shop.orders"), "schema") },
			field: `manifest.sources["source.shop.shop.orders"].schema`, msg: "schema is required for a source"},
		{name: "a freshness period in weeks", manifest: func(m obj) {
			node(m, "sources", "source.shop.shop.orders")["freshness"].(obj)["error_after"].(obj)["period"] = "week"
		}, field: `manifest.sources["source.shop.shop.orders"].freshness.error_after`, msg: `period must be minute, hour or day, not "week"`},
		{name: "run results v3", runResults: func(m obj) {
			m["metadata"].(obj)["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/run-results/v3.json"
		}, field: "run_results.metadata.dbt_schema_version", msg: "run-results schema v3 is not supported: Freshet reads v4 to v6"},
		{name: "run result of a node not in the manifest", runResults: func(m obj) { results(m, 3)["unique_id"] = "model.shop.stg_refunds" },
			field: "run_results.results[3].unique_id", msg: `"model.shop.stg_refunds" is not a node of the manifest`},
		{name: "unknown model status", runResults: func(m obj) { results(m, 0)["status"] = "succeeded" },
			field: "run_results.results[0].status", msg: `not "succeeded"`},
		{name: "unknown test status", runResults: func(m obj) { results(m, 9)["status"] = "passed" },
			field: "run_results.results[9].status", msg: "a test's status must be pass, fail, warn, error or skipped"},
		{name: "no results", runResults: func(m obj) { delete(m, "results") }, field: "run_results.results", msg: "results is required"},
		{name: "results not an array", runResults: func(m obj) { m["results"] = obj{} }, field: "run_results.results", msg: "must be an array, not object"},
		{name: "a bad completed_at", runResults: func(m obj) {
			results(m, 4)["timing"].([]any)[1].(obj)["completed_at"] = "yesterday"
		}, field: "run_results.results[4].timing[1].completed_at", msg: `"yesterday" is not a time`},
		{name: "a result in the future", runResults: func(m obj) {
			results(m, 4)["timing"].([]any)[1].(obj)["completed_at"] = "2027-01-01T00:00:00Z"
		}, field: "run_results.results[4].timing", msg: "is in the future"},
		{name: "execution_time a string", runResults: func(m obj) { results(m, 2)["execution_time"] = "0.3s" },
			field: "run_results.results[2].execution_time", msg: "must be a number, not string"},
		{name: "sources v2", sources: func(m obj) {
			m["metadata"].(obj)["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/sources/v2.json"
		}, field: "sources.metadata.dbt_schema_version", msg: "sources schema v2 is not supported"},
		{name: "freshness of an unknown source", sources: func(m obj) { results(m, 1)["unique_id"] = "source.shop.shop.refunds" },
			field: "sources.results[1].unique_id", msg: `"source.shop.shop.refunds" is not a source of the manifest`},
		{name: "a bad max_loaded_at", sources: func(m obj) { results(m, 0)["max_loaded_at"] = "2026-13-01" },
			field: "sources.results[0].max_loaded_at", msg: `"2026-13-01" is not a time`},
		{name: "a result not an object", runResults: func(m obj) { m["results"].([]any)[5] = "model.shop.orders" },
			field: "run_results.results[5]", msg: "must be an object, not string"},
		{name: "truncated sources", raw: &dbt.Artifacts{Manifest: read(t, "manifest.json"), Sources: read(t, "sources.json")[:300]},
			field: "sources", msg: "ends early"},
	}
	if len(cases) < 10 {
		t.Fatal("the issue asks for at least 10 invalid artifacts")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			art := dbt.Artifacts{Manifest: read(t, "manifest.json"), RunResults: read(t, "run_results.json"), Sources: read(t, "sources.json")}
			switch {
			case c.raw != nil:
				art = *c.raw
			case c.manifest != nil:
				art.Manifest = edit(t, "manifest.json", c.manifest)
			case c.runResults != nil:
				art.RunResults = edit(t, "run_results.json", c.runResults)
			case c.sources != nil:
				art.Sources = edit(t, "sources.json", c.sources)
			}
			im, err := dbt.Map(art, dbt.Options{Now: now})
			if err == nil {
				t.Fatalf("accepted: %d specs, %d events", len(im.Specs), len(im.Events))
			}
			var fe *dbt.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%T %v, want a *dbt.FieldError", err, err)
			}
			if fe.Field() != c.field {
				t.Errorf("field %s, want %s (%v)", fe.Field(), c.field, err)
			}
			if !strings.Contains(fe.Message, c.msg) {
				t.Errorf("message %q, want it to say %q", fe.Message, c.msg)
			}
		})
	}
}
