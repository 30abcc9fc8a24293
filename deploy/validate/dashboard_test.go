package validate

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// A dashboard panel as far as these tests read it.
type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/grafana/freshet.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("deploy/grafana/freshet.json: %v", err)
	}
	return d
}

// grafanaVar is a Grafana variable in a query: $job, ${job}, $__rate_interval.
var grafanaVar = regexp.MustCompile(`\$\{?(\w+)\}?`)

// promQL turns a dashboard query into plain PromQL: interval variables
// become a duration, the others (inside label matchers) a match-all regexp.
func promQL(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.HasPrefix(strings.Trim(v, "${}"), "__") {
			return "5m"
		}
		return ".*"
	})
}

// selectors is every vector selector of a PromQL expression: its metric
// name and the labels its matchers name.
func selectors(t *testing.T, expr string) map[string][]string {
	t.Helper()
	ast, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s does not parse: %v", expr, err)
		return nil
	}
	out := map[string][]string{}
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%s: a selector without a metric name", expr)
				return nil
			}
			for _, m := range vs.LabelMatchers {
				if m.Name != model.MetricNameLabel {
					out[vs.Name] = append(out[vs.Name], m.Name)
				}
			}
			if _, ok := out[vs.Name]; !ok {
				out[vs.Name] = nil
			}
		}
		return nil
	})
	return out
}

// dashboardQueries is every PromQL query of the dashboard: panel targets
// and template variables (label_values(METRIC{...}, label)).
func dashboardQueries(t *testing.T, d dashboard) []string {
	t.Helper()
	var out []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			out = append(out, promQL(q.Expr))
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+), *\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		out = append(out, promQL(m[1]))
	}
	return out
}

func TestDashboardShape(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.UID != "freshet" || d.Title == "" {
		t.Errorf("uid %q title %q", d.UID, d.Title)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	if !slices.Equal(vars, []string{"datasource", "job", "instance"}) {
		t.Errorf("variables %v, want datasource, job, instance", vars)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("two panels with id %d", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want the ${datasource} variable (the dashboard must import anywhere)", p.Title, p.Datasource)
		}
		for _, q := range p.Targets {
			if !strings.Contains(q.Expr, `job=~"$job"`) || !strings.Contains(q.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q: %s ignores the job or instance variable", p.Title, q.Expr)
			}
		}
	}
}

// TestDashboardMetricsExist starts a real server (freshet dev: the demo
// graph, with runs, checks and an alert receiver, so every family has
// series) and checks that every metric the dashboard and the shipped
// Prometheus rules query is in its /metrics, with the labels the queries
// match on. A renamed metric fails here, not on someone's empty panel.
func TestDashboardMetricsExist(t *testing.T) {
	t.Parallel()
	want := map[string]map[string]bool{} // metric -> labels matched
	add := func(expr string) {
		for name, labels := range selectors(t, expr) {
			if want[name] == nil {
				want[name] = map[string]bool{}
			}
			for _, l := range labels {
				want[name][l] = true
			}
		}
	}
	for _, q := range dashboardQueries(t, readDashboard(t)) {
		add(q)
	}
	for _, expr := range ruleExprs(t) {
		add(expr)
	}
	if len(want) < 30 {
		t.Fatalf("found only %d metrics in the dashboard and rules", len(want))
	}
	s := startFreshet(t, "dev", "--data-dir", t.TempDir(), "--simulate-every", "1s")
	// Some series appear only once the demo has done something (an alert
	// fired, a run ended): poll until all are there or the deadline.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		missing := missingMetrics(t, s.base, want)
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queried by deploy/grafana/freshet.json or deploy/prometheus/freshet-rules.yml but not in a real server's /metrics after 3 minutes:\n  %s",
				strings.Join(missing, "\n  "))
		}
		time.Sleep(time.Second)
	}
}

// Labels Prometheus adds to every scraped series.
var targetLabels = map[string]bool{"job": true, "instance": true}

func missingMetrics(t *testing.T, base string, want map[string]map[string]bool) []string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	textParser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := textParser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	// The names a query can use: a family's, and a histogram's or a
	// summary's series, with the labels seen on each.
	have := map[string]map[string]bool{}
	for name, f := range families {
		names := []string{name}
		switch f.GetType().String() {
		case "HISTOGRAM":
			names = append(names, name+"_bucket", name+"_sum", name+"_count")
		case "SUMMARY":
			names = append(names, name+"_sum", name+"_count")
		}
		for _, n := range names {
			if len(f.GetMetric()) == 0 {
				continue
			}
			have[n] = map[string]bool{"le": strings.HasSuffix(n, "_bucket")}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					have[n][l.GetName()] = true
				}
			}
		}
	}
	var missing []string
	for name, labels := range want {
		if name == "up" {
			continue // made by Prometheus for every target
		}
		got, ok := have[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		for l := range labels {
			if !targetLabels[l] && !got[l] {
				missing = append(missing, name+"{"+l+"}")
			}
		}
	}
	slices.Sort(missing)
	return missing
}

func ruleExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/prometheus/freshet-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}
