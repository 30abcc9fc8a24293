package config

import (
	"testing"
	"time"
)

func TestSelectionPolicies(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `freshness_policies:
  - select: {group: raw, tag: critical}
    max_lag: 1h
  - select: {group: raw}
    max_lag: 1d
    warn_after: 12h
  - select: {owner: team:finance}
    cron: "0 7 * * *"
    timezone: Europe/Paris
    max_lag: 2h
  - select: {key_prefix: marts}
    max_lag: 6h
assets:
  - key: raw/a
    group: raw
    tags: [critical]
  - key: raw/b
    group: raw
  - key: raw/own
    group: raw
    freshness: {max_lag: 5m}
  - key: fin/report
    owners: [team:ops, team:finance]
  - key: marts/x
  - key: martsy/x
  - key: other
    tags: [critical]
`)
	want := map[string]string{
		"raw/a":      "max_lag 1h0m0s",                     // first matching policy wins
		"raw/b":      "max_lag 24h0m0s warn 12h0m0s",       // all selectors must match
		"raw/own":    "max_lag 5m0s",                       // the asset's own policy wins
		"fin/report": "cron 0 7 * * * Europe/Paris 2h0m0s", // owner is one of several
		"marts/x":    "max_lag 6h0m0s",                     // key_prefix matches whole parts
		"martsy/x":   "none",
		"other":      "none", // tag alone does not satisfy {group: raw, tag: critical}
	}
	for _, a := range f.Assets {
		got := "none"
		if p := a.Freshness; p != nil {
			switch {
			case p.Cron != "":
				got = "cron " + p.Cron + " " + p.Timezone + " " + p.MaxLag.String()
			case p.WarnAfter != 0:
				got = "max_lag " + p.MaxLag.String() + " warn " + p.WarnAfter.String()
			default:
				got = "max_lag " + p.MaxLag.String()
			}
		}
		if got != want[string(a.Key)] {
			t.Errorf("%s: policy %s, want %s", a.Key, got, want[string(a.Key)])
		}
	}

	// Each asset gets its own copy: changing one must not change another.
	f.Assets[0].Freshness.MaxLag = time.Minute
	for _, a := range f.Assets[1:] {
		if a.Freshness != nil && a.Freshness.MaxLag == time.Minute {
			t.Errorf("%s shares its policy with raw/a", a.Key)
		}
	}
}

func TestSelectionPolicyInvalidIsNotApplied(t *testing.T) {
	t.Parallel()
	ps := parseProblems(t, `freshness_policies:
  - select: {group: raw, colour: red}
    max_lag: 2
assets:
  - key: raw/a
    group: raw
`)
	if len(ps) != 2 || ps[0].Field != "freshness_policies[0].select.colour" || ps[1].Field != "freshness_policies[0].max_lag" {
		t.Errorf("problems:\n%s", lines(ps))
	}
}
