package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/internal/freeport"
)

// pagerDuty is a local PagerDuty Events API v2 endpoint that is down (500)
// until it is told otherwise, then answers 202 with the dedup key. It counts
// what it accepted by dedup key and event action.
type pagerDuty struct {
	*httptest.Server
	routingKey string
	up         atomic.Bool
	mu         sync.Mutex
	accepted   map[string]int // "dedup_key event_action"
	refused    int            // 500 answers while down
	invalid    []string       // requests that were not a valid event with our routing key
}

func newPagerDuty(routingKey string) *pagerDuty {
	pd := &pagerDuty{routingKey: routingKey, accepted: map[string]int{}}
	pd.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RoutingKey  string `json:"routing_key"`
			EventAction string `json:"event_action"`
			DedupKey    string `json:"dedup_key"`
		}
		body, _ := io.ReadAll(r.Body)
		pd.mu.Lock()
		defer pd.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" || json.Unmarshal(body, &ev) != nil ||
			ev.RoutingKey != pd.routingKey || ev.DedupKey == "" || (ev.EventAction != "trigger" && ev.EventAction != "resolve") {
			pd.invalid = append(pd.invalid, fmt.Sprintf("%s %s %.200s", r.Method, r.URL.Path, body))
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"status":"invalid event","message":"Event object is invalid"}`)
			return
		}
		if !pd.up.Load() {
			pd.refused++
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"status":"error","message":"internal server error"}`)
			return
		}
		pd.accepted[ev.DedupKey+" "+ev.EventAction]++
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev.DedupKey)
	}))
	return pd
}

// counts returns how many triggers and resolves of key it accepted, and
// everything it accepted.
func (pd *pagerDuty) counts(key string) (triggers, resolves int, all string) {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	return pd.accepted[key+" trigger"], pd.accepted[key+" resolve"], fmt.Sprint(pd.accepted)
}

