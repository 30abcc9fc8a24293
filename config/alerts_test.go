package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// alertsExample uses every field of the alerts block.
const alertsExample = `alerts:
  receivers:
    - name: oncall
      type: pagerduty
      pagerduty: {routing_key_env: PD_ROUTING_KEY, endpoint: https://events.eu.pagerduty.com, source: freshet-prod, timeout: 10s}
      rate_per_minute: 30
    - name: dd
      type: datadog
      datadog: {addr: 127.0.0.1:8125, tags: [env:prod]}
    - name: am
      type: alertmanager
      alertmanager: {urls: [http://am-1:9093, http://am-2:9093], generator_url: https://freshet.example.com, timeout: 5s}
    - name: slack
      type: webhook
      webhook:
        url: https://hooks.slack.com/services/T000/B000/XXXX
        secret_env: HOOK_SECRET
        headers: {X-Team: data, Authorization: "Bearer ${HOOK_TOKEN}"}
        timeout: 3s
  rules:
    - name: gold-sla
      when: [freshness_fail, check_failed, run_failed]
      check_severity: warn
      select: {group: marts, keys: [marts/revenue, marts/kpis]}
      receivers: [oncall, slack]
      severity: critical
      repeat_interval: 4h
      quiet_hours: {start: "22:00", end: "07:00", timezone: Europe/Paris, days: [sat, sun]}
    - name: everything
      when: [freshness_warn, materialization_failed]
      receivers: [dd, am]
`

func TestAlertsValid(t *testing.T) {
	t.Parallel()
	f := mustParse(t, alertsExample)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	want := Alerting{
		Receivers: []Receiver{
			{Name: "oncall", Type: ReceiverPagerDuty, RatePerMinute: 30, PagerDuty: &PagerDutyReceiver{
				RoutingKeyEnv: "PD_ROUTING_KEY", Endpoint: "https://events.eu.pagerduty.com", Source: "freshet-prod", Timeout: 10 * time.Second}},
			{Name: "dd", Type: ReceiverDatadog, Datadog: &DatadogReceiver{Addr: "127.0.0.1:8125", Tags: []string{"env:prod"}}},
			{Name: "am", Type: ReceiverAlertmanager, Alertmanager: &AlertmanagerReceiver{
				URLs: []string{"http://am-1:9093", "http://am-2:9093"}, GeneratorURL: "https://freshet.example.com", Timeout: 5 * time.Second}},
			{Name: "slack", Type: ReceiverWebhook, Webhook: &WebhookReceiver{
				URL: "https://hooks.slack.com/services/T000/B000/XXXX", SecretEnv: "HOOK_SECRET",
				Headers: map[string]string{"X-Team": "data", "Authorization": "Bearer ${HOOK_TOKEN}"}, Timeout: 3 * time.Second}},
		},
		Rules: []AlertRule{
			{
				Name: "gold-sla", When: []string{WhenFreshnessFail, WhenCheckFailed, WhenRunFailed}, CheckSeverity: asset.SeverityWarn,
				Select:    &Selector{Keys: []asset.Key{"marts/revenue", "marts/kpis"}, Group: "marts"},
				Receivers: []string{"oncall", "slack"}, Severity: "critical", RepeatInterval: 4 * time.Hour,
				QuietHours: &QuietHours{Start: 22 * time.Hour, End: 7 * time.Hour, Location: paris, Days: []time.Weekday{time.Saturday, time.Sunday}},
			},
			{Name: "everything", When: []string{WhenFreshnessWarn, WhenMaterialization}, Receivers: []string{"dd", "am"}},
		},
	}
	if !reflect.DeepEqual(f.Alerts, want) {
		t.Errorf("Alerts =\n%+v\nwant\n%+v", f.Alerts, want)
		for i := range min(len(f.Alerts.Rules), len(want.Rules)) {
			if !reflect.DeepEqual(f.Alerts.Rules[i], want.Rules[i]) {
				t.Errorf("rule %d = %+v\nwant      %+v", i, f.Alerts.Rules[i], want.Rules[i])
			}
		}
	}
}

func TestAlertsDefaults(t *testing.T) {
	t.Parallel()
	if f := mustParse(t, "assets: []\n"); !reflect.DeepEqual(f.Alerts, Alerting{}) {
		t.Errorf("no alerts block: %+v", f.Alerts)
	}
	mustParse(t, "alerts:\n")
	mustParse(t, "alerts: {receivers: [], rules: []}\n")
	f := mustParse(t, `alerts:
  receivers:
    - {name: dd, type: datadog, datadog: {}}
    - {name: dd2, type: datadog, datadog: }
  rules:
    - {name: checks, when: [check_failed], receivers: [dd]}
    - name: all-day
      when: [freshness_fail]
      receivers: [dd2]
      quiet_hours: {start: "0:00", end: "24:00"}
      repeat_interval: 0s
`)
	if r := f.Alerts.Receivers[0]; r.Datadog == nil || r.Datadog.Addr != "" || r.PagerDuty != nil {
		t.Errorf("datadog: {} = %+v", r)
	}
	if r := f.Alerts.Receivers[1]; r.Datadog == nil {
		t.Errorf("datadog with nothing after it = %+v", r)
	}
	r := f.Alerts.Rules[0]
	if r.CheckSeverity != asset.SeverityError || r.Select != nil || r.Severity != "" || r.QuietHours != nil || r.RepeatInterval != 0 {
		t.Errorf("rule defaults = %+v", r)
	}
	q := f.Alerts.Rules[1].QuietHours
	if q == nil || q.Start != 0 || q.End != 24*time.Hour || q.Location != time.UTC || q.Days != nil {
		t.Errorf("quiet hours = %+v", q)
	}
}

