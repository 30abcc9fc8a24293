package dbt_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/dbt"
)

// now is after every time in the test project (2026-11-25).
var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "shop", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// manifestVersion rewrites the v12 manifest as dbt 1.6 (v10) or 1.7
// (v11) would have written it: the schema URL and dbt version, without
// the members those versions did not have (unit_tests came with v12,
// saved_queries with v11).
func manifestVersion(t testing.TB, v int) []byte {
	t.Helper()
	b := read(t, "manifest.json")
	r := strings.NewReplacer()
	switch v {
	case 10:
		r = strings.NewReplacer("manifest/v12.json", "manifest/v10.json", `"dbt_version": "1.8.7"`, `"dbt_version": "1.6.9"`,
			`,
  "saved_queries": {}`, "", `,
  "unit_tests": {}`, "")
	case 11:
		r = strings.NewReplacer("manifest/v12.json", "manifest/v11.json", `"dbt_version": "1.8.7"`, `"dbt_version": "1.7.14"`,
			`,
  "unit_tests": {}`, "")
	}
	out := []byte(r.Replace(string(b)))
	if v != 12 && string(out) == string(b) {
		t.Fatal("the v12 manifest did not change")
	}
	return out
}

func shop(t testing.TB, version int, opts dbt.Options) *dbt.Import {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = now
	}
	im, err := dbt.Map(dbt.Artifacts{Manifest: manifestVersion(t, version), RunResults: read(t, "run_results.json"), Sources: read(t, "sources.json")}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func specOf(t *testing.T, im *dbt.Import, k asset.Key) asset.Spec {
	t.Helper()
	for _, s := range im.Specs {
		if s.Key == k {
			return s
		}
	}
	t.Fatalf("no spec %s among %d", k, len(im.Specs))
	return asset.Spec{}
}

func checkNames(s asset.Spec) []string {
	var out []string
	for _, c := range s.Checks {
		out = append(out, c.Name+":"+string(c.Severity))
	}
	return out
}

func columnNames(s asset.Spec) []string {
	var out []string
	for _, c := range s.Columns {
		out = append(out, c.Name+":"+c.Type)
	}
	return out
}

func TestSpecs(t *testing.T) {
	t.Parallel()
	type want struct {
		key     asset.Key
		deps    []asset.Key
		owners  []string
		tags    []string
		group   string
		kinds   []string
		checks  []string
		columns []string
		maxLag  time.Duration
		warn    time.Duration
		desc    string
	}
	cases := []want{
		{key: "dbt/raw/shop/orders", owners: []string{"platform@shop.example"}, tags: []string{"raw"}, group: "shop.staging.shop",
			kinds: []string{"dbt", "source"}, checks: []string{"dbt_source_freshness:error", "source_not_null_shop_orders_id:error"},
			columns: []string{"id:bigint", "customer_id:bigint", "status:text", "ordered_at:timestamp", "_etl_loaded_at:timestamp"},
			maxLag:  24 * time.Hour, warn: 12 * time.Hour, desc: "One row per order placed in the shop."},
		{key: "dbt/raw/shop/customers", kinds: []string{"dbt", "source"}, maxLag: 48 * time.Hour, warn: 24 * time.Hour,
			checks: []string{"dbt_source_freshness:error"}, owners: []string{"platform@shop.example"}, tags: []string{"raw"},
			group: "shop.staging.shop", columns: []string{"id:bigint", "name:text", "country_code:char(2)"}, desc: "One row per registered customer."},
		{key: "dbt/raw/shop/stripe_payments", kinds: []string{"dbt", "source"}, owners: []string{"platform@shop.example"}, tags: []string{"raw"},
			group: "shop.staging.shop", columns: []string{"id:", "order_id:", "amount_cents:bigint"}, desc: "Payments, from Stripe."},
		{key: "dbt/analytics/seeds/country_codes", kinds: []string{"dbt", "seed"}, group: "shop",
			columns: []string{"code:text", "name:text"}, desc: "ISO 3166 country codes and names."},
		{key: "dbt/analytics/staging/stg_orders", deps: []asset.Key{"dbt/raw/shop/orders"}, kinds: []string{"dbt", "view"},
			tags: []string{"staging"}, group: "shop.staging", checks: []string{"not_null_stg_orders_order_id:error", "unique_stg_orders_order_id:error"},
			// ordered_at is not declared: the compiled SQL selects it.
			columns: []string{"order_id:bigint", "customer_id:", "status:", "ordered_at:"}, desc: "Orders, cleaned."},
		{key: "dbt/analytics/staging/stg_payments", deps: []asset.Key{"dbt/raw/shop/stripe_payments"}, kinds: []string{"dbt", "view"},
			tags: []string{"staging"}, group: "shop.staging"},
		// The ephemeral int_order_payments is no asset: orders reads what it reads.
		{key: "dbt/analytics/marts/orders", deps: []asset.Key{"dbt/analytics/staging/stg_orders", "dbt/analytics/staging/stg_payments"},
			owners: []string{"finance-data@shop.example"}, tags: []string{"finance", "daily"}, group: "finance", kinds: []string{"dbt", "table"},
			checks: []string{"accepted_values_orders_status__placed__shipped__completed__returned:warn", "not_null_orders_customer_id:error",
				"relationships_orders_customer_id__customer_id__ref_customers_:error", "unique_orders_order_id:error"},
			columns: []string{"order_id:bigint", "customer_id:bigint", "status:text", "amount:numeric(12,2)"}, desc: "One row per order, with its payment total."},
		{key: "dbt/analytics/marts/customers", deps: []asset.Key{"dbt/analytics/staging/stg_customers", "dbt/analytics/seeds/country_codes", "dbt/analytics/marts/orders"},
			owners: []string{"crm@shop.example", "ana@shop.example"}, group: "shop.marts", kinds: []string{"dbt", "table"},
			columns: []string{"customer_id:bigint", "name:", "country:", "orders:bigint"}, desc: "One row per customer."},
		// Keyed by its alias, revenue_daily.
		{key: "dbt/analytics/marts/revenue_daily", deps: []asset.Key{"dbt/analytics/marts/orders"}, owners: []string{"finance-data@shop.example"},
			tags: []string{"finance"}, group: "finance", kinds: []string{"dbt", "incremental"}, checks: []string{"assert_revenue_is_positive:error"},
			columns: []string{"day:date", "revenue:numeric"}, desc: "Revenue per day."},
		{key: "dbt/analytics/snapshots/customers_snapshot", deps: []asset.Key{"dbt/raw/shop/customers"}, kinds: []string{"dbt", "snapshot"},
			group: "shop", desc: "Customer history (SCD type 2)."},
	}
	for _, v := range []int{10, 11, 12} {
		im := shop(t, v, dbt.Options{})
		if len(im.Specs) != 11 {
			t.Errorf("v%d: %d specs, want 11 (3 sources, 1 seed, 3 staging, 3 marts, 1 snapshot)", v, len(im.Specs))
		}
		for _, w := range cases {
			t.Run(string(w.key)+"/v"+string(rune('0'+v/10))+string(rune('0'+v%10)), func(t *testing.T) {
				s := specOf(t, im, w.key)
				if s.Origin != asset.OriginDBT {
					t.Errorf("origin %q", s.Origin)
				}
				eq := func(what string, got, want any) {
					t.Helper()
					g, _ := json.Marshal(got)
					wn, _ := json.Marshal(want)
					if string(g) != string(wn) && !(string(g) == "null" && string(wn) == "[]") {
						t.Errorf("%s = %s, want %s", what, g, wn)
					}
				}
				eq("deps", s.Deps, w.deps)
				eq("owners", s.Owners, w.owners)
				eq("tags", s.Tags, w.tags)
				eq("kinds", s.Kinds, w.kinds)
				eq("group", s.Group, w.group)
				eq("description", s.Description, w.desc)
				got := checkNames(s)
				slices.Sort(got)
				eq("checks", got, w.checks)
				if w.columns != nil {
					eq("columns", columnNames(s), w.columns)
				}
				switch {
				case w.maxLag == 0 && s.Freshness != nil:
					t.Errorf("freshness %+v, want none", *s.Freshness)
				case w.maxLag != 0 && (s.Freshness == nil || s.Freshness.MaxLag != w.maxLag || s.Freshness.WarnAfter != w.warn):
					t.Errorf("freshness %+v, want max_lag %s warn_after %s", s.Freshness, w.maxLag, w.warn)
				}
				if w.kinds[1] != "source" && s.CodeVersion == "" {
					t.Error("no code version (the file checksum)")
				}
			})
		}
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	im := shop(t, 12, dbt.Options{})
	want := dbt.Counts{Assets: 11, Checks: 10, ColumnLineage: 15, Materializations: 7, Failures: 1, Tests: 9, TestsFailed: 3, Observations: 2, Skipped: 1}
	if im.Counts != want {
		t.Errorf("counts %+v, want %+v", im.Counts, want)
	}
	type key struct {
		asset asset.Key
		kind  asset.Kind
		check string
	}
	got := map[key]asset.Event{}
	ids := map[string]bool{}
	for _, e := range im.Events {
		k := key{e.Asset, e.Kind, ""}
		if e.Check != nil {
			k.check = e.Check.Name
		}
		if _, dup := got[k]; dup {
			t.Errorf("two events %+v", k)
		}
		got[k] = e
		if ids[e.ID] {
			t.Errorf("id %s twice", e.ID)
		}
		ids[e.ID] = true
	}
	cases := []struct {
		name  string
		key   key
		check func(e asset.Event) string
	}{
		{"a table's rows affected are its row count", key{"dbt/analytics/marts/orders", asset.KindMaterialization, ""}, func(e asset.Event) string {
			if n, ok := e.Metadata.RowCount(); !ok || n != 18342 {
				return "row_count missing or wrong"
			}
			if d := e.Metadata["duration_s"]; d.Float != 138.12 {
				return "duration_s wrong"
			}
			if !e.Time.Equal(time.Date(2026, 11, 25, 6, 2, 41, 120000000, time.UTC)) {
				return "time is not the end of execute: " + e.Time.String()
			}
			if e.RunID != "5f1c2a7e-8b3d-4c9a-a1e2-6d7f8e9a0b1c" {
				return "run id is not the invocation"
			}
			if !slices.Equal(e.Upstream, []asset.Key{"dbt/analytics/staging/stg_orders", "dbt/analytics/staging/stg_payments"}) {
				return "upstream wrong"
			}
			if !strings.Contains(e.Metadata["dbt_adapter_response"].Text, `"rows_affected":18342`) {
				return "adapter response missing"
			}
			return ""
		}},
		{"a view's -1 is no row count", key{"dbt/analytics/staging/stg_orders", asset.KindMaterialization, ""}, func(e asset.Event) string {
			if _, ok := e.Metadata.RowCount(); ok {
				return "a view has a row count"
			}
			return ""
		}},
		{"a seed", key{"dbt/analytics/seeds/country_codes", asset.KindMaterialization, ""}, func(e asset.Event) string {
			if n, _ := e.Metadata.RowCount(); n != 250 {
				return "row count"
			}
			return ""
		}},
		{"a snapshot", key{"dbt/analytics/snapshots/customers_snapshot", asset.KindMaterialization, ""}, func(asset.Event) string { return "" }},
		{"an error is a failure with its message", key{"dbt/analytics/marts/revenue_daily", asset.KindMaterializationFailed, ""}, func(e asset.Event) string {
			if !strings.Contains(e.Metadata["message"].Text, `column "ordered_at" does not exist`) {
				return "message missing"
			}
			return ""
		}},
		{"a failing test", key{"dbt/analytics/marts/orders", asset.KindCheckResult, "not_null_orders_customer_id"}, func(e asset.Event) string {
			if e.Check.Passed || e.Check.Severity != asset.SeverityError || e.Metadata["failures"].Int != 3 {
				return "want failed, error, 3 failures"
			}
			return ""
		}},
		{"a warning test", key{"dbt/analytics/marts/orders", asset.KindCheckResult, "accepted_values_orders_status__placed__shipped__completed__returned"}, func(e asset.Event) string {
			if e.Check.Passed || e.Check.Severity != asset.SeverityWarn {
				return "want failed, warn"
			}
			return ""
		}},
		{"a relationships test checks the model it is attached to", key{"dbt/analytics/marts/orders", asset.KindCheckResult, "relationships_orders_customer_id__customer_id__ref_customers_"}, func(e asset.Event) string {
			if !e.Check.Passed {
				return "want passed"
			}
			return ""
		}},
		{"a source test", key{"dbt/raw/shop/orders", asset.KindCheckResult, "source_not_null_shop_orders_id"}, func(e asset.Event) string {
			if !e.Check.Passed {
				return "want passed"
			}
			return ""
		}},
		{"source freshness: max_loaded_at is the data time", key{"dbt/raw/shop/orders", asset.KindObservation, ""}, func(e asset.Event) string {
			if e.DataTime == nil || !e.DataTime.Equal(time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC)) {
				return "data time wrong"
			}
			return ""
		}},
		{"source freshness warn", key{"dbt/raw/shop/customers", asset.KindCheckResult, dbt.FreshnessCheck}, func(e asset.Event) string {
			if e.Check.Passed || e.Check.Severity != asset.SeverityWarn {
				return "want failed, warn"
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, ok := got[c.key]
			if !ok {
				t.Fatalf("no event %+v", c.key)
			}
			if msg := c.check(e); msg != "" {
				t.Error(msg)
			}
		})
	}
	if _, ok := got[key{"dbt/analytics/marts/revenue_daily", asset.KindCheckResult, "assert_revenue_is_positive"}]; ok {
		t.Error("a skipped test has a result")
	}
	// Deterministic ids: the same files map to the same events.
	again := shop(t, 12, dbt.Options{})
	for i := range again.Events {
		if again.Events[i].ID != im.Events[i].ID {
			t.Fatalf("event %d: id %s, then %s", i, im.Events[i].ID, again.Events[i].ID)
		}
	}
}

// With the warehouse's OpenLineage namespace, keys are what dbt-ol's
// events use: openlineage.DatasetKey(namespace, "db.schema.table").
func TestNamespaceKeys(t *testing.T) {
	t.Parallel()
	im := shop(t, 12, dbt.Options{Namespace: "postgres://warehouse:5432"})
	s := specOf(t, im, "ol/postgres:%2F%2Fwarehouse:5432/analytics.marts.orders")
	if !slices.Contains(s.Deps, "ol/postgres:%2F%2Fwarehouse:5432/analytics.staging.stg_orders") {
		t.Errorf("deps %v", s.Deps)
	}
	specOf(t, im, "ol/postgres:%2F%2Fwarehouse:5432/raw.shop.stripe_payments")
	for _, e := range im.Events {
		if !strings.HasPrefix(string(e.Asset), "ol/postgres:%2F%2Fwarehouse:5432/") {
			t.Errorf("event of %s", e.Asset)
		}
	}
}

// A manifest alone makes specs and no events; run results alone are not
// enough.
func TestManifestOnly(t *testing.T) {
	t.Parallel()
	im, err := dbt.Map(dbt.Artifacts{Manifest: read(t, "manifest.json")}, dbt.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Events) != 0 || len(im.Specs) != 11 || im.Project != "shop" {
		t.Errorf("%d events, %d specs, project %q", len(im.Events), len(im.Specs), im.Project)
	}
}

// TestColumnLineage: the lineage read from the models' compiled SQL.
func TestColumnLineage(t *testing.T) {
	t.Parallel()
	im := shop(t, 12, dbt.Options{})
	lineage := func(k asset.Key) map[string]string {
		out := map[string]string{}
		for _, c := range specOf(t, im, k).Columns {
			var ins []string
			for _, in := range c.Deps {
				if in.Transformation != dbt.InferredTransformation {
					t.Errorf("%s.%s: transformation %q", k, c.Name, in.Transformation)
				}
				ins = append(ins, in.String())
			}
			out[c.Name] = strings.Join(ins, ",")
		}
		return out
	}
	cases := []struct {
		asset asset.Key
		want  map[string]string
	}{
		// select id as order_id, customer_id, status, ordered_at from "raw"."shop"."orders"
		{"dbt/analytics/staging/stg_orders", map[string]string{"order_id": "dbt/raw/shop/orders#id", "customer_id": "dbt/raw/shop/orders#customer_id",
			"status": "dbt/raw/shop/orders#status", "ordered_at": "dbt/raw/shop/orders#ordered_at"}},
		// amount_cents / 100.0 as amount is an expression: no lineage.
		{"dbt/analytics/staging/stg_payments", map[string]string{"payment_id": "dbt/raw/shop/stripe_payments#id", "order_id": "dbt/raw/shop/stripe_payments#order_id"}},
		// o.* through the alias of stg_orders; p.amount comes from the
		// ephemeral model's CTE, which declares no columns.
		{"dbt/analytics/marts/orders", map[string]string{"order_id": "dbt/analytics/staging/stg_orders#order_id", "customer_id": "dbt/analytics/staging/stg_orders#customer_id",
			"status": "dbt/analytics/staging/stg_orders#status", "amount": ""}},
		// cc.name as country across a join; count(o.order_id) is an aggregate.
		{"dbt/analytics/marts/customers", map[string]string{"customer_id": "dbt/analytics/staging/stg_customers#customer_id", "name": "dbt/analytics/staging/stg_customers#name",
			"country": "dbt/analytics/seeds/country_codes#name", "orders": ""}},
		// the incremental model reads ordered_at, which orders does not declare.
		{"dbt/analytics/marts/revenue_daily", map[string]string{"day": "", "revenue": ""}},
	}
	for _, c := range cases {
		t.Run(string(c.asset), func(t *testing.T) {
			got := lineage(c.asset)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(c.want)
			if string(g) != string(w) {
				t.Errorf("column lineage %s, want %s", g, w)
			}
		})
	}
}
