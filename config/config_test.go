package config

import (
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

// parseProblems parses src and returns its problems, failing the test if
// Parse returned some other kind of error.
func parseProblems(t *testing.T, src string) Problems {
	t.Helper()
	f, err := Parse("test.yaml", []byte(src))
	if err == nil {
		if f == nil {
			t.Fatal("Parse returned neither a file nor an error")
		}
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error is %T, want Problems: %v", err, err)
	}
	if f != nil {
		t.Errorf("Parse returned a file along with problems")
	}
	return ps
}

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		line  int
		field string
		msg   string
	}{
		{"unknown top-level field", "assets: []\ncolour: blue\n", 2, "colour", `unknown field "colour"; known fields: assets, freshness_policies, max_concurrent, pools`},
		{"unknown asset field", "assets:\n  - key: a\n    colour: blue\n", 3, "assets[0].colour", `unknown field "colour"`},
		{"top level is a list", "- key: a\n", 1, "", "expected a mapping with an assets list"},
		{"assets is a mapping", "assets:\n  key: a\n", 2, "assets", "expected a list, got a mapping"},
		{"asset is a string", "assets:\n  - a\n", 2, "assets[0]", "expected a mapping, got a string"},
		{"yaml syntax error", "assets:\n  - key: a\n    deps: [b\n", 2, "", "invalid YAML"},
		{"yaml bad indentation", "assets:\n  - key: a\n   group: x\n", 1, "", "invalid YAML"},
		{"second document", "assets: []\n---\nassets: []\n", 2, "", "a second YAML document"},
		{"duplicate field", "assets:\n  - key: a\n    group: x\n    group: y\n", 4, "assets[0].group", `duplicate field "group" (first at line 3)`},
		{"missing key", "assets:\n  - group: raw\n", 2, "assets[0].key", "key is required"},
		{"invalid key", "assets:\n  - key: a//b\n", 2, "assets[0].key", `invalid asset key "a//b": part 2 is empty`},
		{"key is a list", "assets:\n  - key: [a]\n", 2, "assets[0].key", "expected a string, got a list"},
		{"duplicate key", "assets:\n  - key: raw/orders\n  - key: b\n  - key: raw/orders\n", 4, "assets[2].key", "duplicate key raw/orders (first declared at line 2)"},
		{"owners is a mapping", "assets:\n  - key: a\n    owners: {team: x}\n", 3, "assets[0].owners", "expected a list of strings such as [a, b], got a mapping"},
		{"tags is a string", "assets:\n  - key: a\n    tags: pii\n", 3, "assets[0].tags", "got a string"},
		{"empty owner", "assets:\n  - key: a\n    owners: [x, '']\n", 3, "assets[0].owners[1]", "must not be empty"},
		{"description is a list", "assets:\n  - key: a\n    description: [x]\n", 3, "assets[0].description", "expected a string, got a list"},
		{"kind is a mapping", "assets:\n  - key: a\n    kinds:\n      - table\n      - {x: y}\n", 5, "assets[0].kinds[1]", "expected a string, got a mapping"},
		{"unknown dep with suggestion", "assets:\n  - key: raw/orders\n  - key: marts/revenue\n    deps: [raw/ordrs]\n", 4, "assets[1].deps[0]", `unknown asset "raw/ordrs" (did you mean "raw/orders"?)`},
		{"unknown dep far from any key", "assets:\n  - key: raw/orders\n  - key: b\n    deps:\n      - something/else\n", 5, "assets[1].deps[0]", `unknown asset "something/else"`},
		{"self dep", "assets:\n  - key: a\n    deps: [a]\n", 3, "assets[0].deps[0]", "a depends on itself"},
		{"duplicate dep", "assets:\n  - key: a\n  - key: b\n    deps:\n      - a\n      - a\n", 6, "assets[1].deps[1]", "duplicate dep a (also deps[0])"},
		{"invalid dep key", "assets:\n  - key: a\n    deps: [' b']\n", 3, "assets[0].deps[0]", "surrounding white space"},
		{"deps is a string", "assets:\n  - key: a\n    deps: b\n", 3, "assets[0].deps", "expected a list of strings"},
		{"two-cycle", "assets:\n  - key: a\n    deps: [b]\n  - key: b\n    deps: [a]\n", 2, "assets[0].deps", "dependency cycle: a -> b -> a"},
		{"max_lag without unit", "assets:\n  - key: a\n    freshness:\n      max_lag: 2\n", 4, "assets[0].freshness.max_lag", "give a unit, e.g. 2h"},
		{"max_lag unknown unit", "assets:\n  - key: a\n    freshness: {max_lag: 2y}\n", 3, "assets[0].freshness.max_lag", `unknown unit "y"`},
		{"max_lag negative", "assets:\n  - key: a\n    freshness: {max_lag: -2h}\n", 3, "assets[0].freshness.max_lag", "negative"},
		{"max_lag is a list", "assets:\n  - key: a\n    freshness: {max_lag: [2h]}\n", 3, "assets[0].freshness.max_lag", "expected a duration"},
		{"max_lag under a second", "assets:\n  - key: a\n    freshness: {max_lag: 500ms}\n", 3, "assets[0].freshness", "max_lag 500ms is less than 1s"},
		{"grace under a second", "assets:\n  - key: a\n    freshness: {max_lag: 1h, grace: 1ns}\n", 3, "assets[0].freshness", "grace 1ns is less than 1s"},
		{"warn_after not below max_lag", "assets:\n  - key: a\n    freshness: {max_lag: 1h, warn_after: 2h}\n", 3, "assets[0].freshness", "warn_after 2h must be less than max_lag 1h"},
		{"automation enabled not a bool", "assets: []\nautomation:\n  enabled: yes please\n", 3, "automation.enabled", "expected true or false"},
		{"automation cooldown without unit", "assets: []\nautomation: {enabled: true, cooldown: 10}\n", 2, "automation.cooldown", "give a unit"},
		{"automation backoff below cooldown", "assets: []\nautomation:\n  cooldown: 1h\n  max_backoff: 10m\n", 4, "automation.max_backoff", "max_backoff 10m is less than cooldown 1h"},
		{"automation empty exclude", "assets: []\nautomation:\n  exclude:\n    - {}\n", 4, "automation.exclude[0]", "select is empty"},
		{"automation unknown field", "assets: []\nautomation: {enable: true}\n", 2, "automation.enable", "unknown field"},
		{"bad grace", "assets:\n  - key: a\n    freshness: {max_lag: 1h, grace: soon}\n", 3, "assets[0].freshness.grace", "soon"},
		{"freshness without max_lag", "assets:\n  - key: a\n    freshness:\n      warn_after: 2h\n", 4, "assets[0].freshness", "max_lag is required"},
		{"timezone without cron", "assets:\n  - key: a\n    freshness: {max_lag: 1h, timezone: Europe/Paris}\n", 3, "assets[0].freshness", "timezone \"Europe/Paris\" is set but cron is not"},
		{"bad cron", "assets:\n  - key: a\n    freshness: {cron: 'not a cron', max_lag: 1h}\n", 3, "assets[0].freshness", "invalid freshness policy"},
		{"unknown freshness field", "assets:\n  - key: a\n    freshness:\n      max_lag: 1h\n      maxlag: 2h\n", 5, "assets[0].freshness.maxlag", `unknown field "maxlag"`},
		{"freshness is a list", "assets:\n  - key: a\n    freshness: [1h]\n", 3, "assets[0].freshness", "expected a mapping, got a list"},
		{"unknown partition type", "assets:\n  - key: a\n    partitions: {type: weekly}\n", 3, "assets[0].partitions.type", `unknown partition type "weekly"`},
		{"partition type missing", "assets:\n  - key: a\n    partitions: {start: 2026-01-01T00:00:00Z}\n", 3, "assets[0].partitions.type", "type is required"},
		{"hourly without start", "assets:\n  - key: a\n    partitions: {type: hourly}\n", 3, "assets[0].partitions.start", "start is required for hourly partitions"},
		{"start not RFC 3339", "assets:\n  - key: a\n    partitions:\n      type: daily\n      start: 2026-01-01\n", 5, "assets[0].partitions.start", "not an RFC 3339 time"},
		{"static without values", "assets:\n  - key: a\n    partitions: {type: static}\n", 3, "assets[0].partitions.values", "values is required for static partitions"},
		{"static duplicate value", "assets:\n  - key: a\n    partitions:\n      type: static\n      values:\n        - eu\n        - us\n        - eu\n", 8, "assets[0].partitions.values[2]", `duplicate partition "eu" (first at line 6)`},
		{"values on daily", "assets:\n  - key: a\n    partitions:\n      type: daily\n      start: 2026-01-01T00:00:00Z\n      values: [x]\n", 6, "assets[0].partitions.values", "values apply to static partitions, not daily"},
		{"check without name", "assets:\n  - key: a\n    checks:\n      - severity: warn\n", 4, "assets[0].checks[0].name", "name is required"},
		{"check bad name", "assets:\n  - key: a\n    checks: [{name: 'rows > 0'}]\n", 3, "assets[0].checks[0].name", `invalid check name "rows > 0"`},
		{"check duplicate name", "assets:\n  - key: a\n    checks:\n      - name: c\n      - name: c\n", 5, "assets[0].checks[1].name", `duplicate check name "c" (first at line 4)`},
		{"check bad severity", "assets:\n  - key: a\n    checks:\n      - name: c\n        severity: fatal\n", 5, "assets[0].checks[0].severity", `unknown severity "fatal"; use warn or error`},
		{"checks is a mapping", "assets:\n  - key: a\n    checks: {name: c}\n", 3, "assets[0].checks", "expected a list, got a mapping"},
		{"materialize without argv", "assets:\n  - key: a\n    materialize:\n      pool: x\n", 4, "assets[0].materialize.argv", "argv is required"},
		{"materialize empty argv", "assets:\n  - key: a\n    materialize: {argv: []}\n", 3, "assets[0].materialize.argv", "argv must not be empty"},
		{"retries out of range", "assets:\n  - key: a\n    materialize: {argv: [x], retries: 101}\n", 3, "assets[0].materialize.retries", "101 is out of range 0..100"},
		{"retries not an integer", "assets:\n  - key: a\n    materialize: {argv: [x], retries: many}\n", 3, "assets[0].materialize.retries", "expected an integer, got a string"},
		{"timeout without unit", "assets:\n  - key: a\n    materialize:\n      argv: [x]\n      timeout: 30\n", 5, "assets[0].materialize.timeout", "give a unit"},
		{"env value is a list", "assets:\n  - key: a\n    materialize:\n      argv: [x]\n      env:\n        A: [1]\n", 6, "assets[0].materialize.env.A", "expected a string, got a list"},
		{"env is a list", "assets:\n  - key: a\n    materialize: {argv: [x], env: [A=1]}\n", 3, "assets[0].materialize.env", "expected a mapping of NAME: value"},
		{"unknown materialize field", "assets:\n  - key: a\n    materialize: {argv: [x], command: y}\n", 3, "assets[0].materialize.command", `unknown field "command"`},
		{"policy with empty select", "assets: []\nfreshness_policies:\n  - select: {}\n    max_lag: 1h\n", 3, "freshness_policies[0].select", "select is empty"},
		{"policy without select", "assets: []\nfreshness_policies:\n  - max_lag: 1h\n", 3, "freshness_policies[0].select", "select is required"},
		{"policy unknown selector", "assets: []\nfreshness_policies:\n  - select: {team: x}\n    max_lag: 1h\n", 3, "freshness_policies[0].select.team", `unknown field "team"`},
		{"policy invalid", "assets: []\nfreshness_policies:\n  - select: {group: raw}\n    max_lag: 1h\n    warn_after: 1h\n", 3, "freshness_policies[0]", "warn_after 1h must be less than max_lag 1h"},
		{"policy invalid key_prefix", "assets: []\nfreshness_policies:\n  - select: {key_prefix: raw/}\n    max_lag: 1h\n", 3, "freshness_policies[0].select.key_prefix", "part 2 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := parseProblems(t, tt.src)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(ps), lines(ps))
			}
			p := ps[0]
			if p.File != "test.yaml" || p.Line != tt.line || p.Field != tt.field || !strings.Contains(p.Message, tt.msg) {
				t.Errorf("got  %s\nwant test.yaml:%d: %s: ...%s...", p.Error(), tt.line, tt.field, tt.msg)
			}
		})
	}
}