type delivery struct {
	Key       string `json:"key"`
	Status    string `json:"status"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastCode  int    `json:"last_code"`
	LastError string `json:"last_error"`
}

// deliveries reads the delivery log (newest first).
func deliveries(t *testing.T, s *server) []delivery {
	t.Helper()
	resp, err := http.Get(s.url("/api/v1/alerts/deliveries"))
	if err != nil {
		t.Fatalf("GET /api/v1/alerts/deliveries: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/alerts/deliveries = %d: %s (is the alerts block of freshet.yaml applied?)", resp.StatusCode, body)
	}
	var page struct{ Deliveries []delivery }
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("delivery log %s: %v", body, err)
	}
	return page.Deliveries
}

// startWith starts the server like start, with env added to the child's
// environment, and fails at once if the process exits before it is ready (a missing variable, a config the binary refuses).
func (s *server) startWith(env []string) {
	s.t.Helper()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command(freshetBin, s.args...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start freshet: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(s.url("/readyz")); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if len(aliveProcs([]int{s.cmd.Process.Pid})) == 0 {
			err := s.cmd.Wait()
			s.cmd = nil
			s.t.Fatalf("freshet exited before it was ready (%v); its log is below", err)
		}
		if time.Now().After(deadline) {
			s.t.Fatal("freshet did not become ready in 30s")
		}
	}
}

func postEvent(t *testing.T, s *server, event string) {
	t.Helper()
	resp, err := http.Post(s.url("/api/v1/events"), "application/x-ndjson", strings.NewReader(event+"\n"))
	if err != nil {
		t.Fatalf("POST /api/v1/events: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /api/v1/events = %d: %s", resp.StatusCode, b)
	}
}

// TestAlertPendingSurvivesKill9: PagerDuty is down (500) when an asset
// goes FAIL; once the delivery log shows the trigger pending after a failed
// attempt, freshet is killed with SIGKILL. PagerDuty comes back, freshet
// restarts: the trigger is delivered exactly once, and the recovery that
// follows is exactly one resolve.
func TestAlertPendingSurvivesKill9(t *testing.T) {
	const (
		keyEnv     = "FRESHET_E2E_PD_ROUTING_KEY"
		routingKey = "R0UT1NGKEYE2E0000000000000000000"
		wantKey    = "freshet/sla/raw/orders" // engine.Key(rule, root)
	)
	pd := newPagerDuty(routingKey)
	defer pd.Close()
	dir := t.TempDir()
	defs := filepath.Join(dir, "freshet.yaml")
	if err := os.WriteFile(defs, []byte(fmt.Sprintf(`
alerts:
  receivers:
    - name: oncall
      type: pagerduty
      pagerduty: {routing_key_env: %s, endpoint: %q}
  rules:
    - name: sla
      when: [freshness_fail]
      select: {keys: [raw/orders]}
      receivers: [oncall]
assets:
  - key: raw/orders
    freshness: {max_lag: 1h}
`, keyEnv, pd.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: addr, logPath: filepath.Join(dir, "freshet.log"),
		args: []string{"serve", "--config", defs, "--data-dir", filepath.Join(dir, "data"), "--addr", addr, "--log-level", "info"}}
	env := []string{keyEnv + "=" + routingKey}
	t.Cleanup(func() {
		if s.cmd != nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("freshet log tail:\n%s", b)
		}
	})
	s.startWith(env)

	// The asset goes FAIL: materialized 3h ago, max_lag 1h.
	postEvent(t, s, fmt.Sprintf(`{"kind":"materialization","asset":"raw/orders","time":%q}`,
		time.Now().UTC().Add(-3*time.Hour).Format(time.RFC3339)))
	var trig delivery
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ds := deliveries(t, s); len(ds) == 1 && ds[0].State == "pending" && ds[0].Attempts >= 1 {
			trig = ds[0]
			break
		} else if len(ds) > 1 || (len(ds) == 1 && ds[0].State != "pending") {
			t.Fatalf("with PagerDuty down, the delivery log should hold one pending trigger: %+v", ds)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending delivery with a failed attempt within 15s of the FAIL: %+v", deliveries(t, s))
		}
	}
	if trig.Key != wantKey || trig.Status != "firing" || trig.LastCode != http.StatusInternalServerError {
		t.Fatalf("pending delivery = %+v, want the firing %s after a 500", trig, wantKey)
	}
	s.kill9()
	pd.mu.Lock()
	refused := pd.refused
	pd.mu.Unlock()
	t.Logf("kill -9 with the trigger pending after %d failed attempt(s); PagerDuty down: %d answer(s) 500", trig.Attempts, refused)

	pd.up.Store(true)
	restarted := time.Now()
	s.startWith(env)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if n, _, _ := pd.counts(wantKey); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pending trigger was not delivered within 20s of the restart; delivery log %+v", deliveries(t, s))
		}
	}
	delivered := time.Since(restarted)
	time.Sleep(3 * time.Second) // further passes and outbox polls: no second trigger
	if n, r, all := pd.counts(wantKey); n != 1 || r != 0 {
		t.Fatalf("after the restart PagerDuty accepted %d triggers and %d resolves of %s, want exactly 1 trigger: %s", n, r, wantKey, all)
	}

	// Recovery: a fresh materialization is exactly one resolve.
	postEvent(t, s, `{"kind":"materialization","asset":"raw/orders"}`)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, r, _ := pd.counts(wantKey); r > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no resolve within 15s of the recovery; delivery log %+v", deliveries(t, s))
		}
	}
	time.Sleep(2 * time.Second)
	n, r, all := pd.counts(wantKey)
	pd.mu.Lock()
	invalid := pd.invalid
	pd.mu.Unlock()
	t.Logf("counts: PagerDuty accepted %d trigger and %d resolve of %s (all: %s); the trigger %s after the restart",
		n, r, wantKey, all, delivered.Round(10*time.Millisecond))
	if n != 1 || r != 1 || len(invalid) > 0 {
		t.Fatalf("want exactly 1 trigger and 1 resolve, and no invalid request: got %d, %d; invalid %q", n, r, invalid)
	}
	ds := deliveries(t, s)
	if len(ds) != 2 || ds[0].Status != "resolved" || ds[0].State != "delivered" ||
		ds[1].Status != "firing" || ds[1].State != "delivered" || ds[1].Attempts <= trig.Attempts {
		t.Errorf("delivery log = %+v, want the resolve and the trigger delivered, the trigger after more than %d attempts", ds, trig.Attempts)
	}
}
