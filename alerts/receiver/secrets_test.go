package receiver

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/freshet-dev/freshet/alerts/receivertest"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverLogged drives every path that logs or returns an error,
// including servers that echo the secrets back, and checks that neither
// the logs (at debug level) nor the errors hold a secret, while the logs
// do name the environment variables.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := t.Context()
	var errs []error

	// PagerDuty: accepted, then a 400 and a 503 whose bodies echo the key
	// (as a proxy or a debugging endpoint might), then unreachable.
	pd := fakePagerDuty(t)
	p := newTestPagerDuty(t, pd.srv.URL, log)
	errs = append(errs, p.Send(ctx, receivertest.Sample("k")))
	pd.fail(http.StatusBadRequest, "", `{"status":"invalid event","errors":["routing_key `+testRoutingKey+` unknown"]}`)
	errs = append(errs, p.Send(ctx, receivertest.Sample("k")))
	pd.fail(http.StatusServiceUnavailable, "5", "upstream said "+testRoutingKey)
	errs = append(errs, p.Send(ctx, receivertest.Sample("k")))
	errs = append(errs, newTestPagerDuty(t, closedURL(t), log).Send(ctx, receivertest.Sample("k")))

	// Webhook: signed and accepted, a 401 echoing the secret, unreachable.
	wh := fakeWebhook(t, testWebhookKey)
	w := newTestWebhook(t, wh.srv.URL, log)
	errs = append(errs, w.Send(ctx, receivertest.Sample("k")))
	wh.fail(http.StatusUnauthorized, "", "expected secret "+testWebhookKey)
	errs = append(errs, w.Send(ctx, receivertest.Sample("k")))
	errs = append(errs, newTestWebhook(t, closedURL(t), log).Send(ctx, receivertest.Sample("k")))

	if errs[0] != nil || errs[4] != nil {
		t.Fatalf("deliveries failed: %v, %v", errs[0], errs[4])
	}
	logs := buf.String()
	for _, secret := range []string{testRoutingKey, testWebhookKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret is in the logs:\n%s", logs)
		}
		for i, err := range errs {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error %d holds a secret: %v", i, err)
			}
		}
	}
	for _, want := range []string{routingKeyEnv, webhookEnv, "alert not delivered", "REDACTED"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "[REDACTED $"+routingKeyEnv+"]") {
		t.Errorf("rejection %v: want the echoed key redacted", errs[1])
	}
}
