package receiver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receivertest"
	"github.com/freshet-dev/freshet/config"
)

// parseReceivers parses an alerts block (receivers only) with config.Parse,
// so these tests go from the YAML a user writes to a delivery.
func parseReceivers(t *testing.T, yaml string) []config.Receiver {
	t.Helper()
	f, err := config.Parse("freshet.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return f.Alerts.Receivers
}

func build(t *testing.T, r config.Receiver, opts Options) alerts.Receiver {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	rc, err := FromConfig(r, opts)
	if err != nil {
		t.Fatalf("FromConfig(%s): %v", r.Name, err)
	}
	if c, ok := rc.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	if rc.Name() != r.Name {
		t.Errorf("Name() = %q, want %q", rc.Name(), r.Name)
	}
	return rc
}

func send(t *testing.T, r alerts.Receiver, n alerts.Notification) {
	t.Helper()
	if err := r.Send(context.Background(), n); err != nil {
		t.Fatalf("%s: Send: %v", r.Name(), err)
	}
}

// One config per receiver type delivers one notification to a local
// server speaking that receiver's protocol.
func TestFromConfigDelivers(t *testing.T) {
	t.Setenv("FRESHET_TEST_HOOK_TOKEN", "tok-123")
	pd := fakePagerDuty(t)
	am1, am2 := fakeAlertmanager(t), fakeAlertmanager(t)
	wh := fakeWebhook(t, testWebhookKey)
	dsd := newDogstatsdUDP(t)
	rs := parseReceivers(t, `alerts:
  receivers:
    - name: oncall
      type: pagerduty
      pagerduty: {routing_key_env: `+routingKeyEnv+`, endpoint: `+pd.srv.URL+`, timeout: 5s}
      rate_per_minute: 30
    - name: dd
      type: datadog
      datadog: {addr: "`+dsd.addr+`", tags: [env:test]}
    - name: am
      type: alertmanager
      alertmanager: {urls: [`+am1.srv.URL+`, `+am2.srv.URL+`]}
    - name: hook
      type: webhook
      webhook:
        url: `+wh.srv.URL+`/hooks/freshet
        secret_env: `+webhookEnv+`
        headers: {X-Team: data, Authorization: "Bearer ${FRESHET_TEST_HOOK_TOKEN}"}
`)
	opts := Options{Hostname: "freshet-test-host", ServerURL: "https://freshet.example.com/"}
	n := receivertest.Sample("orders-fresh:raw/orders")
	delete(n.Links, "asset") // so Alertmanager falls back to the generatorURL
	for _, r := range rs {
		send(t, build(t, r, opts), n)
	}

	if e := pd.wait(t, 1)[0]; e.DedupKey != n.Key || e.EventAction != "trigger" || e.RoutingKey != testRoutingKey || e.Payload.Source != "freshet-test-host" {
		t.Errorf("pagerduty event = %+v (payload %+v)", e, e.Payload)
	}
	if d := dsd.deliveries(t, 1); d[0].Key != n.Key || d[0].Status != alerts.Firing {
		t.Errorf("datadog deliveries = %+v", d)
	}
	if p := dsd.wait(t, 1); !strings.Contains(strings.Join(p.Events[0].Tags, ","), "env:test") {
		t.Errorf("datadog event tags = %v", p.Events[0].Tags)
	}
	for i, f := range []*fakeHTTP[amAlert]{am1, am2} {
		if a := f.wait(t, 1)[0]; a.Labels["dedup_key"] != n.Key || a.GeneratorURL != opts.ServerURL {
			t.Errorf("alertmanager %d alert = %+v", i+1, a)
		}
	}
	wh.wait(t, 1) // the fake checked the signature
	wh.mu.Lock()
	h := wh.headers[0]
	wh.mu.Unlock()
	if h.Get("X-Team") != "data" || h.Get("Authorization") != "Bearer tok-123" {
		t.Errorf("webhook headers = %v", h)
	}
}

// Config values win over the Options' defaults.
func TestFromConfigOverrides(t *testing.T) {
	t.Parallel()
	pd := fakePagerDuty(t)
	am := fakeAlertmanager(t)
	rs := parseReceivers(t, `alerts:
  receivers:
    - {name: pd, type: pagerduty, pagerduty: {routing_key_env: `+routingKeyEnv+`, endpoint: "`+pd.srv.URL+`/", source: freshet-prod}}
    - {name: am, type: alertmanager, alertmanager: {urls: [`+am.srv.URL+`], generator_url: "https://other.example.com/"}}
`)
	opts := Options{Hostname: "ignored", ServerURL: "https://ignored.example.com/", HTTPClient: &http.Client{}}
	n := receivertest.Sample("k")
	delete(n.Links, "asset")
	for _, r := range rs {
		send(t, build(t, r, opts), n)
	}
	if e := pd.wait(t, 1)[0]; e.Payload.Source != "freshet-prod" {
		t.Errorf("source = %q", e.Payload.Source)
	}
	if a := am.wait(t, 1)[0]; a.GeneratorURL != "https://other.example.com/" {
		t.Errorf("generatorURL = %q", a.GeneratorURL)
	}
}

// A missing variable is an error naming it and the field that names it,
// never showing any value.
func TestFromConfigMissingEnv(t *testing.T) {
	t.Setenv("FRESHET_TEST_BLANK", "  ")
	t.Setenv("FRESHET_TEST_SET", "value-that-must-not-show")
	rs := parseReceivers(t, `alerts:
  receivers:
    - {name: pd, type: pagerduty, pagerduty: {routing_key_env: FRESHET_TEST_UNSET_KEY}}
    - {name: pd-blank, type: pagerduty, pagerduty: {routing_key_env: FRESHET_TEST_BLANK}}
    - {name: hook, type: webhook, webhook: {url: "https://h.example.com/x", secret_env: FRESHET_TEST_UNSET_SECRET}}
    - name: hook-header
      type: webhook
      webhook: {url: "https://h.example.com/x", headers: {X-A: "${FRESHET_TEST_SET}", Authorization: "Bearer ${FRESHET_TEST_UNSET_TOKEN}"}}
`)
	want := []struct{ field, env string }{
		{"pagerduty.routing_key_env", "FRESHET_TEST_UNSET_KEY"},
		{"pagerduty.routing_key_env", "FRESHET_TEST_BLANK"},
		{"webhook.secret_env", "FRESHET_TEST_UNSET_SECRET"},
		{"webhook.headers.Authorization", "FRESHET_TEST_UNSET_TOKEN"},
	}
	for i, r := range rs {
		_, err := FromConfig(r, Options{Logger: quiet()})
		var me *MissingEnvError
		if !errors.As(err, &me) {
			t.Errorf("%s: err = %v, want a MissingEnvError", r.Name, err)
			continue
		}
		if me.Receiver != r.Name || me.Field != want[i].field || me.Var != want[i].env {
			t.Errorf("%s: %+v, want field %s, variable %s", r.Name, me, want[i].field, want[i].env)
		}
		msg := err.Error()
		if !strings.Contains(msg, want[i].env) || strings.Contains(msg, "value-that-must-not-show") {
			t.Errorf("%s: error %q", r.Name, msg)
		}
	}
}

func TestFromConfigRefusesBrokenReceivers(t *testing.T) {
	t.Parallel()
	for _, r := range []config.Receiver{
		{Name: "a", Type: "slack"},
		{Name: "b", Type: config.ReceiverPagerDuty},
		{Name: "c", Type: config.ReceiverDatadog},
		{Name: "d", Type: config.ReceiverAlertmanager},
		{Name: "e", Type: config.ReceiverWebhook},
		{Name: "f", Type: config.ReceiverAlertmanager, Alertmanager: &config.AlertmanagerReceiver{}},
	} {
		if rc, err := FromConfig(r, Options{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), r.Name) {
			t.Errorf("%+v: FromConfig = %v, %v; want an error naming the receiver", r, rc, err)
		}
	}
}

func TestOptionsClient(t *testing.T) {
	t.Parallel()
	if c := (Options{}).client(time.Second); c != nil {
		t.Errorf("without a base client: %v, want nil (the constructor's own)", c)
	}
	base := &http.Client{Timeout: 3 * time.Second}
	o := Options{HTTPClient: base}
	if c := o.client(time.Second); c == base || c.Timeout != time.Second {
		t.Errorf("config timeout: %+v", c)
	}
	if c := o.client(0); c.Timeout != 3*time.Second {
		t.Errorf("base timeout: %v", c.Timeout)
	}
	if c := (Options{HTTPClient: &http.Client{}}).client(0); c.Timeout != DefaultTimeout {
		t.Errorf("no timeout anywhere: %v", c.Timeout)
	}
	if base.Timeout != 3*time.Second {
		t.Error("the base client was changed")
	}
}
