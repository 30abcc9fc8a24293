package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/freshness/monitor"
)

// pdServer speaks the PagerDuty Events API v2 (POST /v2/enqueue): it
// answers 202 with the dedup key, and keeps every event it accepted.
type pdServer struct {
	*httptest.Server
	mu     sync.Mutex
	events []pdEvent
}

type pdEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

func newPD(t *testing.T) *pdServer {
	pd := &pdServer{}
	pd.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
			http.Error(w, `{"status":"invalid event","message":"no such route"}`, http.StatusNotFound)
			return
		}
		var ev pdEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.RoutingKey == "" || ev.EventAction == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"invalid event","message":"Event object is invalid","errors":["bad body"]}`)
			return
		}
		pd.mu.Lock()
		pd.events = append(pd.events, ev)
		pd.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev.DedupKey)
	}))
	t.Cleanup(pd.Close)
	return pd
}

func (pd *pdServer) got() []pdEvent {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	return append([]pdEvent(nil), pd.events...)
}

func (pd *pdServer) waitFor(t *testing.T, n int) []pdEvent {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if evs := pd.got(); len(evs) >= n {
			return evs
		}
	}
	t.Fatalf("PagerDuty got %d events, want %d: %+v", len(pd.got()), n, pd.got())
	return nil
}

func alertDefs(t *testing.T, pdURL string) *config.File {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `
alerts:
  receivers:
    - name: oncall
      type: pagerduty
      pagerduty: {routing_key_env: FRESHET_TEST_PD_KEY, endpoint: %q}
  rules:
    - name: sla
      when: [freshness_fail]
      receivers: [oncall]
assets:
  - key: raw/crm
    owners: [team:ingest]
    freshness: {max_lag: 1h}
`, pdURL)
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "  - key: marts/m%02d\n    owners: [team:t%d]\n    deps: [raw/crm]\n    freshness: {max_lag: 1h}\n", i, i%3)
	}
	defs, err := config.Parse("alerts.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

// TestOnePageThenResolve is the alerts issue's scenario over the real
// pipeline: a stale root with 20 stale descendants is exactly one
// PagerDuty trigger listing the 20, and one resolve once it recovers.
func TestOnePageThenResolve(t *testing.T) {
	t.Setenv("FRESHET_TEST_PD_KEY", "R0UT1NGKEY0000000000000000000000")
	pd := newPD(t)
	srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: alertDefs(t, pd.URL), Logger: quiet,
		Freshness: monitor.Options{Interval: 100 * time.Millisecond, Coalesce: 10 * time.Millisecond}})
	at := func(ago time.Duration) string { return time.Now().UTC().Add(-ago).Format(time.RFC3339Nano) }
	batch := func(rootAgo, martAgo time.Duration) string {
		evs := []string{fmt.Sprintf(`{"kind":"materialization","asset":"raw/crm","time":%q}`, at(rootAgo))}
		for i := 1; i <= 20; i++ {
			evs = append(evs, fmt.Sprintf(`{"kind":"materialization","asset":"marts/m%02d","time":%q,"upstream":["raw/crm"]}`, i, at(martAgo)))
		}
		return "[" + strings.Join(evs, ",") + "]"
	}
	postEvents(t, srv.base, batch(3*time.Hour, 2*time.Hour))
	pd.waitFor(t, 1)
	time.Sleep(500 * time.Millisecond) // several more passes: still one page
	evs := pd.got()
	if len(evs) != 1 {
		t.Fatalf("%d PagerDuty events, want exactly 1 trigger: %+v", len(evs), evs)
	}
	trig := evs[0]
	impacted, _ := trig.Payload.CustomDetails["impacted"].([]any)
	if trig.EventAction != "trigger" || trig.DedupKey != "freshet/sla/raw/crm" || len(impacted) != 20 ||
		trig.RoutingKey != "R0UT1NGKEY0000000000000000000000" || !strings.Contains(trig.Payload.Summary, "raw/crm") {
		t.Fatalf("trigger = %+v", trig)
	}
	var open struct {
		Alerts []struct {
			Notification struct {
				Key      string   `json:"key"`
				Impacted []string `json:"impacted"`
			} `json:"notification"`
		} `json:"alerts"`
	}
	getJSON(t, srv.base+"/api/v1/alerts", &open)
	if len(open.Alerts) != 1 || open.Alerts[0].Notification.Key != trig.DedupKey {
		t.Errorf("open alerts = %+v", open)
	}

	// Recovery: the root and the marts are rebuilt.
	postEvents(t, srv.base, batch(time.Minute, 30*time.Second))
	pd.waitFor(t, 2)
	time.Sleep(500 * time.Millisecond)
	if evs = pd.got(); len(evs) != 2 || evs[1].EventAction != "resolve" || evs[1].DedupKey != trig.DedupKey {
		t.Fatalf("after recovery: %+v, want the trigger then one resolve", evs)
	}
	var log struct {
		Deliveries []struct {
			Receiver string `json:"receiver"`
			Status   string `json:"status"`
			State    string `json:"state"`
			LastCode int    `json:"last_code"`
		} `json:"deliveries"`
	}
	getJSON(t, srv.base+"/api/v1/alerts/deliveries", &log)
	if len(log.Deliveries) != 2 || log.Deliveries[0].Status != "resolved" || log.Deliveries[0].State != "delivered" || log.Deliveries[1].Status != "firing" {
		t.Errorf("delivery log = %+v", log.Deliveries)
	}
}

// TestCheckFailurePagesWithoutAPass: a failed check pages although no
// freshness pass follows it (the monitor's timer is set to an hour here):
// events that open an incident wake the alert loop themselves.
func TestCheckFailurePagesWithoutAPass(t *testing.T) {
	t.Setenv("FRESHET_TEST_PD_KEY", "R0UT1NGKEY0000000000000000000000")
	pd := newPD(t)
	defs, err := config.Parse("checks.yaml", []byte(fmt.Sprintf(`
alerts:
  receivers:
    - name: oncall
      type: pagerduty
      pagerduty: {routing_key_env: FRESHET_TEST_PD_KEY, endpoint: %q}
  rules:
    - {name: quality, when: [check_failed], receivers: [oncall]}
assets:
  - key: marts/orders
`, pd.URL)))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet,
		Freshness: monitor.Options{Interval: time.Hour}})
	time.Sleep(200 * time.Millisecond) // past the monitor's first pass
	postEvents(t, srv.base, `{"kind":"check_result","asset":"marts/orders","check":{"name":"not_null","passed":false,"severity":"error"}}`)
	evs := pd.waitFor(t, 1)
	if evs[0].EventAction != "trigger" || evs[0].DedupKey != "freshet/quality/marts/orders" {
		t.Errorf("page = %+v", evs[0])
	}
}
