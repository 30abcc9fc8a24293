package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
)

// Tests of POST /events' refusals and of readiness, over the real socket
// of a full Freshet.

// noPolicies declares assets without freshness policies: the freshness
// monitor then records nothing, so the only write-ahead log records are
// the test's own.
const noPolicies = `
assets:
  - key: raw/orders
`

// errorJSON is the "error" member of an error body, every member kept, so
// a test can compare it whole.
func errorJSON(t *testing.T, r response) map[string]any {
	t.Helper()
	var body struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
		t.Fatalf("status %d: not an error body (%v): %s", r.status, err, r.body)
	}
	if id, _ := body.Error["request_id"].(string); id == "" {
		t.Errorf("error without request_id: %s", r.body)
	}
	delete(body.Error, "request_id")
	return body.Error
}

// TestEmptyBody: a body with no event is 400 missing_field, whatever the
// type and however it is empty; the error has no field or line, since no
// part of the body is at fault.
func TestEmptyBody(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	want := map[string]any{"code": "missing_field", "message": "request body holds no events"}
	for _, tt := range []struct{ name, ctype, body string }{
		{"json", "application/json", ``},
		{"json whitespace", "application/json", " \n\t"},
		{"json empty array", "application/json", `[]`},
		{"ndjson", "application/x-ndjson", ``},
		{"ndjson blank lines", "application/x-ndjson", "\n\n"},
		{"no type", "", ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := post(t, base+"/api/v1/events", tt.ctype, tt.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400: %s", r.status, r.body)
			}
			if got := errorJSON(t, r); !reflect.DeepEqual(got, want) {
				t.Errorf("error = %v, want %v", got, want)
			}
		})
	}
}

// TestUnsupportedMediaType: POST /events reads JSON and NDJSON; a body of
// another type is refused with 415 naming the Content-Type header, before
// anything is decoded or stored. No type, and curl's default for -d, are
// read as JSON.
func TestUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	event := `{"kind":"observation","asset":"raw/orders"}`
	for _, tt := range []struct {
		ctype  string
		status int
	}{
		{"text/csv", 415},
		{"application/xml", 415},
		{"text/plain; charset=utf-8", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/json;;", 415}, // does not parse
		{"application/json", 202},
		{"application/json; charset=utf-8", 202},
		{"application/cloudevents+json", 202},
		{"application/x-ndjson", 202},
		{"application/x-www-form-urlencoded", 415}, // what a cross-site form sends
		{"", 415},
	} {
		t.Run(tt.ctype, func(t *testing.T) {
			t.Parallel()
			r := post(t, base+"/api/v1/events", tt.ctype, event)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status != 415 {
				return
			}
			got := errorJSON(t, r)
			if got["code"] != "unsupported_media_type" || got["field"] != "Content-Type" || len(got) != 3 {
				t.Errorf("error = %v, want code unsupported_media_type, field Content-Type and a message", got)
			}
			if msg, _ := got["message"].(string); !strings.Contains(msg, "application/x-ndjson") {
				t.Errorf("message %q does not say which types are accepted", msg)
			}
		})
	}
}

// TestWALFullIs503: while the write-ahead log holds its limit of
// unconfirmed data (a tiny MaxBytes, and a store writer that waits an hour
// for its batch to fill), a further batch is refused with 503 and a
// Retry-After, and is not acknowledged.
func TestWALFullIs503(t *testing.T) {
	t.Parallel()
	base := serverWith(t, func(c *app.Config) {
		c.Definitions = definitions(t, noPolicies)
		c.WALMaxBytes = 1
		c.BatchDelay = time.Hour
	})
	// A lone record larger than the limit is let in (an idle log is never
	// wedged); it then stays unconfirmed.
	if r := post(t, base+"/api/v1/events", "application/json", `{"id":"first","kind":"observation","asset":"raw/orders"}`); r.status != http.StatusAccepted {
		t.Fatalf("first POST = %d %s", r.status, r.body)
	}
	r := post(t, base+"/api/v1/events", "application/json", `{"id":"second","kind":"observation","asset":"raw/orders"}`)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("POST to a full log = %d, want 503: %s", r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5 (seconds, the log's advice)", got)
	}
	got := errorJSON(t, r)
	if msg, _ := got["message"].(string); got["code"] != "unavailable" || !strings.Contains(msg, "write-ahead log is full") {
		t.Errorf("error = %v, want code unavailable saying the write-ahead log is full", got)
	}
	a := get(t, base+"/api/v1/assets/raw%2Forders").json(t)
	if last, _ := a["last_observation"].(map[string]any); last["id"] != "first" {
		t.Errorf("the refused batch was applied (or the first is missing): last_observation = %v", a["last_observation"])
	}
}

// TestReadyzAfterWALFailure: once the write-ahead log has failed (here its
// directory vanishes, so the next segment cannot be created), it
// acknowledges nothing more and /readyz answers 503 not_ready, so a load
// balancer sends traffic elsewhere; /healthz (liveness) stays 200.
func TestReadyzAfterWALFailure(t *testing.T) {
	t.Parallel()
	walDir := filepath.Join(t.TempDir(), "wal")
	base := serverWith(t, func(c *app.Config) {
		c.Definitions = definitions(t, noPolicies)
		c.WALDir = walDir
		c.WALSegmentBytes = 1 // every record after the first starts a segment
		c.BatchDelay = time.Hour
	})
	if r := get(t, base+"/readyz"); r.status != http.StatusOK {
		t.Fatalf("/readyz before the failure = %d %s", r.status, r.body)
	}
	if r := post(t, base+"/api/v1/events", "application/json", `{"kind":"observation","asset":"raw/orders"}`); r.status != http.StatusAccepted {
		t.Fatalf("first POST = %d %s", r.status, r.body)
	}
	if err := os.RemoveAll(walDir); err != nil {
		t.Fatal(err)
	}
	if r := post(t, base+"/api/v1/events", "application/json", `{"kind":"observation","asset":"raw/orders"}`); r.status < 500 {
		t.Fatalf("POST after the log failed = %d, want a 5xx: %s", r.status, r.body)
	}
	r := get(t, base+"/readyz")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after the failure = %d, want 503: %s", r.status, r.body)
	}
	got := errorJSON(t, r)
	if msg, _ := got["message"].(string); got["code"] != "not_ready" || !strings.Contains(msg, "write-ahead log") {
		t.Errorf("error = %v, want code not_ready naming the write-ahead log", got)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if r := get(t, base+"/healthz"); r.status != http.StatusOK {
		t.Errorf("/healthz after the failure = %d, want 200 (the process is alive)", r.status)
	}
}
