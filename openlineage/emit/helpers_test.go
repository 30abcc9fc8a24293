package emit_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/openlineage/emit"
)

// consumer is an OpenLineage consumer on a real socket: it records what
// it is sent, and can be told to answer the next requests with a status.
type consumer struct {
	srv *httptest.Server

	mu      sync.Mutex
	bodies  [][]byte
	auth    []string
	fail    []int         // statuses for the next requests, first first
	hold    chan struct{} // when set, requests wait for it to close
	tries   int
	reqPath string
}

func newConsumer(t *testing.T) *consumer {
	t.Helper()
	c := &consumer{}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *consumer) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	hold := c.hold
	c.mu.Unlock()
	if hold != nil {
		<-hold
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tries++
	c.reqPath = r.URL.Path
	if len(c.fail) > 0 {
		status := c.fail[0]
		c.fail = c.fail[1:]
		http.Error(w, "not now", status)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want application/json", http.StatusUnsupportedMediaType)
		return
	}
	c.bodies = append(c.bodies, body)
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	w.WriteHeader(http.StatusCreated)
}

func (c *consumer) failNext(statuses ...int) {
	c.mu.Lock()
	c.fail = append(c.fail, statuses...)
	c.mu.Unlock()
}

// events decodes what was received.
func (c *consumer) events(t *testing.T) []emit.RunEvent {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]emit.RunEvent, len(c.bodies))
	for i, b := range c.bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, b)
		}
	}
	return out
}

func (c *consumer) raw() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.bodies...)
}

// waitFor polls until cond holds, with a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
