package app_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/config"
)

func do(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// TestRunsAPI: bad requests get 4xx naming the field; a run followed over
// server-sent events streams its lines live and ends with its final state.
func TestRunsAPI(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("runs.yaml", []byte(`
assets:
  - key: raw/x
  - key: job/a
    materialize: {argv: [sh, -c, 'for i in 1 2 3; do echo line $i; sleep 0.05; done']}
`))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet})
	runs := srv.base + "/api/v1/runs"

	status, ok := do(t, http.MethodPost, runs, `{"selection":["job/a"]}`)
	if status != http.StatusCreated {
		t.Fatalf("launch = %d %v", status, ok)
	}
	id := ok["id"].(string)

	bad := []struct {
		name, method, url, body string
		status                  int
		code, field             string
	}{
		{"no selection", "POST", runs, `{}`, 400, "missing_field", "selection"},
		{"unknown asset", "POST", runs, `{"selection":["nope"]}`, 400, "invalid_value", "selection"},
		{"no command", "POST", runs, `{"selection":"raw/x"}`, 400, "invalid_value", "selection"},
		{"selection not a list", "POST", runs, `{"selection":5}`, 400, "invalid_value", "selection"},
		{"a command in the request", "POST", runs, `{"selection":["job/a"],"argv":["rm","-rf","/"]}`, 400, "unknown_field", "argv"},
		{"not json", "POST", runs, `selection=job/a`, 400, "invalid_json", ""},
		{"bad status filter", "GET", runs + "?status=LOST", "", 400, "invalid_value", "status"},
		{"bad limit", "GET", runs + "?limit=0", "", 400, "invalid_value", "limit"},
		{"bad cursor", "GET", runs + "?cursor=zzz", "", 400, "invalid_value", "cursor"},
		{"unknown run", "GET", runs + "/nope", "", 404, "not_found", "id"},
		{"cancel unknown run", "POST", runs + "/nope/cancel", "", 404, "not_found", "id"},
		{"bad reexecute from", "POST", runs + "/" + id + "/reexecute?from=middle", "", 400, "invalid_value", "from"},
		{"bad after", "GET", runs + "/" + id + "/logs?after=-1", "", 400, "invalid_value", "after"},
		{"bad follow", "GET", runs + "/" + id + "/logs?follow=maybe", "", 400, "invalid_value", "follow"},
		{"logs of unknown run", "GET", runs + "/nope/logs", "", 404, "not_found", "id"},
		{"automation without enabled", "PUT", srv.base + "/api/v1/automation", `{}`, 400, "missing_field", "enabled"},
		{"automation enabled not a bool", "PUT", srv.base + "/api/v1/automation", `{"enabled":"yes"}`, 400, "invalid_value", "enabled"},
	}
	for _, tc := range bad {
		status, body := do(t, tc.method, tc.url, tc.body)
		e, _ := body["error"].(map[string]any)
		if status != tc.status || e == nil || e["code"] != tc.code || (tc.field != "" && e["field"] != tc.field) {
			t.Errorf("%s: %d %v, want %d %s field %q", tc.name, status, body, tc.status, tc.code, tc.field)
		}
	}

	// Follow the run: lines, then end.
	req, _ := http.NewRequest(http.MethodGet, runs+"/"+id+"/logs", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var events []string
	var lines []string
	var end map[string]any
	sc := bufio.NewScanner(resp.Body)
	var event string
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "event: "):
			event = strings.TrimPrefix(l, "event: ")
			events = append(events, event)
		case strings.HasPrefix(l, "data: "):
			data := strings.TrimPrefix(l, "data: ")
			var v map[string]any
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				t.Fatalf("event %s data %q: %v", event, data, err)
			}
			if event == "log" {
				lines = append(lines, v["text"].(string))
			}
			if event == "end" {
				end = v
			}
		}
	}
	if got := strings.Join(lines, ","); got != "line 1,line 2,line 3" {
		t.Errorf("followed lines = %q (events %v)", got, events)
	}
	if end == nil || end["status"] != "SUCCESS" {
		t.Errorf("end = %v", end)
	}
	// Cancelling it now is a conflict; so is re-executing from failure.
	if status, body := do(t, http.MethodPost, runs+"/"+id+"/cancel", ""); status != http.StatusConflict {
		t.Errorf("cancel of a finished run = %d %v", status, body)
	}
	if status, body := do(t, http.MethodPost, runs+"/"+id+"/reexecute?from=failure", ""); status != http.StatusConflict {
		t.Errorf("re-execute from failure of a success = %d %v", status, body)
	}
	if status, body := do(t, http.MethodPost, runs+"/"+id+"/reexecute", ""); status != http.StatusCreated || body["parent"] != id {
		t.Errorf("re-execute = %d %v", status, body)
	}
}
