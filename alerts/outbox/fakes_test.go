package outbox

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receiver"
)

// The PagerDuty routing key the tests put in the environment (parallel
// tests cannot use t.Setenv).
const (
	routingKeyEnv  = "FRESHET_TEST_OUTBOX_ROUTING_KEY"
	testRoutingKey = "R0utingKey0f32CharactersForTests" // 32 characters, as PagerDuty's
)

func TestMain(m *testing.M) {
	os.Setenv(routingKeyEnv, testRoutingKey)
	os.Exit(m.Run())
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeClock is the outbox's clock in tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// answer is a forced reply of a fake server.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// fakeServer is what the fake HTTP servers share: forced answers (once
// each, or while down), requests that hang until the client gives up, and
// the log of accepted requests, in order.
type fakeServer[T any] struct {
	srv *httptest.Server

	mu       sync.Mutex
	answers  []answer
	down     *answer // answered to every request while set
	hang     bool
	requests int // every request, whatever the answer
	hanging  int // requests hanging now
	accepted []T
	arrived  chan struct{}
}

func newFakeServer[T any](t testing.TB, handle func(f *fakeServer[T], w http.ResponseWriter, r *http.Request, raw []byte)) *fakeServer[T] {
	f := &fakeServer[T]{arrived: make(chan struct{}, 1)}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests++
		hang := f.hang
		if hang {
			f.hanging++
		}
		f.mu.Unlock()
		if hang {
			<-r.Context().Done() // until the client gives up
			f.mu.Lock()
			f.hanging--
			f.mu.Unlock()
			return
		}
		if f.forced(w) {
			return
		}
		handle(f, w, r, raw)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// fail makes the next request get status (with Retry-After and body).
func (f *fakeServer[T]) fail(status int, retryAfter, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, answer{status, retryAfter, body})
}

// setDown makes every request get status until setDown(0).
func (f *fakeServer[T]) setDown(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = nil
	if status != 0 {
		f.down = &answer{status: status, body: `{"status":"unavailable"}`}
	}
}

func (f *fakeServer[T]) setHang(h bool) {
	f.mu.Lock()
	f.hang = h
	f.mu.Unlock()
}

func (f *fakeServer[T]) forced(w http.ResponseWriter) bool {
	f.mu.Lock()
	var a answer
	switch {
	case len(f.answers) > 0:
		a = f.answers[0]
		f.answers = f.answers[1:]
	case f.down != nil:
		a = *f.down
	default:
		f.mu.Unlock()
		return false
	}
	f.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
	return true
}

func (f *fakeServer[T]) accept(v T) {
	f.mu.Lock()
	f.accepted = append(f.accepted, v)
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
}

func (f *fakeServer[T]) stats() (requests, hanging int, accepted []T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, f.hanging, append([]T(nil), f.accepted...)
}

// wait returns the accepted requests once there are at least n.
func (f *fakeServer[T]) wait(t testing.TB, n int) []T {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if _, _, acc := f.stats(); len(acc) >= n {
			return acc
		}
		select {
		case <-f.arrived:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			_, _, acc := f.stats()
			t.Fatalf("fake server: %d requests accepted, want %d", len(acc), n)
		}
	}
}

// pdEvent is an Events API v2 request as PagerDuty documents it.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Client      string     `json:"client"`
	ClientURL   string     `json:"client_url"`
	Links       []any      `json:"links"`
	Images      []any      `json:"images"`
	Payload     *pdPayload `json:"payload"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component"`
	Group         string         `json:"group"`
	Class         string         `json:"class"`
	CustomDetails map[string]any `json:"custom_details"`
}

// fakePagerDuty serves POST /v2/enqueue as PagerDuty's Events API v2 does:
// 202 {"status":"success","dedup_key":...} for a valid event, 400 with the
// problems for an invalid one (unknown fields included), or a forced answer
// (400, 429 with Retry-After, 5xx).
func fakePagerDuty(t testing.TB) *fakeServer[pdEvent] {
	return newFakeServer(t, func(f *fakeServer[pdEvent], w http.ResponseWriter, r *http.Request, raw []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var e pdEvent
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var problems []string
		if err := dec.Decode(&e); err != nil {
			problems = append(problems, err.Error())
		}
		if e.RoutingKey != testRoutingKey {
			problems = append(problems, "'routing_key' is invalid")
		}
		switch e.EventAction {
		case "trigger":
			if e.Payload == nil || e.Payload.Summary == "" || e.Payload.Source == "" || e.Payload.Severity == "" {
				problems = append(problems, "'payload' is incomplete")
			}
		case "acknowledge", "resolve":
			if e.DedupKey == "" {
				problems = append(problems, "'dedup_key' is required to "+e.EventAction)
			}
		default:
			problems = append(problems, "'event_action' is invalid")
		}
		w.Header().Set("Content-Type", "application/json")
		if len(problems) > 0 {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": problems})
			return
		}
		f.accept(e)
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": e.DedupKey})
	})
}

// newPagerDuty is the real PagerDuty receiver pointed at f.
func newPagerDuty(t testing.TB, name string, f *fakeServer[pdEvent]) alerts.Receiver {
	t.Helper()
	p, err := receiver.NewPagerDuty(receiver.PagerDutyConfig{Name: name, RoutingKeyEnv: routingKeyEnv, Endpoint: f.srv.URL, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeWebhook accepts any POST of a WebhookPayload with 204.
func fakeWebhook(t testing.TB) *fakeServer[receiver.WebhookPayload] {
	return newFakeServer(t, func(f *fakeServer[receiver.WebhookPayload], w http.ResponseWriter, r *http.Request, raw []byte) {
		var p receiver.WebhookPayload
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil || r.Method != http.MethodPost || p.Key != r.Header.Get(receiver.KeyHeader) {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		f.accept(p)
		w.WriteHeader(http.StatusNoContent)
	})
}

// newWebhook is the real webhook receiver pointed at f.
func newWebhook(t testing.TB, name string, f *fakeServer[receiver.WebhookPayload]) alerts.Receiver {
	t.Helper()
	w, err := receiver.NewWebhook(receiver.WebhookConfig{Name: name, URL: f.srv.URL + "/hooks/freshet", Timeout: time.Minute, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return w
}
