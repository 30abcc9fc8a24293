package receiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receivertest"
)

// answer is a queued non-default reply of a fake server.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// fakeHTTP is the part every fake HTTP server shares: a queue of forced
// answers and a log of accepted requests, decoded by the fake.
type fakeHTTP[T any] struct {
	srv *httptest.Server

	mu       sync.Mutex
	answers  []answer
	accepted []T
	raw      [][]byte
	headers  []http.Header
	arrived  chan struct{}
}

func (f *fakeHTTP[T]) fail(status int, retryAfter, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, answer{status, retryAfter, body})
}

// forced pops a queued answer, if any, and writes it.
func (f *fakeHTTP[T]) forced(w http.ResponseWriter) bool {
	f.mu.Lock()
	if len(f.answers) == 0 {
		f.mu.Unlock()
		return false
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	f.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
	return true
}

func (f *fakeHTTP[T]) accept(v T, raw []byte, h http.Header) {
	f.mu.Lock()
	f.accepted = append(f.accepted, v)
	f.raw = append(f.raw, raw)
	f.headers = append(f.headers, h)
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
}

// wait returns the accepted requests once there are at least n.
func (f *fakeHTTP[T]) wait(t testing.TB, n int) []T {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		f.mu.Lock()
		if len(f.accepted) >= n {
			out := append([]T(nil), f.accepted...)
			f.mu.Unlock()
			return out
		}
		f.mu.Unlock()
		select {
		case <-f.arrived:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("fake server: %d requests accepted, want %d", len(f.accepted), n)
		}
	}
}

func newFakeHTTP[T any](t testing.TB, handler func(f *fakeHTTP[T], w http.ResponseWriter, r *http.Request)) *fakeHTTP[T] {
	f := &fakeHTTP[T]{arrived: make(chan struct{}, 1)}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler(f, w, r) }))
	t.Cleanup(f.srv.Close)
	return f
}

// ---- PagerDuty Events API v2 ----

// pdEvent is the Events API v2 request as PagerDuty documents it; the fake
// decodes with unknown fields disallowed, so a misspelt field fails.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Client      string     `json:"client"`
	ClientURL   string     `json:"client_url"`
	Links       []pdLink   `json:"links"`
	Images      []any      `json:"images"`
	Payload     *pdPayload `json:"payload"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
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

// fakePagerDuty serves POST /v2/enqueue like PagerDuty's Events API v2:
// 202 {"status":"success","dedup_key":...} for a valid event, 400 with
// errors for an invalid one, or a queued answer.
func fakePagerDuty(t testing.TB) *fakeHTTP[pdEvent] {
	return newFakeHTTP(t, func(f *fakeHTTP[pdEvent], w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		if f.forced(w) {
			return
		}
		var e pdEvent
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var problems []string
		if r.Header.Get("Content-Type") != "application/json" {
			problems = append(problems, "Content-Type is not application/json")
		}
		if err := dec.Decode(&e); err != nil {
			problems = append(problems, err.Error())
		}
		if len(e.RoutingKey) != 32 {
			problems = append(problems, "'routing_key' is invalid")
		}
		switch e.EventAction {
		case "trigger":
			switch {
			case e.Payload == nil:
				problems = append(problems, "'payload' is missing")
			case e.Payload.Summary == "" || len(e.Payload.Summary) > 1024:
				problems = append(problems, "'payload.summary' is invalid")
			case e.Payload.Source == "":
				problems = append(problems, "'payload.source' is missing")
			case !regexp.MustCompile(`^(critical|error|warning|info)$`).MatchString(e.Payload.Severity):
				problems = append(problems, "'payload.severity' is invalid")
			}
		case "acknowledge", "resolve":
			if e.DedupKey == "" {
				problems = append(problems, "'dedup_key' is required to "+e.EventAction)
			}
		default:
			problems = append(problems, "'event_action' is invalid")
		}
		if len(e.DedupKey) > 255 {
			problems = append(problems, "'dedup_key' is longer than 255")
		}
		w.Header().Set("Content-Type", "application/json")
		if len(problems) > 0 {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": problems})
			return
		}
		f.accept(e, raw, r.Header.Clone())
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": e.DedupKey})
	})
}

func pdDeliveries(f *fakeHTTP[pdEvent]) func(testing.TB, int) []receivertest.Delivery {
	return func(t testing.TB, n int) []receivertest.Delivery {
		var out []receivertest.Delivery
		for _, e := range f.wait(t, n) {
			st := alerts.Firing
			if e.EventAction == "resolve" {
				st = alerts.Resolved
			}
			out = append(out, receivertest.Delivery{Key: e.DedupKey, Status: st})
		}
		return out
	}
}

// ---- Alertmanager API v2 ----

// amAlert is postableAlert from Alertmanager's OpenAPI document.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *time.Time        `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// validateAlerts checks a POST /api/v2/alerts body as Alertmanager does.
func validateAlerts(raw []byte) ([]amAlert, error) {
	var as []amAlert
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&as); err != nil {
		return nil, fmt.Errorf("body is not an array of postableAlert: %w", err)
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("empty array")
	}
	for i, a := range as {
		if len(a.Labels) == 0 {
			return nil, fmt.Errorf("alert %d: no labels", i)
		}
		if a.Labels["alertname"] == "" {
			return nil, fmt.Errorf("alert %d: no alertname", i)
		}
		for k, v := range a.Labels {
			if !labelName.MatchString(k) || v == "" {
				return nil, fmt.Errorf("alert %d: invalid label %q=%q", i, k, v)
			}
		}
		for k := range a.Annotations {
			if !labelName.MatchString(k) {
				return nil, fmt.Errorf("alert %d: invalid annotation name %q", i, k)
			}
		}
		if a.StartsAt != nil && a.EndsAt != nil && a.EndsAt.Before(*a.StartsAt) {
			return nil, fmt.Errorf("alert %d: endsAt before startsAt", i)
		}
		if a.GeneratorURL != "" {
			if u, err := url.Parse(a.GeneratorURL); err != nil || !u.IsAbs() {
				return nil, fmt.Errorf("alert %d: generatorURL %q is not absolute", i, a.GeneratorURL)
			}
		}
	}
	return as, nil
}

