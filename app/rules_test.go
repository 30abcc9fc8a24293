package app_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/config"
)

// TestShippedRulesUseExportedMetrics: every metric the shipped Prometheus
// rules (deploy/prometheus/freshet-rules.yml) query is one Freshet
// exports, so a renamed metric cannot leave a rule silently dead.
func TestShippedRulesUseExportedMetrics(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile("../deploy/prometheus/freshet-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, line := range strings.Split(string(rules), "\n") {
		if expr, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:"); ok {
			used = append(used, regexp.MustCompile(`freshet_[a-z_]+`).FindAllString(expr, -1)...)
		}
	}
	slices.Sort(used)
	used = slices.Compact(used)
	if len(used) < 5 {
		t.Fatalf("found only %v in the rules", used)
	}

	// An asset with an SLA and a receiver, so the freshness and outbox
	// series exist.
	defs, err := config.Parse("rules.yaml", []byte(`
alerts:
  receivers: [{name: console, type: log}]
  rules: [{name: sla, when: [freshness_fail], receivers: [console]}]
assets:
  - key: a
    freshness: {max_lag: 1h}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet, Definitions: defs})
	stateOf(t, srv.base, "a", "UNKNOWN")
	at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	// A failed check and a failed run, so the per-asset series exist.
	body := fmt.Sprintf(`{"kind":"check_result","asset":"a","time":%q,"check":{"name":"c","passed":false,"severity":"error"}}
{"kind":"materialization_failed","asset":"a","time":%q}`, at, at)
	resp, err := http.Post(srv.base+"/api/v1/events", "application/x-ndjson", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(srv.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range used {
		if !strings.Contains(string(exposition), "\n# TYPE "+name+" ") {
			t.Errorf("the rules use %s, which /metrics does not export", name)
		}
	}
}
