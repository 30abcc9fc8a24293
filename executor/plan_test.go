package executor

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

// planGraph:
//
//	raw/orders ─┐                         (raw: no materialize command)
//	            ├─> staging/orders ─> marts/revenue ─> reports/daily
//	raw/users ──┘          │
//	                       └─> marts/ltv (tag gold)
//	staging/users (no command) ─> marts/ltv
//	misc/alone
func planGraph() []asset.Spec {
	withMeta := func(s asset.Spec, group string, tags ...string) asset.Spec {
		s.Group, s.Tags = group, tags
		return s
	}
	return []asset.Spec{
		withMeta(spec("reports/daily", []string{"marts/revenue"}, "true"), "reports"),
		withMeta(spec("raw/orders", nil), "raw"),
		withMeta(spec("raw/users", nil), "raw"),
		withMeta(spec("staging/orders", []string{"raw/orders", "raw/users"}, "true"), "staging"),
		withMeta(spec("staging/users", []string{"raw/users"}), "staging"),
		withMeta(spec("marts/revenue", []string{"staging/orders", "external/fx"}, "true"), "marts", "tier=gold"),
		withMeta(spec("marts/ltv", []string{"staging/orders", "staging/users"}, "true"), "marts", "gold"),
		withMeta(spec("misc/alone", nil, "true"), "misc", "gold"),
	}
}

// describePlan prints steps in order with their upstream steps, then the
// selected assets that are not steps.
func describePlan(p *Plan) string {
	var parts []string
	for _, s := range p.Steps {
		if len(s.Upstream) == 0 {
			parts = append(parts, string(s.Key))
			continue
		}
		ups := make([]string, len(s.Upstream))
		for i, u := range s.Upstream {
			ups[i] = string(u)
		}
		parts = append(parts, fmt.Sprintf("%s<-%s", s.Key, strings.Join(ups, ",")))
	}
	out := strings.Join(parts, " ")
	for _, n := range p.NotSteps {
		out += fmt.Sprintf(" | %s: %s", n.Key, n.Reason)
	}
	return out
}

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		selection []string
		want      string
		err       string
	}{
		{"one key", []string{"marts/revenue"}, "marts/revenue", ""},
		{"upstream", []string{"+marts/revenue"}, "staging/orders marts/revenue<-staging/orders | raw/orders: no materialize command | raw/users: no materialize command", ""},
		{"downstream", []string{"staging/orders+"}, "staging/orders marts/ltv<-staging/orders marts/revenue<-staging/orders reports/daily<-marts/revenue", ""},
		{"both ways", []string{"+marts/revenue+"}, "staging/orders marts/revenue<-staging/orders reports/daily<-marts/revenue | raw/orders: no materialize command | raw/users: no materialize command", ""},
		{"group", []string{"group:marts"}, "marts/ltv marts/revenue", ""},
		{"tag", []string{"tag:gold"}, "marts/ltv misc/alone", ""},
		{"tag with =", []string{"tag:tier=gold"}, "marts/revenue", ""},
		{"union dedups", []string{"marts/revenue", "group:marts", "marts/ltv"}, "marts/ltv marts/revenue", ""},
		// A step waits for steps upstream of it even through assets that are
		// not in the run, so data never goes backwards in one run.
		{"order through unselected assets", []string{"reports/daily", "staging/orders"}, "staging/orders reports/daily<-staging/orders", ""},
		{"order through non-materializable", []string{"raw/users+"}, "staging/orders marts/ltv<-staging/orders marts/revenue<-staging/orders reports/daily<-marts/revenue | raw/users: no materialize command | staging/users: no materialize command", ""},
		{"empty", nil, "", "empty selection"},
		{"unknown key", []string{"marts/revenue", "marts/revenu"}, "", `selection term "marts/revenu": no asset marts/revenu`},
		{"unknown upstream key", []string{"+nope"}, "", `selection term "+nope": no asset nope`},
		{"unknown group", []string{"group:finance"}, "", `selection term "group:finance" matches no asset`},
		{"unknown tag", []string{"tag:silver"}, "", `selection term "tag:silver" matches no asset`},
		{"empty group", []string{"group:"}, "", `selection term "group:": group name is empty`},
		{"invalid key", []string{"a//b"}, "", `selection term "a//b": invalid asset key`},
		{"nothing to run", []string{"group:raw"}, "", "nothing to materialize: group:raw selects raw/orders, raw/users, and none has a materialize command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewPlan(planGraph(), tt.selection)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := describePlan(p); got != tt.want {
				t.Errorf("plan\n got %s\nwant %s", got, tt.want)
			}
		})
	}
	if _, err := NewPlan(nil, nil); !errors.Is(err, ErrEmptySelection) {
		t.Errorf("empty selection err = %v", err)
	}
}

func TestPlanCycle(t *testing.T) {
	t.Parallel()
	specs := []asset.Spec{
		spec("a", []string{"c"}, "true"),
		spec("b", []string{"a"}, "true"),
		spec("c", []string{"b"}, "true"),
		spec("d", []string{"c"}, "true"),
		spec("x", nil, "true"),
	}
	_, err := NewPlan(specs, []string{"d"})
	if err == nil || !strings.Contains(err.Error(), "dependency cycle: c -> b -> a -> c") {
		t.Fatalf("err = %v, want the cycle printed", err)
	}
	// A cycle elsewhere in the graph does not block an unrelated run.
	if _, err := NewPlan(specs, []string{"x"}); err != nil {
		t.Errorf("unrelated cycle: %v", err)
	}
	if _, err := NewPlan([]asset.Spec{spec("a", nil, "true"), spec("a", nil, "true")}, []string{"a"}); err == nil || !strings.Contains(err.Error(), "asset a is given twice") {
		t.Errorf("duplicate spec err = %v", err)
	}
}

func TestPlanCopiesSpecs(t *testing.T) {
	t.Parallel()
	specs := []asset.Spec{spec("a", nil, "echo", "x")}
	specs[0].Materialize.Env = map[string]string{"K": "v"}
	p, err := NewPlan(specs, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	specs[0].Materialize.Argv[1] = "changed"
	specs[0].Materialize.Env["K"] = "changed"
	if m := p.Steps[0].Materialize; m.Argv[1] != "x" || m.Env["K"] != "v" {
		t.Errorf("plan shares memory with the specs: %+v", m)
	}
}