// fakeAlertmanager serves POST /api/v2/alerts, validating the body.
func fakeAlertmanager(t testing.TB) *fakeHTTP[amAlert] {
	return newFakeHTTP(t, func(f *fakeHTTP[amAlert], w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		if f.forced(w) {
			return
		}
		as, err := validateAlerts(raw)
		if err == nil && r.Header.Get("Content-Type") != "application/json" {
			err = fmt.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
		}
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(err.Error())
			return
		}
		for _, a := range as {
			f.accept(a, raw, r.Header.Clone())
		}
		w.WriteHeader(http.StatusOK)
	})
}

func amDeliveries(f *fakeHTTP[amAlert]) func(testing.TB, int) []receivertest.Delivery {
	return func(t testing.TB, n int) []receivertest.Delivery {
		var out []receivertest.Delivery
		for _, a := range f.wait(t, n) {
			st := alerts.Firing
			if a.EndsAt != nil && !a.EndsAt.After(time.Now()) {
				st = alerts.Resolved
			}
			out = append(out, receivertest.Delivery{Key: a.Labels["dedup_key"], Status: st})
		}
		return out
	}
}

// ---- webhook ----

// fakeWebhook checks the signature with secret (when not empty) and
// answers 401 to a missing or wrong one.
func fakeWebhook(t testing.TB, secret string) *fakeHTTP[WebhookPayload] {
	return newFakeHTTP(t, func(f *fakeHTTP[WebhookPayload], w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if f.forced(w) {
			return
		}
		if secret != "" && !verifySignature(secret, raw, r.Header.Get(SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p WebhookPayload
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil || p.Text == "" || p.Key != r.Header.Get(KeyHeader) {
			http.Error(w, "bad payload: "+strconv.Quote(string(raw)), http.StatusBadRequest)
			return
		}
		f.accept(p, raw, r.Header.Clone())
		w.WriteHeader(http.StatusNoContent)
	})
}

func webhookDeliveries(f *fakeHTTP[WebhookPayload]) func(testing.TB, int) []receivertest.Delivery {
	return func(t testing.TB, n int) []receivertest.Delivery {
		var out []receivertest.Delivery
		for _, p := range f.wait(t, n) {
			out = append(out, receivertest.Delivery{Key: p.Key, Status: p.Status})
		}
		return out
	}
}

// closedURL returns an http URL on a loopback port nothing listens on.
func closedURL(t testing.TB) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}
