package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/freshet-dev/freshet/app"
)

const healthDefs = `
assets:
  - key: raw/orders
    group: raw
    freshness: {max_lag: 1h}
  - key: staging/orders
    group: staging
    deps: [raw/orders]
  - key: marts/revenue
    group: marts
    deps: [staging/orders]
    freshness: {max_lag: 1d}
`

// TestHealthBesideFreshness: a failed error-severity check on an asset
// that is fresh, and a failed latest run, show in /api/v1/freshness and in
// /metrics (parsed by Prometheus' own parser); the assets without an SLA
// below a root cause are listed as impacted.
func TestHealthBesideFreshness(t *testing.T) {
	t.Parallel()
	base := serverWith(t, func(c *app.Config) { c.Definitions = definitions(t, healthDefs) })
	now := time.Now().UTC()
	at := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	body := fmt.Sprintf(`{"kind":"materialization","asset":"raw/orders","time":%q}
{"kind":"materialization","asset":"staging/orders","time":%q}
{"kind":"materialization","asset":"marts/revenue","time":%q}
{"kind":"check_result","asset":"marts/revenue","time":%q,"check":{"name":"not_null","passed":false,"severity":"error"}}
{"kind":"check_result","asset":"marts/revenue","time":%q,"check":{"name":"row_drift","passed":false,"severity":"warn"}}
{"kind":"materialization_failed","asset":"staging/orders","time":%q}
`, at(3*time.Hour), at(2*time.Hour), at(time.Hour), at(50*time.Minute), at(50*time.Minute), at(10*time.Minute))
	if r := post(t, base+"/api/v1/events", "application/x-ndjson", body); r.status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	eventually(t, base+"/api/v1/freshness", `"state":"FAIL"`) // raw/orders: 3h over 1h

	got := get(t, base+"/api/v1/freshness").json(t)
	problems, _ := got["problems"].([]any)
	if len(problems) != 2 {
		t.Fatalf("problems = %v, want marts/revenue (checks) and staging/orders (run)", problems)
	}
	marts := problems[0].(map[string]any)
	checks, _ := marts["failed_checks"].([]any)
	if marts["key"] != "marts/revenue" || len(checks) != 2 ||
		checks[0].(map[string]any)["check"].(map[string]any)["name"] != "not_null" {
		t.Errorf("marts/revenue problem = %v", marts)
	}
	staging := problems[1].(map[string]any)
	if staging["key"] != "staging/orders" || staging["run_failed"] == nil {
		t.Errorf("staging/orders problem = %v", staging)
	}
	impacted, _ := got["impacted"].([]any)
	if len(impacted) != 1 {
		t.Fatalf("impacted = %v, want one root cause", impacted)
	}
	imp := impacted[0].(map[string]any)
	if imp["root_cause"] != "raw/orders" || fmt.Sprint(imp["assets"]) != "[staging/orders]" || imp["total"] != float64(1) {
		t.Errorf("impacted = %v, want staging/orders (no SLA) under raw/orders; marts/revenue has its own SLA", imp)
	}
	if g := get(t, base+"/api/v1/freshness?group=raw").json(t); len(g["problems"].([]any)) != 0 {
		t.Errorf("group raw has problems %v", g["problems"])
	}

	r := get(t, base+"/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	series := map[string]float64{}
	for _, name := range []string{"freshet_asset_check_failed", "freshet_asset_run_failed"} {
		f, ok := families[name]
		if !ok {
			t.Fatalf("%s missing", name)
		}
		for _, m := range f.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + " "
			}
			series[name+" "+labels] = m.GetGauge().GetValue()
		}
	}
	for s, want := range map[string]float64{
		"freshet_asset_check_failed asset=marts/revenue check=not_null group=marts severity=error ": 1,
		"freshet_asset_check_failed asset=marts/revenue check=row_drift group=marts severity=warn ": 1,
		"freshet_asset_run_failed asset=staging/orders group=staging ":                              1,
	} {
		if v, ok := series[s]; !ok || v != want {
			t.Errorf("%s= %v (present %v), want %v; all: %v", s, v, ok, want, series)
		}
	}
}