func lines(ps Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Error() + "\n")
	}
	return b.String()
}

func TestAllProblemsReported(t *testing.T) {
	t.Parallel()
	src := `assets:
  - key: raw/orders
    group: raw
    colour: blue
  - key: marts/revenue
    deps: [raw/ordrs]
  - key: a
    deps: [b]
  - key: b
    deps: [a]
  - key: raw/orders
    owners: {x: y}
    freshness: {max_lag: 1h, warn_after: 2h}
    materialize: {argv: [], retries: 200}
    checks: [{name: "x y"}, {severity: bad}]
freshness_policies:
  - select: {}
    max_lag: 2h
`
	want := []string{
		"test.yaml:4: assets[0].colour: unknown field \"colour\"",
		"test.yaml:6: assets[1].deps[0]: unknown asset \"raw/ordrs\" (did you mean \"raw/orders\"?)",
		"test.yaml:7: assets[2].deps: dependency cycle: a -> b -> a",
		"test.yaml:11: assets[4].key: duplicate key raw/orders (first declared at line 2)",
		"test.yaml:12: assets[4].owners: expected a list of strings",
		"test.yaml:13: assets[4].freshness: invalid freshness policy: warn_after 2h must be less than max_lag 1h",
		"test.yaml:14: assets[4].materialize.argv: argv must not be empty",
		"test.yaml:14: assets[4].materialize.retries: 200 is out of range 0..100",
		"test.yaml:15: assets[4].checks[0].name: invalid check name \"x y\"",
		"test.yaml:15: assets[4].checks[1].name: name is required",
		"test.yaml:15: assets[4].checks[1].severity: unknown severity \"bad\"",
		"test.yaml:17: freshness_policies[0].select: select is empty",
	}
	ps := parseProblems(t, src)
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(ps), len(want), lines(ps))
	}
	for i, p := range ps {
		if !strings.HasPrefix(p.Error(), want[i]) {
			t.Errorf("problem %d:\ngot  %s\nwant %s...", i, p.Error(), want[i])
		}
	}
	// The one-line form names the count and the first few.
	msg := ps.Error()
	if !strings.HasPrefix(msg, "12 problems: test.yaml:4: ") || !strings.HasSuffix(msg, "; and 9 more") {
		t.Errorf("Problems.Error() = %q", msg)
	}
}

func TestExampleFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../examples/freshet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("freshet.yaml", data)
	if err != nil {
		t.Fatalf("examples/freshet.yaml has problems:\n%v", lines(asProblems(err)))
	}
	if len(f.Assets) != 24 {
		t.Fatalf("got %d assets, want 24", len(f.Assets))
	}
	byKey := make(map[asset.Key]asset.Spec)
	for _, a := range f.Assets {
		if a.Origin != asset.OriginDeclared {
			t.Errorf("%s: origin %q", a.Key, a.Origin)
		}
		byKey[a.Key] = a
	}
	if !f.Automation.Enabled || !f.Automation.Excluded(byKey["marts/revenue_daily"]) || f.Automation.Excluded(byKey["raw/fx/rates"]) {
		t.Errorf("the demo's automation should be on for the fx assets and off for the dbt models: %+v", f.Automation)
	}
	if f.Assets[0].Key != "raw/shop/orders" || f.Assets[len(f.Assets)-1].Key != "dashboards/churn_risk" {
		t.Errorf("assets not in file order: first %s, last %s", f.Assets[0].Key, f.Assets[len(f.Assets)-1].Key)
	}

	enriched := byKey["marts/orders_enriched"]
	if want := []asset.Key{"staging/orders", "staging/customers", "staging/products", "staging/payments"}; !slices.Equal(enriched.Deps, want) {
		t.Errorf("orders_enriched deps = %v, want %v", enriched.Deps, want)
	}
	if p := enriched.Freshness; p == nil || p.MaxLag != 6*time.Hour || p.WarnAfter != 4*time.Hour {
		t.Errorf("orders_enriched freshness = %+v", p)
	}
	if m := enriched.Materialize; m == nil || !slices.Equal(m.Argv, []string{"dbt", "build", "--select", "orders_enriched"}) ||
		m.Timeout != 30*time.Minute || m.Retries != 2 || m.Pool != "warehouse" {
		t.Errorf("orders_enriched materialize = %+v", m)
	}
	if c := enriched.Checks; len(c) != 1 || c[0].Name != "revenue_matches_payments" || c[0].Severity != asset.SeverityError {
		t.Errorf("orders_enriched checks = %+v", c)
	}

	revenue := byKey["marts/revenue_daily"].Freshness
	if revenue == nil || revenue.Cron != "0 7 * * *" || revenue.Timezone != "Europe/Paris" || revenue.MaxLag != 8*time.Hour {
		t.Errorf("revenue_daily freshness = %+v", revenue)
	}
	if p := byKey["ml/churn_model"].Freshness; p == nil || p.MaxLag != 48*time.Hour || p.WarnAfter != 36*time.Hour {
		t.Errorf("churn_model freshness = %+v", p)
	}
	if p := byKey["raw/shop/orders"].Freshness; p == nil || p.MaxLag != 2*time.Hour || p.WarnAfter != 90*time.Minute {
		t.Errorf("raw/shop/orders freshness = %+v", p)
	}
	if p := byKey["raw/web/events"].Partitions; p == nil || p.Type != "hourly" || !p.Start.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("raw/web/events partitions = %+v", p)
	}
	orders := byKey["staging/orders"].Checks
	if len(orders) != 2 || orders[1].Name != "not_null_customer_id" || orders[1].Severity != asset.SeverityWarn {
		t.Errorf("staging/orders checks = %+v", orders)
	}
	if got := byKey["staging/accounts"].Deps; !slices.Equal(got, []asset.Key{"raw/crm/accounts", "staging/customers"}) {
		t.Errorf("staging/accounts deps = %v", got)
	}
	if got := byKey["raw/stripe/payments"].Owners; !slices.Equal(got, []string{"team:ingestion", "finance@example.com"}) {
		t.Errorf("raw/stripe/payments owners = %v", got)
	}
	if byKey["staging/customers"].Freshness != nil {
		t.Errorf("staging/customers has a freshness policy it did not declare")
	}
}

