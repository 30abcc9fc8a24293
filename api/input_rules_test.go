package api_test

import (
	"net/http"
	"testing"

	"github.com/freshet-dev/freshet/app"
)

const rulesDefs = defs + `
alerts:
  receivers:
    - {name: hook, type: webhook, webhook: {url: 'http://127.0.0.1:9/hook'}}
  rules:
    - {name: sla, when: [freshness_fail], receivers: [hook]}
`

// TestInputRules: a member sent twice (at any depth), an empty time and a
// policy duration under a second are each refused with a 400 naming the
// field, on every endpoint that reads a JSON body.
func TestInputRules(t *testing.T) {
	t.Parallel()
	base := serverWith(t, func(c *app.Config) { c.Definitions = definitions(t, rulesDefs) })
	policy := "/api/v1/assets/raw%2Forders/freshness/policy"
	tests := []struct {
		name, method, path, ctype, body string
		code, field                     string
	}{
		{"event member twice", "POST", "/api/v1/events", "application/json", `{"kind":"observation","asset":"raw/orders","asset":"raw/customers"}`, "duplicate_field", "asset"},
		{"event metadata twice", "POST", "/api/v1/events", "application/json", `{"kind":"observation","asset":"raw/orders","metadata":{"n":1,"n":2}}`, "duplicate_field", "metadata.n"},
		{"event nested twice", "POST", "/api/v1/events", "application/x-ndjson", `{"kind":"observation","asset":"raw/orders","metadata":{"s":{"a":[{"b":1,"b":1}]}}}`, "duplicate_field", "metadata.s.a[0].b"},
		{"event check twice", "POST", "/api/v1/events", "application/json", `{"kind":"check_result","asset":"raw/orders","check":{"name":"x","name":"y","passed":true}}`, "duplicate_field", "check.name"},
		{"event empty time", "POST", "/api/v1/events", "application/json", `{"kind":"observation","asset":"raw/orders","time":""}`, "invalid_value", "time"},
		{"batch empty time", "POST", "/api/v1/events", "application/json", `[{"kind":"observation","asset":"raw/orders"},{"kind":"observation","asset":"raw/orders","time":""}]`, "invalid_value", "[1].time"},
		{"policy member twice", "PUT", policy, "application/json", `{"max_lag":"2h","max_lag":"8760h"}`, "duplicate_field", "max_lag"},
		{"policy empty name twice", "PUT", policy, "application/json", `{"":1,"":2}`, "duplicate_field", `""`},
		{"policy actor twice", "PUT", policy, "application/json", `{"max_lag":"2h","actor":"alice","actor":"mallory"}`, "duplicate_field", "actor"},
		{"policy max_lag 1ns", "PUT", policy, "application/json", `{"max_lag":"1ns"}`, "invalid_value", "max_lag"},
		{"policy max_lag 999ms", "PUT", policy, "application/json", `{"max_lag":"999ms"}`, "invalid_value", "max_lag"},
		{"policy warn_after 1ns", "PUT", policy, "application/json", `{"max_lag":"2h","warn_after":"1ns"}`, "invalid_value", "warn_after"},
		{"policy grace 1ms", "PUT", policy, "application/json", `{"max_lag":"2h","grace":"1ms"}`, "invalid_value", "grace"},
		{"cron grace 1ns", "PUT", policy, "application/json", `{"cron":"0 7 * * *","grace":"1ns"}`, "invalid_value", "grace"},
		{"silence member twice", "POST", "/api/v1/silences", "application/json", `{"match":{"group":"raw"},"duration":"1h","duration":"100w"}`, "duplicate_field", "duration"},
		{"silence match twice", "POST", "/api/v1/silences", "application/json", `{"match":{"group":"raw","group":"marts"},"duration":"1h"}`, "duplicate_field", "match.group"},
		{"run selection twice", "POST", "/api/v1/runs", "application/json", `{"selection":["raw/orders"],"selection":["marts/revenue"]}`, "duplicate_field", "selection"},
		{"automation twice", "PUT", "/api/v1/automation", "application/json", `{"enabled":true,"enabled":false}`, "duplicate_field", "enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := do(t, tt.method, base+tt.path, tt.ctype, tt.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%d %s, want 400", r.status, r.body)
			}
			if code, field, _ := errorOf(t, r); code != tt.code || field != tt.field {
				t.Errorf("code %q field %q, want %q %q (%s)", code, field, tt.code, tt.field, r.body)
			}
		})
	}
	// The rules refuse only what they name: the same bodies, written once, pass.
	for _, ok := range []struct{ method, path, body string }{
		{"POST", "/api/v1/events", `{"kind":"observation","asset":"raw/orders","metadata":{"s":{"a":[{"b":1},{"b":1}]}}}`},
		{"PUT", policy, `{"max_lag":"1s","grace":"1s"}`},
		{"POST", "/api/v1/silences", `{"match":{"group":"raw"},"duration":"1h","comment":"test","created_by":"ci"}`},
	} {
		if r := do(t, ok.method, base+ok.path, "application/json", ok.body); r.status >= 300 {
			t.Errorf("%s %s %s = %d %s", ok.method, ok.path, ok.body, r.status, r.body)
		}
	}
}
