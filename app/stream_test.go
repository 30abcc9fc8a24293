package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/freshness/monitor"
)

// sseEvent is one server-sent event as a client parses it.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// follow opens the live stream and sends its events on the channel until
// the stream ends (then the channel is closed).
func follow(t *testing.T, url string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 1024)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.event != "" {
					out <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &cur.data); err != nil {
					t.Errorf("data is not JSON: %q", line)
				}
			}
		}
	}()
	return out
}

// await returns the first event that ok accepts, failing after a long
// deadline (the state is awaited, not a time).
func await(t *testing.T, ch <-chan sseEvent, what string, ok func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e, open := <-ch:
			if !open {
				t.Fatalf("stream ended before %s", what)
			}
			if ok(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s on the stream", what)
		}
	}
}

func lists(v any, want string) bool {
	xs, _ := v.([]any)
	for _, x := range xs {
		if x == want {
			return true
		}
	}
	return false
}

// TestLiveStream: what the web UI follows. Stored events, freshness
// changes and runs each reach the stream as a notice; topics filter; a bad
// topic is a 400 naming the parameter; a shutdown ends the stream.
func TestLiveStream(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("stream.yaml", []byte(`
assets:
  - key: raw/orders
    freshness: {max_lag: 1h}
  - key: job/a
    materialize: {argv: [sh, -c, 'echo hi']}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet,
		Freshness: monitor.Options{Interval: 100 * time.Millisecond, Coalesce: 10 * time.Millisecond}})
	stream := srv.base + "/api/v1/stream"

	status, body := do(t, http.MethodGet, stream+"?topics=runs,weather", "")
	if status != http.StatusBadRequest || body["error"].(map[string]any)["field"] != "topics" {
		t.Fatalf("unknown topic: %d %v", status, body)
	}

	all := follow(t, stream)
	runsOnly := follow(t, stream+"?topics=runs")
	hello := await(t, all, "hello", func(e sseEvent) bool { return e.event == "hello" })
	if len(hello.data["topics"].([]any)) != 4 {
		t.Fatalf("hello: %v", hello.data)
	}
	await(t, runsOnly, "hello", func(e sseEvent) bool { return e.event == "hello" })

	// three hours old: the SLA of one hour fails
	old := time.Now().UTC().Add(-3 * time.Hour).Format(time.RFC3339Nano)
	postEvents(t, srv.base, fmt.Sprintf(`{"kind":"materialization","asset":"raw/orders","time":%q}`, old))
	ev := await(t, all, "events notice for raw/orders", func(e sseEvent) bool {
		return e.event == "events" && lists(e.data["assets"], "raw/orders")
	})
	if ev.id == "" {
		t.Fatal("a notice without an id")
	}
	await(t, all, "freshness FAIL of raw/orders", func(e sseEvent) bool {
		if e.event != "freshness" {
			return false
		}
		for _, c := range e.data["changes"].([]any) {
			c := c.(map[string]any)
			if c["asset"] == "raw/orders" && c["state"] == "FAIL" {
				return true
			}
		}
		return false
	})

	status, run := do(t, http.MethodPost, srv.base+"/api/v1/runs", `{"selection":["job/a"]}`)
	if status != http.StatusCreated {
		t.Fatalf("launch: %d %v", status, run)
	}
	id := run["id"].(string)
	for _, ch := range []<-chan sseEvent{all, runsOnly} {
		await(t, ch, "run success", func(e sseEvent) bool {
			return e.event == "runs" && e.data["run"] == id && e.data["status"] == "SUCCESS" && e.data["step"] == nil
		})
	}
	// the filtered stream saw only runs (and its hello)
	for {
		select {
		case e := <-runsOnly:
			if e.event != "runs" {
				t.Fatalf("a runs-only stream got %q", e.event)
			}
			continue
		default:
		}
		break
	}

	srv.stop()
	for range all {
		// drained: the stream ended with the server
	}
}
