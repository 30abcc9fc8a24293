package config

import (
	"slices"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func FuzzParse(f *testing.F) {
	// Small seeds on purpose: the fuzzer minimizes every new interesting
	// input, which for a large seed like examples/freshet.yaml takes most of
	// a short fuzzing run. TestExampleFile covers that file.
	for _, s := range []string{
		"",
		"assets:\n  - key: a\n  - key: b\n    deps: [a]\n",
		"assets:\n  - key: a\n    deps: [b]\n  - key: b\n    deps: [a]\n",
		"assets:\n  - key: a//b\n    colour: blue\n    owners: {x: y}\n",
		"assets:\n  - &m {key: a, freshness: {max_lag: 1d12h, warn_after: 90m}}\n  - <<: *m\n    key: b\n",
		"freshness_policies:\n  - select: {group: g}\n    cron: '0 7 * * *'\n    max_lag: 2h\nassets: [{key: x, group: g}]\n",
		"assets:\n  - key: a\n    partitions: {type: static, values: [x, x]}\n    materialize: {argv: [x], env: {A: 1}, retries: 101}\n",
		"assets: [\n",
		"alerts:\n  receivers:\n    - {name: pd, type: pagerduty, pagerduty: {routing_key_env: PD_KEY, timeout: 5s}, rate_per_minute: 30}\n    - {name: w, type: webhook, webhook: {url: 'https://h/x', secret_env: S, headers: {X-A: '${T}'}}}\n  rules:\n    - {name: r, when: [freshness_fail, check_failed], check_severity: warn, select: {group: g, keys: [a]}, receivers: [pd, w], repeat_interval: 4h}\n",
		"alerts:\n  receivers: [{name: d, type: datadog, datadog: {addr: 'unix:///s'}}, {name: am, type: alertmanager, alertmanager: {urls: ['http://a:9093']}}]\n  rules:\n    - {name: q, when: [run_failed], receivers: [d, am, x], quiet_hours: {start: '22:00', end: '07:00', timezone: Europe/Paris, days: [sat]}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned a file and an error")
			}
			return
		}
		if file == nil {
			t.Fatal("Parse returned neither a file nor an error")
		}
		checkAlerting(t, &file.Alerts)
		for _, a := range file.Assets {
			if _, err := asset.ParseKey(string(a.Key)); err != nil {
				t.Fatalf("accepted invalid key: %v", err)
			}
			for _, d := range a.Deps {
				if _, err := asset.ParseKey(string(d)); err != nil {
					t.Fatalf("accepted invalid dep: %v", err)
				}
			}
		}
	})
}

// checkAlerting fails t if an accepted alerts block breaks what the alert
// engine relies on: one block per receiver, of its type; rules naming
// declared receivers and known conditions.
func checkAlerting(t *testing.T, a *Alerting) {
	t.Helper()
	names := make(map[string]bool)
	for _, r := range a.Receivers {
		blocks := map[string]bool{ReceiverPagerDuty: r.PagerDuty != nil, ReceiverDatadog: r.Datadog != nil,
			ReceiverAlertmanager: r.Alertmanager != nil, ReceiverWebhook: r.Webhook != nil}
		for typ, set := range blocks {
			if set != (typ == r.Type) {
				t.Fatalf("receiver %q of type %q: %s block set = %v", r.Name, r.Type, typ, set)
			}
		}
		if !validCheckName(r.Name) || names[r.Name] {
			t.Fatalf("accepted receiver name %q", r.Name)
		}
		names[r.Name] = true
	}
	for _, r := range a.Rules {
		if len(r.When) == 0 || len(r.Receivers) == 0 {
			t.Fatalf("rule %q without conditions or receivers", r.Name)
		}
		for _, w := range r.When {
			if !slices.Contains(ruleConditions, w) {
				t.Fatalf("rule %q: accepted condition %q", r.Name, w)
			}
		}
		for _, n := range r.Receivers {
			if !names[n] {
				t.Fatalf("rule %q: accepted unknown receiver %q", r.Name, n)
			}
		}
		if q := r.QuietHours; q != nil && (q.Start == q.End || q.Location == nil || q.Start < 0 || q.Start >= 24*time.Hour || q.End < 0 || q.End > 24*time.Hour) {
			t.Fatalf("rule %q: accepted quiet hours %+v", r.Name, q)
		}
	}
}
