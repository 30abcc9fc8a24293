package receiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receivertest"
)

// verifySignature is what a webhook consumer does: recompute the HMAC of
// the raw body and compare in constant time.
func verifySignature(secret string, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func TestWebhookPayloadAndSignature(t *testing.T) {
	t.Parallel()
	f := fakeWebhook(t, testWebhookKey)
	w, err := NewWebhook(WebhookConfig{URL: f.srv.URL + "/hook", SecretEnv: webhookEnv,
		Headers: map[string]string{"X-Gateway": "g1"}, Timeout: 2 * time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	n := receivertest.Sample("orders-fresh:raw/orders")
	if err := w.Send(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	end := n.StartsAt.Add(3 * time.Hour)
	if err := w.Send(t.Context(), receivertest.Resolve(n, end)); err != nil {
		t.Fatal(err)
	}
	got := f.wait(t, 2)

	f.mu.Lock()
	raw, h := f.raw[0], f.headers[0]
	f.mu.Unlock()
	if !verifySignature(testWebhookKey, raw, h.Get(SignatureHeader)) || h.Get("X-Gateway") != "g1" || h.Get(KeyHeader) != n.Key {
		t.Fatalf("headers %v", h)
	}
	if strings.Contains(string(raw), testWebhookKey) {
		t.Fatal("the secret is in the body")
	}
	// The exact wire names, not just a round trip through our own type.
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"version": 1.0, "key": n.Key, "status": "firing", "severity": "critical", "summary": n.Summary,
		"root_cause": "raw/orders", "asset": "marts/revenue", "group": "sales", "rule": "orders-fresh",
		"lag_seconds": 8100.0, "deadline": "2026-03-01T05:45:00Z", "starts_at": "2026-03-01T06:00:00Z",
	} {
		if m[k] != want {
			t.Errorf("%s = %#v, want %#v", k, m[k], want)
		}
	}
	if _, ok := m["ends_at"]; ok {
		t.Error("a firing payload has ends_at")
	}
	if imp, _ := m["impacted"].([]any); len(imp) != 3 || imp[0] != "staging/orders" {
		t.Errorf("impacted = %v", m["impacted"])
	}
	text := got[0].Text
	for _, want := range []string{":red_circle: *[FIRING critical]* raw/orders is 2h15m stale", "*Root cause:* `raw/orders`",
		"*Lag:* 2h15m0s", "*Impacted (3):* staging/orders, marts/revenue, marts/daily_kpis", "<https://wiki.example/runbooks/orders|runbook>"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q lacks %q", text, want)
		}
	}
	if r := got[1]; r.Status != alerts.Resolved || !r.EndsAt.Equal(end) || !strings.HasPrefix(r.Text, ":white_check_mark: *[RESOLVED critical]*") {
		t.Errorf("resolve payload %+v", r)
	}
}

func TestWebhookWrongSecretIsRejected(t *testing.T) {
	t.Parallel()
	f := fakeWebhook(t, "another secret")
	err := newTestWebhook(t, f.srv.URL, quiet()).Send(t.Context(), receivertest.Sample("k"))
	var de *alerts.DeliveryError
	if alerts.Classify(err) != alerts.Rejected || !asDeliveryError(err, &de) || de.StatusCode != 401 {
		t.Fatalf("got %v, want rejected 401", err)
	}
}

func TestWebhookUnsignedWithoutSecret(t *testing.T) {
	t.Parallel()
	f := fakeWebhook(t, "")
	w, err := NewWebhook(WebhookConfig{URL: f.srv.URL, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Send(t.Context(), receivertest.Sample("k")); err != nil {
		t.Fatal(err)
	}
	f.wait(t, 1)
	if f.headers[0].Get(SignatureHeader) != "" {
		t.Fatal("signed without a secret")
	}
}

func TestWebhookTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	f := newFakeHTTP(t, func(_ *fakeHTTP[WebhookPayload], _ http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	defer close(block)
	w, err := NewWebhook(WebhookConfig{URL: f.srv.URL, Timeout: 100 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	// The server never answers: only the receiver's own timeout can end
	// the Send. The guard is a hang detector, not a speed limit.
	done := make(chan error, 1)
	go func() { done <- w.Send(t.Context(), receivertest.Sample("k")) }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Send still waiting after a minute: the 100ms timeout was not applied")
	}
	if alerts.Classify(err) != alerts.Retryable {
		t.Fatalf("got %v, want retryable", err)
	}
}

func TestWebhookConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []WebhookConfig{
		{URL: ""},
		{URL: "ftp://x/y"},
		{URL: "http://x/y", SecretEnv: "FRESHET_TEST_UNSET_VARIABLE"},
	} {
		if _, err := NewWebhook(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func asDeliveryError(err error, de **alerts.DeliveryError) bool {
	return errors.As(err, de)
}
