package receiver

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receivertest"
)

// The secrets the tests put in the environment. Parallel tests cannot use
// t.Setenv, so TestMain sets them once for the whole binary.
const (
	routingKeyEnv  = "FRESHET_TEST_PAGERDUTY_ROUTING_KEY"
	testRoutingKey = "R7c3f0e9a1b24d6f8SECRETa9b8c7d6e" // 32 characters, as PagerDuty's
	webhookEnv     = "FRESHET_TEST_WEBHOOK_SECRET"
	testWebhookKey = "whsec-Zq81-SECRET-not-for-logs"
)

func TestMain(m *testing.M) {
	os.Setenv(routingKeyEnv, testRoutingKey)
	os.Setenv(webhookEnv, testWebhookKey)
	os.Exit(m.Run())
}

// quiet is a logger for tests that do not look at logs.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestPagerDuty(t testing.TB, endpoint string, log *slog.Logger) *PagerDuty {
	t.Helper()
	p, err := NewPagerDuty(PagerDutyConfig{RoutingKeyEnv: routingKeyEnv, Endpoint: endpoint, Source: "freshet-test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestAlertmanager(t testing.TB, log *slog.Logger, urls ...string) *Alertmanager {
	t.Helper()
	a, err := NewAlertmanager(AlertmanagerConfig{URLs: urls, GeneratorURL: "http://freshet.example/", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newTestWebhook(t testing.TB, url string, log *slog.Logger) *Webhook {
	t.Helper()
	w, err := NewWebhook(WebhookConfig{URL: url, SecretEnv: webhookEnv, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func newTestDatadog(t testing.TB, addr string, log *slog.Logger) *Datadog {
	t.Helper()
	d, err := NewDatadog(DatadogConfig{Addr: addr, Tags: []string{"env:test"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestPagerDutyConformance(t *testing.T) {
	t.Parallel()
	receivertest.Run(t, receivertest.Harness{
		Answers: true,
		New: func(t *testing.T) receivertest.Target {
			f := fakePagerDuty(t)
			return receivertest.Target{Receiver: newTestPagerDuty(t, f.srv.URL, quiet()), Received: pdDeliveries(f), Fail: f.fail}
		},
		Unreachable: func(t *testing.T) alerts.Receiver { return newTestPagerDuty(t, closedURL(t), quiet()) },
	})
}

func TestAlertmanagerConformance(t *testing.T) {
	t.Parallel()
	receivertest.Run(t, receivertest.Harness{
		Answers: true,
		New: func(t *testing.T) receivertest.Target {
			f := fakeAlertmanager(t)
			return receivertest.Target{Receiver: newTestAlertmanager(t, quiet(), f.srv.URL), Received: amDeliveries(f), Fail: f.fail}
		},
		Unreachable: func(t *testing.T) alerts.Receiver { return newTestAlertmanager(t, quiet(), closedURL(t)) },
	})
}

func TestWebhookConformance(t *testing.T) {
	t.Parallel()
	receivertest.Run(t, receivertest.Harness{
		Answers: true,
		New: func(t *testing.T) receivertest.Target {
			f := fakeWebhook(t, testWebhookKey)
			return receivertest.Target{Receiver: newTestWebhook(t, f.srv.URL+"/hooks/freshet", quiet()), Received: webhookDeliveries(f), Fail: f.fail}
		},
		Unreachable: func(t *testing.T) alerts.Receiver { return newTestWebhook(t, closedURL(t), quiet()) },
	})
}

func TestDatadogConformance(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"udp", "unixgram"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			receivertest.Run(t, receivertest.Harness{
				New: func(t *testing.T) receivertest.Target {
					s := newDogstatsdUDP(t)
					if transport == "unixgram" {
						s = newDogstatsdUnix(t)
					}
					return receivertest.Target{Receiver: newTestDatadog(t, s.addr, quiet()), Received: s.deliveries}
				},
				// Over UDP a lost datagram is not seen; a missing Unix socket is.
				Unreachable: func(t *testing.T) alerts.Receiver {
					return newTestDatadog(t, "unix://"+filepath.Join(t.TempDir(), "absent.socket"), quiet())
				},
			})
		})
	}
}

// deliveries reads the events back as deliveries (the service check and
// gauge of each are checked in TestDatadog*).
func (s *dogstatsdServer) deliveries(t testing.TB, n int) []receivertest.Delivery {
	var out []receivertest.Delivery
	for _, e := range s.wait(t, n).Events {
		st := alerts.Firing
		if e.AlertType == "success" {
			st = alerts.Resolved
		}
		out = append(out, receivertest.Delivery{Key: e.AggKey, Status: st})
	}
	return out
}