func asProblems(err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return ps
	}
	return Problems{{Message: err.Error()}}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("assets:\n  - key: a\n  - key: b\n    deps: [a]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(good)
	if err != nil || f.Name != good || len(f.Assets) != 2 || !slices.Equal(f.Assets[1].Deps, []asset.Key{"a"}) {
		t.Fatalf("Load(good) = %+v, %v", f, err)
	}

	missing := filepath.Join(dir, "missing.yaml")
	_, err = Load(missing)
	var ps Problems
	if err == nil || errors.As(err, &ps) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) error = %v; want a wrapped not-exist error naming the path", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("assets:\n  - key: a\n    deps: [c]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].File != bad || ps[0].Line != 3 {
		t.Errorf("Load(bad) error = %v", err)
	}
}

func TestValidFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		check     func(t *testing.T, f *File)
	}{
		{"empty file", "", func(t *testing.T, f *File) {
			if len(f.Assets) != 0 {
				t.Errorf("assets = %v", f.Assets)
			}
		}},
		{"only comments", "# nothing yet\n", nil},
		{"null assets and empty description", "assets:\n", nil},
		{"defaults", "assets:\n  - key: a\n    description:\n    checks: [{name: c}]\n", func(t *testing.T, f *File) {
			a := f.Assets[0]
			if a.Description != "" || a.Checks[0].Severity != asset.SeverityError || a.Origin != asset.OriginDeclared {
				t.Errorf("spec = %+v", a)
			}
		}},
		{"scalars as strings", "assets:\n  - key: a\n    code_version: 3\n    tags: [yes, 1.5]\n", func(t *testing.T, f *File) {
			a := f.Assets[0]
			if a.CodeVersion != "3" || !slices.Equal(a.Tags, []string{"yes", "1.5"}) {
				t.Errorf("spec = %+v", a)
			}
		}},
		{"static partitions", "assets:\n  - key: a\n    partitions: {type: static, values: [eu, us]}\n", func(t *testing.T, f *File) {
			if p := f.Assets[0].Partitions; p == nil || !slices.Equal(p.Values, []string{"eu", "us"}) {
				t.Errorf("partitions = %+v", p)
			}
		}},
		{"materialize", "assets:\n  - key: a\n    materialize:\n      argv: [sh, -c, 'exit 0']\n      env: {A: 1, B: x}\n      dir: /tmp\n      timeout: 1d2h\n      retries: 0\n", func(t *testing.T, f *File) {
			m := f.Assets[0].Materialize
			if m == nil || len(m.Argv) != 3 || m.Env["A"] != "1" || m.Env["B"] != "x" || m.Dir != "/tmp" || m.Timeout != 26*time.Hour {
				t.Errorf("materialize = %+v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, tt.src)
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestMergeKeys(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `assets:
  - &base
    key: a
    group: g
    owners: [team:x]
  - <<: *base
    key: b
    deps: [a]
`)
	b := f.Assets[1]
	if b.Key != "b" || b.Group != "g" || !slices.Equal(b.Owners, []string{"team:x"}) || !slices.Equal(b.Deps, []asset.Key{"a"}) {
		t.Errorf("merged spec = %+v", b)
	}
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	// The expansion limit is what keeps this fast; BenchmarkAliasBomb
	// measures how fast.
	ps := parseProblems(t, aliasBomb(30))
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "too many alias expansions") {
		t.Fatalf("problems:\n%s", lines(ps))
	}
}

// aliasBomb is a file in which each asset merges the previous one twice:
// walked naively, the last asset expands to 2^depth mappings.
func aliasBomb(depth int) string {
	var b strings.Builder
	b.WriteString("assets:\n  - &m0 {key: a0}\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "  - &m%d {<<: [*m%d, *m%d], key: a%d}\n", i, i-1, i-1, i)
	}
	return b.String()
}
