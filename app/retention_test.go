package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/config"
)

// TestRetentionThroughTheServer: with retention.events set, the server's
// passes remove old events it ingested over HTTP, keep the first and the
// latest before the cut, count them in /metrics, and the asset's
// freshness is what the kept history says.
func TestRetentionThroughTheServer(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("ret.yaml", []byte(`
assets:
  - key: wh/a
    freshness: {max_lag: 1h}
retention:
  events: 30d
`))
	if err != nil {
		t.Fatal(err)
	}
	defs.Retention.Interval = 20 * time.Millisecond // below what the file allows: the test waits for a pass
	srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: quiet})
	now := time.Now().UTC()
	var evs []string
	for i, age := range []time.Duration{60 * 24 * time.Hour, 50 * 24 * time.Hour, 40 * 24 * time.Hour, 10 * time.Minute} {
		evs = append(evs, fmt.Sprintf(`{"id":"e%d","kind":"materialization","asset":"wh/a","time":%q}`, i, now.Add(-age).Format(time.RFC3339Nano)))
	}
	resp, err := http.Post(srv.base+"/api/v1/events", "application/json", strings.NewReader("["+strings.Join(evs, ",")+"]"))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %v %v", resp, err)
	}
	resp.Body.Close()

	var last string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("e1 (50 days old, neither first nor latest) never removed; events: %s", last)
		}
		resp, err := http.Get(srv.base + "/api/v1/events?asset=wh/a&kind=materialization&order=asc")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range body.Events {
			ids = append(ids, e.ID)
		}
		last = strings.Join(ids, " ")
		if last == "e0 e2 e3" {
			break
		}
	}
	// The catalog's counts follow the store's: three materializations left.
	resp, err = http.Get(srv.base + "/api/v1/assets/wh%2Fa")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Counts map[string]int64 `json:"counts"`
	}
	err = json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if err != nil || a.Counts["materialization"] != 3 {
		t.Errorf("counts = %v (%v), want 3 materializations", a.Counts, err)
	}
	if v, ok := value(scrape(t, srv.base), "freshet_retention_removed_rows_total", map[string]string{"table": "events"}); !ok || v != 1 {
		t.Errorf("freshet_retention_removed_rows_total{table=events} = %v (present %v), want 1", v, ok)
	}
	// Fresh data after ten-day gaps: AT_RISK, as without retention (a
	// pass changes nothing the monitor holds in memory).
	stateOf(t, srv.base, "wh/a", "AT_RISK")
}

// TestRetentionWarnsOfLongerAPIPolicies: a policy set through the API
// that looks back further than the events window (the file check cannot
// see it) is named in a warning by the next pass.
func TestRetentionWarnsOfLongerAPIPolicies(t *testing.T) {
	t.Parallel()
	defs, err := config.Parse("ret.yaml", []byte("assets:\n  - key: wh/b\nretention: {events: 30d}\n"))
	if err != nil {
		t.Fatal(err)
	}
	defs.Retention.Interval = 20 * time.Millisecond
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := serve(t, app.Config{DataDir: t.TempDir(), Definitions: defs, Logger: log})
	if status, body := do(t, http.MethodPut, srv.base+"/api/v1/assets/wh%2Fb/freshness/policy", `{"max_lag":"45d","actor":"test"}`); status != http.StatusOK {
		t.Fatalf("PUT policy = %d %v", status, body)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "wh/b (api: max_lag 45d"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning naming wh/b's API policy; log:\n%s", logs.String())
		}
	}
}

// syncBuffer is a log sink safe for the server's goroutines and the test.
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

// TestRetentionKeepsPartitionedFreshness: a daily-partitioned asset whose
// partitions go back further than the events window stays PASS after a
// pass and a restart (which reads every partition's materializations
// from the store again): each partition's latest materialization is kept,
// so no partition looks missing (keeping only the asset's latest
// materialization would leave 59 partitions "never materialized").
func TestRetentionKeepsPartitionedFreshness(t *testing.T) {
	t.Parallel()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	start := today.AddDate(0, 0, -60)
	defs, err := config.Parse("ret.yaml", []byte(fmt.Sprintf(`
assets:
  - key: wh/daily
    partitions: {type: daily, start: %s}
    freshness: {max_lag: 2d}
retention:
  events: 30d
`, start.Format(time.RFC3339))))
	if err != nil {
		t.Fatal(err)
	}
	defs.Retention.Interval = 20 * time.Millisecond
	dir := t.TempDir()
	cfg := app.Config{DataDir: dir, Definitions: defs, Logger: quiet}
	srv := serve(t, cfg)
	// Each day's partition built an hour after it ended, up to yesterday's;
	// days 1 to 20 rebuilt an hour later (their first builds are what a
	// pass removes).
	var evs []string
	for i, d := 0, start; d.Before(today); i, d = i+1, d.AddDate(0, 0, 1) {
		builds := []time.Time{d.Add(25 * time.Hour)}
		if i >= 1 && i <= 20 {
			builds = append(builds, d.Add(26*time.Hour))
		}
		for _, at := range builds {
			// Yesterday's build is an hour after midnight: not in the future
			// when the test runs earlier than that.
			if latest := time.Now().UTC().Add(-time.Second); at.After(latest) {
				at = latest
			}
			evs = append(evs, fmt.Sprintf(`{"kind":"materialization","asset":"wh/daily","partition":%q,"time":%q}`,
				d.Format(time.DateOnly), at.Format(time.RFC3339)))
		}
	}
	resp, err := http.Post(srv.base+"/api/v1/events", "application/json", strings.NewReader("["+strings.Join(evs, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST = %d %s", resp.StatusCode, b)
	}
	resp.Body.Close()
	stateOf(t, srv.base, "wh/daily", "PASS")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n, _ := value(scrape(t, srv.base), "freshet_retention_removed_rows_total", map[string]string{"table": "events"}); n == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the 20 first builds were not removed within 30s")
		}
	}
	srv.stop()
	again := serve(t, cfg)
	stateOf(t, again.base, "wh/daily", "PASS")
	page, err := http.Get(again.base + "/api/v1/events?asset=wh/daily&kind=materialization&limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Events []json.RawMessage `json:"events"`
	}
	err = json.NewDecoder(page.Body).Decode(&body)
	page.Body.Close()
	if err != nil || len(body.Events) != 60 {
		t.Errorf("%d materializations left (%v), want all 60: one per partition", len(body.Events), err)
	}
}