// lines joins its arguments as lines of a file, so that a test reads its
// line numbers off the list.
func yamlLines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// withRules puts rule lines after two receivers (oncall, slack); the first
// rule line is line 6.
func withRules(ls ...string) string {
	return yamlLines(append([]string{
		"alerts:",
		"  receivers:",
		"    - {name: oncall, type: pagerduty, pagerduty: {routing_key_env: PD_KEY}}",
		"    - {name: slack, type: webhook, webhook: {url: 'https://hooks.example.com/x'}}",
		"  rules:",
	}, ls...)...)
}

// withReceiver puts one receiver's lines after "alerts:\n  receivers:";
// the first is line 3.
func withReceiver(ls ...string) string {
	return yamlLines(append([]string{"alerts:", "  receivers:"}, ls...)...)
}

const ruleHead = "    - {name: r, when: [freshness_fail], receivers: [oncall]"

// ruleBlock is a valid rule in block style, lines 6 to 8 under withRules;
// more fields can follow it.
var ruleBlock = []string{"    - name: r", "      when: [freshness_fail]", "      receivers: [oncall]"}

func withRule(more ...string) string { return withRules(append(slices.Clone(ruleBlock), more...)...) }

func TestAlertProblems(t *testing.T) {
	t.Parallel()
	const pd = "alerts.receivers[0].pagerduty"
	const wh = "alerts.receivers[0].webhook"
	const r0 = "alerts.rules[0]"
	const qh = r0 + ".quiet_hours"
	tests := []struct {
		name  string
		src   string
		line  int
		field string
		msg   string
	}{
		// The block.
		{"alerts is a list", "alerts: [a]\n", 1, "alerts", "expected a mapping, got a list"},
		{"unknown alerts field", "alerts:\n  recievers: []\n", 2, "alerts.recievers", `unknown field "recievers"; known fields: receivers, rules`},
		{"receivers is a mapping", "alerts:\n  receivers: {a: b}\n", 2, "alerts.receivers", "expected a list, got a mapping"},
		{"rules is a string", "alerts:\n  rules: all\n", 2, "alerts.rules", "expected a list, got a string"},

		// Receivers.
		{"receiver is a string", withReceiver("    - oncall"), 3, "alerts.receivers[0]", "expected a mapping, got a string"},
		{"unknown receiver field", withReceiver("    - name: a", "      type: datadog", "      datadog: {}", "      colour: x"), 6, "alerts.receivers[0].colour", `unknown field "colour"; known fields: name, type, rate_per_minute, pagerduty, datadog, alertmanager, webhook`},
		{"receiver without name", withReceiver("    - type: datadog", "      datadog: {}"), 3, "alerts.receivers[0].name", "name is required"},
		{"receiver empty name", withReceiver("    - {name: '', type: datadog, datadog: {}}"), 3, "alerts.receivers[0].name", "name must not be empty"},
		{"receiver bad name", withReceiver("    - {name: on call, type: datadog, datadog: {}}"), 3, "alerts.receivers[0].name", `invalid receiver name "on call": use letters, digits, '_', '.' and '-'`},
		{"duplicate receiver", withReceiver("    - {name: a, type: datadog, datadog: {}}", "    - name: a", "      type: datadog", "      datadog: {}"), 4, "alerts.receivers[1].name", `duplicate receiver name "a" (first at line 3)`},
		{"type missing", withReceiver("    - {name: a, datadog: {}}"), 3, "alerts.receivers[0].type", "type is required: pagerduty, datadog, alertmanager, webhook or log"},
		{"unknown type", withReceiver("    - {name: a, type: slack, webhook: {url: 'https://x'}}"), 3, "alerts.receivers[0].type", `unknown receiver type "slack"; use pagerduty, datadog, alertmanager, webhook or log`},
		{"type block missing", withReceiver("    - name: a", "      type: pagerduty"), 3, pd, "a pagerduty receiver needs a pagerduty block, e.g. {routing_key_env: PD_ROUTING_KEY}"},
		{"another type's block", withReceiver("    - name: a", "      type: datadog", "      datadog: {}", "      webhook: {url: 'https://x'}"), 6, wh, "a webhook block in a receiver of type datadog; only the datadog block applies"},
		{"rate_per_minute negative", withReceiver("    - {name: a, type: datadog, datadog: {}, rate_per_minute: -1}"), 3, "alerts.receivers[0].rate_per_minute", "-1 is out of range 0..100000"},
		{"rate_per_minute text", withReceiver("    - {name: a, type: datadog, datadog: {}, rate_per_minute: lots}"), 3, "alerts.receivers[0].rate_per_minute", "expected an integer"},
		{"block is a list", withReceiver("    - {name: a, type: datadog, datadog: [x]}"), 3, "alerts.receivers[0].datadog", "expected a mapping, got a list"},

		// Secrets.
		{"routing_key written", withReceiver("    - name: a", "      type: pagerduty", "      pagerduty:", "        routing_key_env: PD", "        routing_key: e93facc04764012d7bfb002500d5d1a6"), 7, pd + ".routing_key", "the routing key must not be written in the file: put it in an environment variable and give that variable's name as routing_key_env"},
		{"integration_key written", withReceiver("    - {name: a, type: pagerduty, pagerduty: {routing_key_env: PD, integration_key: k}}"), 3, pd + ".integration_key", "routing_key_env"},
		{"routing_key beside the block", withReceiver("    - name: a", "      type: pagerduty", "      routing_key: k", "      pagerduty: {routing_key_env: PD}"), 5, "alerts.receivers[0].routing_key", "must not be written in the file"},
		{"webhook secret written", withReceiver("    - name: a", "      type: webhook", "      webhook:", "        url: https://x", "        secret: s3cr3t"), 7, wh + ".secret", "give that variable's name as secret_env"},
		{"datadog api_key written", withReceiver("    - {name: a, type: datadog, datadog: {api_key: k}}"), 3, "alerts.receivers[0].datadog.api_key", "DogStatsD needs no API key"},
		{"routing_key_env missing", withReceiver("    - name: a", "      type: pagerduty", "      pagerduty: {endpoint: 'https://x'}"), 5, pd + ".routing_key_env", "routing_key_env is required"},
		{"routing_key_env not a name", withReceiver("    - {name: a, type: pagerduty, pagerduty: {routing_key_env: pd-key}}"), 3, pd + ".routing_key_env", "not an environment variable name: use a letter or _ followed by letters, digits and _"},
		{"routing_key_env is the key", withReceiver("    - {name: a, type: pagerduty, pagerduty: {routing_key_env: e93facc04764012d7bfb002500d5d1a6}}"), 3, pd + ".routing_key_env", "this looks like a secret, not a variable name"},
		{"routing_key_env empty", withReceiver("    - {name: a, type: pagerduty, pagerduty: {routing_key_env: ''}}"), 3, pd + ".routing_key_env", "must not be empty"},
		{"secret_env not a name", withReceiver("    - {name: a, type: webhook, webhook: {url: 'https://x', secret_env: '1SECRET'}}"), 3, wh + ".secret_env", "not an environment variable name"},

		// PagerDuty.
		{"endpoint not http", withReceiver("    - {name: a, type: pagerduty, pagerduty: {routing_key_env: PD, endpoint: events.pagerduty.com}}"), 3, pd + ".endpoint", "not an absolute http(s) URL"},
		{"pagerduty timeout without unit", withReceiver("    - name: a", "      type: pagerduty", "      pagerduty:", "        routing_key_env: PD", "        timeout: 10"), 7, pd + ".timeout", "10 has no unit; give a unit, e.g. 2h"},
		{"unknown pagerduty field", withReceiver("    - {name: a, type: pagerduty, pagerduty: {routing_key_env: PD, url: 'https://x'}}"), 3, pd + ".url", `unknown field "url"; known fields: routing_key_env, endpoint, source, timeout`},

		// Datadog.
		{"datadog addr without port", withReceiver("    - {name: a, type: datadog, datadog: {addr: localhost}}"), 3, "alerts.receivers[0].datadog.addr", `"localhost": want host:port (UDP)`},
		{"datadog addr bad port", withReceiver("    - {name: a, type: datadog, datadog: {addr: 'localhost:99999'}}"), 3, "alerts.receivers[0].datadog.addr", "not a number in 1..65535"},
		{"datadog relative socket", withReceiver("    - {name: a, type: datadog, datadog: {addr: 'unix://dsd.socket'}}"), 3, "alerts.receivers[0].datadog.addr", "a socket address needs an absolute path"},
		{"datadog empty tag", withReceiver("    - {name: a, type: datadog, datadog: {tags: [env:prod, '']}}"), 3, "alerts.receivers[0].datadog.tags[1]", "must not be empty"},

		// Alertmanager.
		{"alertmanager urls missing", withReceiver("    - name: a", "      type: alertmanager", "      alertmanager: {generator_url: 'https://f'}"), 5, "alerts.receivers[0].alertmanager.urls", "urls is required"},
		{"alertmanager urls empty", withReceiver("    - {name: a, type: alertmanager, alertmanager: {urls: []}}"), 3, "alerts.receivers[0].alertmanager.urls", "urls must not be empty"},
		{"alertmanager urls a string", withReceiver("    - {name: a, type: alertmanager, alertmanager: {urls: 'http://am:9093'}}"), 3, "alerts.receivers[0].alertmanager.urls", "expected a list of strings"},
		{"alertmanager url not http", withReceiver("    - name: a", "      type: alertmanager", "      alertmanager:", "        urls:", "          - http://am-1:9093", "          - am-2:9093"), 8, "alerts.receivers[0].alertmanager.urls[1]", "not an absolute http(s) URL"},
		{"alertmanager url twice", withReceiver("    - {name: a, type: alertmanager, alertmanager: {urls: ['http://am:9093', 'http://am:9093']}}"), 3, "alerts.receivers[0].alertmanager.urls[1]", "duplicate URL (also urls[0])"},
		{"alertmanager url with password", withReceiver("    - {name: a, type: alertmanager, alertmanager: {urls: ['http://u:p@am:9093']}}"), 3, "alerts.receivers[0].alertmanager.urls[0]", "credentials (user:password@) must not be written in the file"},
		{"generator_url relative", withReceiver("    - {name: a, type: alertmanager, alertmanager: {urls: ['http://am:9093'], generator_url: /x}}"), 3, "alerts.receivers[0].alertmanager.generator_url", "not an absolute http(s) URL"},

		// Webhook.
		{"webhook url missing", withReceiver("    - name: a", "      type: webhook", "      webhook: {secret_env: S}"), 5, wh + ".url", "url is required"},
		{"webhook url empty", withReceiver("    - {name: a, type: webhook, webhook: {url: ''}}"), 3, wh + ".url", "url must not be empty"},
		{"webhook url not http", withReceiver("    - {name: a, type: webhook, webhook: {url: 'ftp://x/y'}}"), 3, wh + ".url", "not an absolute http(s) URL"},
		{"webhook headers a list", withReceiver("    - {name: a, type: webhook, webhook: {url: 'https://x', headers: [a]}}"), 3, wh + ".headers", "expected a mapping of Header-Name: value"},
		{"webhook reserved header", withReceiver("    - {name: a, type: webhook, webhook: {url: 'https://x', headers: {x-freshet-signature: s}}}"), 3, wh + ".headers.x-freshet-signature", "X-Freshet-Signature is set by Freshet"},
		{"webhook bad header name", withReceiver("    - {name: a, type: webhook, webhook: {url: 'https://x', headers: {'X Team': s}}}"), 3, wh + ".headers.X Team", `invalid header name "X Team"`},
		{"webhook duplicate header", withReceiver("    - name: a", "      type: webhook", "      webhook:", "        url: https://x", "        headers:", "          X-Team: a", "          x-team: b"), 9, wh + ".headers.x-team", `duplicate header "x-team" (first at line 8)`},
		{"webhook literal credential", withReceiver("    - {name: a, type: webhook, webhook: {url: 'https://x', headers: {Authorization: Bearer abc}}}"), 3, wh + ".headers.Authorization", "a credential must not be written in the file: put it in an environment variable and write ${NAME}"},
		{"webhook literal token header", withReceiver("    - {name: a, type: webhook, webhook: {url: 'https://x', headers: {X-Auth-Token: abc}}}"), 3, wh + ".headers.X-Auth-Token", "a credential must not be written"},
		{"webhook bad reference", withReceiver("    - {name: a, type: webhook, webhook: {url: 'https://x', headers: {X-A: '${A'}}}"), 3, wh + ".headers.X-A", "unterminated ${"},
		{"webhook header value a list", withReceiver("    - {name: a, type: webhook, webhook: {url: 'https://x', headers: {X-A: [a]}}}"), 3, wh + ".headers.X-A", "expected a string, got a list"},

		// Rules.
		{"rule is a string", withRules("    - r"), 6, r0, "expected a mapping, got a string"},
		{"unknown rule field", withRules(ruleHead + ", for: 5m}"), 6, r0 + ".for", `unknown field "for"; known fields: name, when, check_severity, select, receivers, severity, repeat_interval, quiet_hours`},
		{"rule without name", withRules("    - {when: [freshness_fail], receivers: [oncall]}"), 6, r0 + ".name", "name is required"},
		{"rule bad name", withRules("    - {name: 'gold sla', when: [freshness_fail], receivers: [oncall]}"), 6, r0 + ".name", `invalid rule name "gold sla"`},
		{"duplicate rule", withRules(ruleHead+"}", ruleHead+"}"), 7, "alerts.rules[1].name", `duplicate rule name "r" (first at line 6)`},
		{"when missing", withRules("    - {name: r, receivers: [oncall]}"), 6, r0 + ".when", "when is required: one or more of freshness_fail, freshness_at_risk, freshness_warn, freshness_unknown, materialization_failed, check_failed, run_failed"},
		{"when empty", withRules("    - {name: r, when: [], receivers: [oncall]}"), 6, r0 + ".when", "when must not be empty"},
		{"when a string", withRules("    - {name: r, when: freshness_fail, receivers: [oncall]}"), 6, r0 + ".when", "expected a list of strings such as [a, b], got a string"},
		{"when unknown, a typo", withRules("    - name: r", "      when: [freshness_failed]", "      receivers: [oncall]"), 7, r0 + ".when[0]", `unknown condition "freshness_failed" (did you mean "freshness_fail"?); use freshness_fail,`},
		{"when unknown", withRules("    - {name: r, when: [stale], receivers: [oncall]}"), 6, r0 + ".when[0]", `unknown condition "stale"; use freshness_fail, freshness_at_risk`},
		{"when twice", withRules("    - {name: r, when: [run_failed, run_failed], receivers: [oncall]}"), 6, r0 + ".when[1]", `duplicate condition "run_failed" (also when[0])`},
		{"check_severity without check_failed", withRule("      check_severity: warn"), 9, r0 + ".check_severity", "check_severity applies to check_failed only"},
		{"check_severity unknown", withRules("    - {name: r, when: [check_failed], receivers: [oncall], check_severity: fatal}"), 6, r0 + ".check_severity", `unknown check severity "fatal"; use warn or error`},
		{"receivers missing", withRules("    - {name: r, when: [freshness_fail]}"), 6, r0 + ".receivers", "receivers is required"},
		{"receivers empty", withRules("    - {name: r, when: [freshness_fail], receivers: []}"), 6, r0 + ".receivers", "receivers must not be empty"},
		{"receiver unknown, a typo", withRules("    - name: r", "      when: [freshness_fail]", "      receivers: [slack, oncal]"), 8, r0 + ".receivers[1]", `unknown receiver "oncal" (did you mean "oncall"?)`},
		{"receiver unknown", withRules("    - {name: r, when: [freshness_fail], receivers: [email]}"), 6, r0 + ".receivers[0]", `unknown receiver "email"; declared receivers: oncall, slack`},
		{"receiver unknown, none declared", "alerts:\n  rules:\n    - {name: r, when: [freshness_fail], receivers: [oncall]}\n", 3, r0 + ".receivers[0]", `unknown receiver "oncall"; no receivers are declared under alerts.receivers`},
		{"receiver twice", withRules("    - {name: r, when: [freshness_fail], receivers: [oncall, oncall]}"), 6, r0 + ".receivers[1]", `duplicate receiver "oncall" (also receivers[0])`},
		{"severity unknown", withRules(ruleHead + ", severity: high}"), 6, r0 + ".severity", `unknown severity "high"; use critical, error, warning or info`},
		{"repeat_interval without unit", withRules(ruleHead + ", repeat_interval: 4}"), 6, r0 + ".repeat_interval", "4 has no unit"},
		{"repeat_interval too short", withRules(ruleHead + ", repeat_interval: 30s}"), 6, r0 + ".repeat_interval", "repeat_interval 30s is too short: at least 1m (or 0 to never repeat)"},

		// Selectors.
		{"select empty", withRules(ruleHead + ", select: {}}"), 6, r0 + ".select", "select is empty; give at least one of keys, group, owner, tag, kind, key_prefix (leave select out to match every asset)"},
		{"select null", withRule("      select:"), 9, r0 + ".select", "select is empty"},
		{"select a list", withRules(ruleHead + ", select: [a]}"), 6, r0 + ".select", "expected a mapping, got a list"},
		{"select unknown selector", withRules(ruleHead + ", select: {team: x}}"), 6, r0 + ".select.team", `unknown field "team"; known fields: keys, group, owner, tag, kind, key_prefix`},
		{"select empty group", withRules(ruleHead + ", select: {group: ''}}"), 6, r0 + ".select.group", "must not be empty"},
		{"select bad key_prefix", withRules(ruleHead + ", select: {key_prefix: raw/}}"), 6, r0 + ".select.key_prefix", "part 2 is empty"},
		{"select bad key", withRules("    - name: r", "      when: [freshness_fail]", "      receivers: [oncall]", "      select:", "        keys:", "          - a", "          - a//b"), 12, r0 + ".select.keys[1]", "part 2 is empty"},
		{"select key twice", withRules(ruleHead + ", select: {keys: [a, b, a]}}"), 6, r0 + ".select.keys[2]", "duplicate key a (also keys[0])"},
		{"select keys empty", withRules(ruleHead + ", select: {keys: []}}"), 6, r0 + ".select.keys", "keys must not be empty"},

		// Quiet hours.
		{"quiet_hours a string", withRules(ruleHead + ", quiet_hours: nights}"), 6, qh, "expected a mapping, got a string"},
		{"quiet_hours unknown field", withRules(ruleHead + ", quiet_hours: {start: '22:00', end: '07:00', tz: UTC}}"), 6, qh + ".tz", `unknown field "tz"; known fields: start, end, timezone, days`},
		{"quiet_hours without start", withRule("      quiet_hours:", "        end: '07:00'"), 10, qh + ".start", "start is required: when the quiet window opens, as HH:MM"},
		{"quiet_hours without end", withRule("      quiet_hours:", "        start: '22:00'"), 10, qh + ".end", "end is required"},
		{"quiet_hours bad hour", withRules(ruleHead + ", quiet_hours: {start: '25:00', end: '07:00'}}"), 6, qh + ".start", `"25:00" is not a time of day: write HH:MM, 00:00 to 23:59`},
		{"quiet_hours not a clock", withRules(ruleHead + ", quiet_hours: {start: '22:00', end: 7pm}}"), 6, qh + ".end", `"7pm" is not a time of day: write HH:MM, 00:00 to 24:00`},
		{"quiet_hours seconds", withRules(ruleHead + ", quiet_hours: {start: '22:00:00', end: '07:00'}}"), 6, qh + ".start", "is not a time of day"},
		{"quiet_hours start at 24:00", withRules(ruleHead + ", quiet_hours: {start: '24:00', end: '07:00'}}"), 6, qh + ".start", "00:00 to 23:59"},
		{"quiet_hours a number", withRules(ruleHead + ", quiet_hours: {start: 2200, end: '07:00'}}"), 6, qh + ".start", `"2200" is not a time of day`},
		{"quiet_hours empty window", withRules(ruleHead + ", quiet_hours: {start: '07:00', end: '07:00'}}"), 6, qh + ".end", "end equals start: the window would be empty"},
		{"quiet_hours Local", withRules(ruleHead + ", quiet_hours: {start: '22:00', end: '07:00', timezone: Local}}"), 6, qh + ".timezone", `timezone "Local": name a zone such as Europe/Paris`},
		{"quiet_hours unknown zone", withRules(ruleHead + ", quiet_hours: {start: '22:00', end: '07:00', timezone: Mars/Olympus}}"), 6, qh + ".timezone", `timezone "Mars/Olympus": unknown time zone`},
		{"quiet_hours unknown day", withRule("      quiet_hours:", "        start: '22:00'", "        end: '07:00'", "        days: [mon, funday]"), 12, qh + ".days[1]", `unknown day "funday"; use mon, tue, wed, thu, fri, sat or sun`},
		{"quiet_hours day twice", withRules(ruleHead + ", quiet_hours: {start: '22:00', end: '07:00', days: [sat, Sat]}}"), 6, qh + ".days[1]", `duplicate day "Sat" (also days[0])`},
		{"quiet_hours no days", withRules(ruleHead + ", quiet_hours: {start: '22:00', end: '07:00', days: []}}"), 6, qh + ".days", "days must not be empty; leave it out for every day"},
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

// A secret written by mistake must not be echoed back in a problem: check
// output goes to terminals and CI logs.
func TestAlertProblemsDoNotEchoSecrets(t *testing.T) {
	t.Parallel()
	const key = "e93facc04764012d7bfb002500d5d1a6"
	src := withReceiver(
		"    - name: a",
		"      type: pagerduty",
		"      pagerduty: {routing_key: "+key+"}",
		"    - name: b",
		"      type: pagerduty",
		"      pagerduty: {routing_key_env: "+key+"}",
		"    - name: c",
		"      type: pagerduty",
		"      pagerduty: {routing_key_env: 'x-"+key+"'}",
		"    - name: d",
		"      type: webhook",
		"      webhook: {url: 'https://hooks.example.com/"+key+"?', headers: {Authorization: '"+key+"'}}",
		"    - name: e",
		"      type: webhook",
		"      webhook: {url: 'hooks.example.com/"+key+"'}",
	)
	ps := parseProblems(t, src)
	if len(ps) != 6 { // a: routing_key and routing_key_env missing; b, c, d, e: one each
		t.Errorf("got %d problems, want 6:\n%s", len(ps), lines(ps))
	}
	for _, p := range ps {
		if strings.Contains(p.Error(), key[:10]) {
			t.Errorf("problem echoes the secret: %s", p.Error())
		}
	}
}

// A receiver with a problem of its own is not also reported as unknown by
// the rules that name it; every problem of a bad block is reported.
func TestAlertProblemsTogether(t *testing.T) {
	t.Parallel()
	src := `alerts:
  rules:
    - name: r
      when: [freshness_fail, check_failed]
      receivers: [oncall, "on call", pd]
  receivers:
    - name: oncall
      type: pagerduty
    - name: on call
      type: datadog
      datadog: {}
    - name: pd
      type: pagrduty
      pagerduty: {routing_key: x, timeout: 5}
      webhook: {url: x}
`
	want := []string{
		"test.yaml:7: alerts.receivers[0].pagerduty: a pagerduty receiver needs a pagerduty block",
		`test.yaml:9: alerts.receivers[1].name: invalid receiver name "on call"`,
		`test.yaml:13: alerts.receivers[2].type: unknown receiver type "pagrduty"`,
		"test.yaml:14: alerts.receivers[2].pagerduty.routing_key: the routing key must not be written in the file",
		"test.yaml:14: alerts.receivers[2].pagerduty.routing_key_env: routing_key_env is required",
		"test.yaml:14: alerts.receivers[2].pagerduty.timeout: 5 has no unit",
		"test.yaml:15: alerts.receivers[2].webhook.url: not an absolute http(s) URL",
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
}

// Anchors and merge keys work in the alerts block as everywhere else.
func TestAlertsMergeKeys(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `alerts:
  receivers:
    - {name: a, type: datadog, datadog: {}}
  rules:
    - &base
      name: one
      when: [freshness_fail]
      receivers: [a]
      quiet_hours: &nights {start: "22:00", end: "07:00", timezone: Europe/Paris}
    - <<: *base
      name: two
      quiet_hours: *nights
`)
	r := f.Alerts.Rules
	if len(r) != 2 || r[1].Name != "two" || !slices.Equal(r[1].Receivers, []string{"a"}) || r[1].QuietHours == nil || r[1].QuietHours.Location.String() != "Europe/Paris" {
		t.Errorf("rules = %+v", r)
	}
}

func TestSelectorMatches(t *testing.T) {
	t.Parallel()
	spec := asset.Spec{Key: "marts/finance/revenue", Group: "marts", Owners: []string{"team:fin", "ana@example.com"}, Tags: []string{"gold"}, Kinds: []string{"dbt", "table"}}
	tests := []struct {
		name string
		sel  *Selector
		want bool
	}{
		{"nil matches every asset", nil, true},
		{"key listed", &Selector{Keys: []asset.Key{"x", "marts/finance/revenue"}}, true},
		{"key not listed", &Selector{Keys: []asset.Key{"marts/finance"}}, false},
		{"prefix", &Selector{KeyPrefix: "marts/finance"}, true},
		{"prefix is the key", &Selector{KeyPrefix: "marts/finance/revenue"}, true},
		{"prefix of a part", &Selector{KeyPrefix: "marts/fin"}, false},
		{"group", &Selector{Group: "marts"}, true},
		{"other group", &Selector{Group: "raw"}, false},
		{"owner", &Selector{Owner: "ana@example.com"}, true},
		{"tag", &Selector{Tag: "gold"}, true},
		{"missing tag", &Selector{Tag: "pii"}, false},
		{"kind", &Selector{Kind: "table"}, true},
		{"all match", &Selector{Keys: []asset.Key{"marts/finance/revenue"}, KeyPrefix: "marts", Group: "marts", Owner: "team:fin", Tag: "gold", Kind: "dbt"}, true},
		{"one of all fails", &Selector{Keys: []asset.Key{"marts/finance/revenue"}, Group: "marts", Kind: "view"}, false},
		{"keys and a failing group", &Selector{Keys: []asset.Key{"marts/finance/revenue"}, Group: "raw"}, false},
	}
	for _, tt := range tests {
		if got := tt.sel.Matches(spec); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
	// From the file: the decoded selector means what it says.
	f := mustParse(t, withRules(ruleHead+", select: {key_prefix: marts, tag: gold}}"))
	if s := f.Alerts.Rules[0].Select; !s.Matches(spec) || s.Matches(asset.Spec{Key: "marts/x"}) {
		t.Errorf("decoded selector %+v", s)
	}
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	h := func(n float64) time.Duration { return time.Duration(n * float64(time.Hour)) }
	at := func(loc *time.Location, s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	utc := func(s string) time.Time { return at(time.UTC, s) }
	nights := &QuietHours{Start: h(22), End: h(7), Location: paris}
	weekendNights := &QuietHours{Start: h(22), End: h(7), Location: paris, Days: []time.Weekday{time.Saturday, time.Sunday}}
	office := &QuietHours{Start: h(9), End: h(17.5), Location: ny, Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}}
	weekend := &QuietHours{Start: 0, End: h(24), Days: []time.Weekday{time.Saturday, time.Sunday}}
	always := &QuietHours{Start: 0, End: h(24)}
	earlyMorning := &QuietHours{Start: h(2.5), End: h(4), Location: paris}

	tests := []struct {
		name string
		q    *QuietHours
		t    time.Time
		in   bool
		end  time.Time // EndOf(t); t itself when not in
	}{
		{"before the window", nights, at(paris, "2026-06-10 21:59"), false, at(paris, "2026-06-10 21:59")},
		{"at the start", nights, at(paris, "2026-06-10 22:00"), true, at(paris, "2026-06-11 07:00")},
		{"before midnight", nights, at(paris, "2026-06-10 23:59"), true, at(paris, "2026-06-11 07:00")},
		{"at midnight", nights, at(paris, "2026-06-11 00:00"), true, at(paris, "2026-06-11 07:00")},
		{"after midnight", nights, at(paris, "2026-06-11 06:59"), true, at(paris, "2026-06-11 07:00")},
		{"at the end", nights, at(paris, "2026-06-11 07:00"), false, at(paris, "2026-06-11 07:00")},
		{"in another zone", nights, utc("2026-06-10 20:30"), true, utc("2026-06-11 05:00")}, // 22:30 CEST
		{"not yet in another zone", nights, utc("2026-06-10 19:30"), false, utc("2026-06-10 19:30")},

		// Days are the days a window opens on.
		{"friday night is not the weekend", weekendNights, at(paris, "2026-06-12 23:00"), false, at(paris, "2026-06-12 23:00")},
		{"saturday morning belongs to friday night", weekendNights, at(paris, "2026-06-13 03:00"), false, at(paris, "2026-06-13 03:00")},
		{"saturday night", weekendNights, at(paris, "2026-06-13 23:00"), true, at(paris, "2026-06-14 07:00")},
		{"sunday morning belongs to saturday night", weekendNights, at(paris, "2026-06-14 03:00"), true, at(paris, "2026-06-14 07:00")},
		{"monday morning belongs to sunday night", weekendNights, at(paris, "2026-06-15 06:00"), true, at(paris, "2026-06-15 07:00")},
		{"monday night", weekendNights, at(paris, "2026-06-15 23:00"), false, at(paris, "2026-06-15 23:00")},

		{"office hours", office, at(ny, "2026-06-10 12:00"), true, at(ny, "2026-06-10 17:30")},
		{"office closed", office, at(ny, "2026-06-10 17:30"), false, at(ny, "2026-06-10 17:30")},
		{"office on saturday", office, at(ny, "2026-06-13 12:00"), false, at(ny, "2026-06-13 12:00")},

		// Whole days chain into one stretch.
		{"weekend saturday", weekend, utc("2026-06-13 10:00"), true, utc("2026-06-15 00:00")},
		{"weekend sunday", weekend, utc("2026-06-14 23:59"), true, utc("2026-06-15 00:00")},
		{"weekend monday", weekend, utc("2026-06-15 00:00"), false, utc("2026-06-15 00:00")},
		{"every day, all day", always, utc("2026-06-10 10:00"), true, utc("2026-06-18 00:00")},

		// DST in Paris: clocks go 02:00 -> 03:00 on 2026-03-29 and
		// 03:00 -> 02:00 on 2026-10-25. Windows keep their clock times:
		// the night is an hour shorter, then an hour longer.
		{"spring night start", nights, utc("2026-03-28 21:00"), true, utc("2026-03-29 05:00")}, // 22:00 CET to 07:00 CEST: 8h
		{"spring night, after the jump", nights, at(paris, "2026-03-29 03:30"), true, utc("2026-03-29 05:00")},
		{"spring night ended", nights, utc("2026-03-29 05:00"), false, utc("2026-03-29 05:00")},
		{"autumn night start", nights, utc("2026-10-24 20:00"), true, utc("2026-10-25 06:00")}, // 22:00 CEST to 07:00 CET: 10h
		{"autumn night, repeated hour", nights, utc("2026-10-25 00:30"), true, utc("2026-10-25 06:00")},
		{"autumn night, still on at 06:59 CET", nights, utc("2026-10-25 05:59"), true, utc("2026-10-25 06:00")},
		{"autumn night ended", nights, utc("2026-10-25 06:00"), false, utc("2026-10-25 06:00")},
		// 02:30 does not exist on 2026-03-29: the window opens at 03:30 CEST.
		{"start in the gap, before", earlyMorning, utc("2026-03-29 01:15"), false, utc("2026-03-29 01:15")},               // 03:15 CEST
		{"start in the gap, moved", earlyMorning, utc("2026-03-29 01:30"), true, utc("2026-03-29 02:00")},                 // 03:30 to 04:00 CEST
		{"start in the repeated hour", earlyMorning, utc("2026-10-25 00:45"), false, utc("2026-10-25 00:45")},             // 02:45 CEST, first time round
		{"start in the repeated hour, second time", earlyMorning, utc("2026-10-25 01:45"), true, utc("2026-10-25 03:00")}, // 02:45 CET
		{"ordinary early morning", earlyMorning, at(paris, "2026-06-10 03:00"), true, at(paris, "2026-06-10 04:00")},

		{"nil", nil, utc("2026-06-10 10:00"), false, utc("2026-06-10 10:00")},
		{"empty window", &QuietHours{Start: h(7), End: h(7)}, utc("2026-06-10 07:00"), false, utc("2026-06-10 07:00")},
		{"UTC when no location", &QuietHours{Start: h(1), End: h(2)}, utc("2026-06-10 01:30"), true, utc("2026-06-10 02:00")},
	}
	for _, tt := range tests {
		if got := tt.q.Contains(tt.t); got != tt.in {
			t.Errorf("%s: Contains(%s) = %v, want %v", tt.name, tt.t, got, tt.in)
		}
		if got := tt.q.EndOf(tt.t); !got.Equal(tt.end) {
			t.Errorf("%s: EndOf(%s) = %s, want %s", tt.name, tt.t, got.UTC(), tt.end.UTC())
		}
	}
}

// The alerts examples of the docs are valid files.
func TestAlertsDocExamples(t *testing.T) {
	t.Parallel()
	n := 0
	for _, doc := range []string{"../docs/config.md", "../docs/alerts.md"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range strings.Split(string(data), "```yaml\n")[1:] {
			block, _, _ = strings.Cut(block, "```")
			if !strings.HasPrefix(block, "alerts:") {
				continue
			}
			n++
			if _, err := Parse(doc, []byte(block)); err != nil {
				t.Errorf("%s, yaml block %d: %v", doc, i+1, err)
			}
		}
	}
	if n < 5 {
		t.Errorf("%d alerts examples in the docs, want the one of config.md and one per receiver type in alerts.md", n)
	}
}
