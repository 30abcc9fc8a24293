package receiver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receivertest"
)

// TestPagerDutyWireFields asserts the exact JSON the receiver sends.
func TestPagerDutyWireFields(t *testing.T) {
	t.Parallel()
	f := fakePagerDuty(t)
	p := newTestPagerDuty(t, f.srv.URL, quiet())
	n := receivertest.Sample("orders-fresh:raw/orders")
	if err := p.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(t.Context(), receivertest.Resolve(n, n.StartsAt.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	f.wait(t, 2)
	f.mu.Lock()
	trigger, resolve, h := f.raw[0], f.raw[1], f.headers[0]
	f.mu.Unlock()

	if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, "go-pagerduty/") {
		t.Errorf("User-Agent %q: not sent through go-pagerduty", ua)
	}
	var got map[string]any
	if err := json.Unmarshal(trigger, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"routing_key":  testRoutingKey,
		"event_action": "trigger",
		"dedup_key":    "orders-fresh:raw/orders",
		"client":       "Freshet",
		"client_url":   "http://freshet.example/assets/raw%2Forders",
		"links": []any{
			map[string]any{"href": "http://freshet.example/assets/raw%2Forders", "text": "asset"},
			map[string]any{"href": "https://wiki.example/runbooks/orders", "text": "runbook"},
		},
		"payload": map[string]any{
			"summary":   "raw/orders is 2h15m stale; 3 downstream assets impacted",
			"source":    "freshet-test",
			"severity":  "critical",
			"timestamp": "2026-03-01T06:00:00Z",
			"component": "raw/orders",
			"group":     "sales",
			"class":     "orders-fresh",
			"custom_details": map[string]any{
				"key":            "orders-fresh:raw/orders",
				"root_cause":     "raw/orders",
				"asset":          "marts/revenue",
				"group":          "sales",
				"rule":           "orders-fresh",
				"lag":            "2h15m0s",
				"lag_seconds":    8100.0,
				"deadline":       "2026-03-01T05:45:00Z",
				"impacted":       []any{"staging/orders", "marts/revenue", "marts/daily_kpis"},
				"impacted_count": 3.0,
				"owners":         []any{"team:data-eng", "ana@example.com"},
				"links":          map[string]any{"asset": "http://freshet.example/assets/raw%2Forders", "runbook": "https://wiki.example/runbooks/orders"},
				"details":        map[string]any{"policy": "max_lag 2h", "reason": "no materialization since 04:00"},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("trigger body\n%s\nwant\n%s", g, w)
	}
	var gotResolve map[string]any
	if err := json.Unmarshal(resolve, &gotResolve); err != nil {
		t.Fatal(err)
	}
	wantResolve := map[string]any{"routing_key": testRoutingKey, "event_action": "resolve", "dedup_key": "orders-fresh:raw/orders"}
	if !reflect.DeepEqual(gotResolve, wantResolve) {
		t.Fatalf("resolve body %s, want %v", resolve, wantResolve)
	}
}

func TestPagerDutySeverities(t *testing.T) {
	t.Parallel()
	f := fakePagerDuty(t)
	p := newTestPagerDuty(t, f.srv.URL, quiet())
	sevs := []alerts.Severity{alerts.Critical, alerts.Error, alerts.Warning, alerts.Info}
	for _, s := range sevs {
		n := receivertest.Sample("k-" + string(s))
		n.Severity = s
		if err := p.Send(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	for i, e := range f.wait(t, len(sevs)) {
		if e.Payload.Severity != string(sevs[i]) {
			t.Errorf("event %d severity %q, want %q", i, e.Payload.Severity, sevs[i])
		}
	}
}

// TestPagerDutyRejectionFromServerValidation: a 400 produced by the fake's
// own validation (a routing key PagerDuty would refuse) keeps the errors.
func TestPagerDutyRejectionFromServerValidation(t *testing.T) {
	t.Parallel()
	f := fakePagerDuty(t)
	p := newTestPagerDuty(t, f.srv.URL, quiet())
	p.key.value = "short" // what a mistyped key looks like to PagerDuty
	err := p.Send(t.Context(), receivertest.Sample("k"))
	var de *alerts.DeliveryError
	if !asDeliveryError(err, &de) || de.Outcome != alerts.Rejected || de.StatusCode != 400 ||
		!strings.Contains(de.Body, `"errors":["'routing_key' is invalid"]`) {
		t.Fatalf("got %v", err)
	}
}

func TestPagerDutyConfig(t *testing.T) {
	t.Parallel()
	if _, err := NewPagerDuty(PagerDutyConfig{}); err == nil || !strings.Contains(err.Error(), "no environment variable") {
		t.Errorf("no env name: %v", err)
	}
	_, err := NewPagerDuty(PagerDutyConfig{RoutingKeyEnv: "FRESHET_TEST_UNSET_VARIABLE"})
	if err == nil || !strings.Contains(err.Error(), "FRESHET_TEST_UNSET_VARIABLE is not set") {
		t.Errorf("unset env: %v", err)
	}
	p, err := NewPagerDuty(PagerDutyConfig{RoutingKeyEnv: routingKeyEnv, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.String(); strings.Contains(s, testRoutingKey) || !strings.Contains(s, routingKeyEnv) {
		t.Errorf("String() = %q", s)
	}
}
