package dbt_test

import (
	"errors"
	"testing"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/dbt"
)

// FuzzMap: whatever the bytes, mapping them as a manifest (and as run
// results and source freshness against the test project) never panics,
// fails only with a *dbt.FieldError, and makes only valid keys.
func FuzzMap(f *testing.F) {
	// A small manifest for the results to refer to, and small seeds: the fuzzer minimizes every new input it finds, which
	// takes minutes for one the size of a real manifest.
	manifest := []byte(`{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v12.json"},
	"nodes":{"model.shop.orders":{"unique_id":"model.shop.orders","resource_type":"model","name":"orders","database":"db","schema":"s","columns":{"x":{"data_type":"int"}},"depends_on":{"nodes":["source.shop.shop.orders"]},"config":{"materialized":"table","meta":{"owner":"a@b.c"}}},
	  "test.shop.unique_orders_order_id":{"unique_id":"test.shop.unique_orders_order_id","resource_type":"test","name":"unique_orders_order_id","attached_node":"model.shop.orders","depends_on":{"nodes":["model.shop.orders"]},"test_metadata":{"name":"unique"}}},
	"sources":{"source.shop.shop.orders":{"unique_id":"source.shop.shop.orders","resource_type":"source","name":"orders","schema":"shop","freshness":{"warn_after":{"count":1,"period":"hour"},"error_after":{"count":2,"period":"day"}}}}}`)
	f.Add(manifest, []byte(nil))
	f.Add([]byte(`{}`), []byte(`{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/run-results/v6.json","generated_at":"2026-11-25T06:00:00Z"},"results":[{"unique_id":"model.shop.orders","status":"success","timing":[{"name":"execute","completed_at":"2026-11-25T06:01:00Z"}],"adapter_response":{"rows_affected":3}},{"unique_id":"test.shop.unique_orders_order_id","status":"fail","failures":2}]}`))
	f.Add([]byte(`[]`), []byte(`{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/sources/v3.json"},"results":[{"unique_id":"source.shop.shop.orders","status":"pass","max_loaded_at":"2026-11-25T05:00:00","snapshotted_at":"2026-11-25T06:00:00+00:00"}]}`))
	f.Add([]byte(`{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v10.json"},"nodes":{"x":null}}`), []byte(`{"results":[null]}`))
	f.Fuzz(func(t *testing.T, m, results []byte) {
		for _, art := range []dbt.Artifacts{{Manifest: m}, {Manifest: manifest, RunResults: results}, {Manifest: manifest, Sources: results}} {
			im, err := dbt.Map(art, dbt.Options{Now: now})
			if err != nil {
				var fe *dbt.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("%T %v, want a *dbt.FieldError", err, err)
				}
				continue
			}
			for _, s := range im.Specs {
				if _, err := asset.ParseKey(string(s.Key)); err != nil {
					t.Fatalf("spec key %q: %v", s.Key, err)
				}
			}
			for _, e := range im.Events {
				if _, err := asset.ParseKey(string(e.Asset)); err != nil || e.ID == "" || e.Time.IsZero() {
					t.Fatalf("event %+v", e)
				}
			}
		}
	})
}
