package retention_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/retention"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
)

const day = 24 * time.Hour

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		w    retention.Windows
		want string // "" valid
	}{
		{"none", retention.Windows{}, ""},
		{"events", retention.Windows{Events: 400 * day}, ""},
		{"minimum", retention.Windows{RunLogs: retention.MinWindow}, ""},
		{"events too short", retention.Windows{Events: time.Hour}, "retention events"},
		{"logs too short", retention.Windows{Events: 400 * day, RunLogs: time.Minute}, "retention run_logs"},
		{"negative", retention.Windows{Events: -day}, "retention events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.w.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// syncBuffer is a log sink safe for the Run goroutine and the test.
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

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestPassRemovesOldHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var evs []asset.Event
	for i, age := range []time.Duration{500 * day, 450 * day, 401 * day, 399 * day, day} {
		evs = append(evs, asset.Event{ID: "e" + string(rune('0'+i)), Kind: asset.KindMaterialization, Asset: "a", Time: now.Add(-age)})
	}
	if _, err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendRunLogs(ctx, []store.RunLogLine{
		{RunID: "r", Seq: 1, Asset: "a", Stream: "stdout", Time: now.Add(-40 * day), Text: "old"},
		{RunID: "r", Seq: 2, Asset: "a", Stream: "stdout", Time: now.Add(-time.Hour), Text: "new"},
	}); err != nil {
		t.Fatal(err)
	}
	var (
		logs    syncBuffer
		removed map[asset.Key]map[asset.Kind]int64
	)
	r, err := retention.New(st, retention.Options{
		Windows: retention.Windows{Events: 400 * day, RunLogs: 30 * day},
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Now:     func() time.Time { return now },
		Removed: func(m map[asset.Key]map[asset.Kind]int64) { removed = m },
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// e1 goes; e0 is the first (kept), e2 the latest before the cut
	// (kept), e3 and e4 are inside the window.
	if res.Events.Rows != 1 || res.Events.Kept != 2 || res.RunLogs.Rows != 1 {
		t.Errorf("pass = %+v", res)
	}
	if removed["a"][asset.KindMaterialization] != 1 || len(removed) != 1 {
		t.Errorf("Removed was told %v, want a: 1 materialization", removed)
	}
	page, err := st.Events(ctx, store.EventQuery{Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range page.Events {
		ids = append(ids, e.ID)
	}
	if strings.Join(ids, " ") != "e0 e2 e3 e4" {
		t.Errorf("events left = %v, want e0 e2 e3 e4", ids)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collectors()...)
	want := `
# HELP freshet_retention_removed_rows_total Rows retention removed from the store, by table: events or run_logs.
# TYPE freshet_retention_removed_rows_total counter
freshet_retention_removed_rows_total{table="events"} 1
freshet_retention_removed_rows_total{table="run_logs"} 1
# HELP freshet_retention_passes_total Retention passes by outcome: ok or error.
# TYPE freshet_retention_passes_total counter
freshet_retention_passes_total{outcome="error"} 0
freshet_retention_passes_total{outcome="ok"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "freshet_retention_removed_rows_total", "freshet_retention_passes_total"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), "retention pass") || !strings.Contains(logs.String(), "events_removed=1") {
		t.Errorf("log = %q", logs.String())
	}
}

// TestRunKeepsGoingAfterErrors: a failing pass (here the store file is
// closed) is logged and counted, and Run retries at the next tick until
// its context ends.
func TestRunKeepsGoingAfterErrors(t *testing.T) {
	t.Parallel()
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	var logs syncBuffer
	r, err := retention.New(st, retention.Options{
		Windows:  retention.Windows{Events: 30 * day},
		Interval: time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collectors()...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(logs.String(), "retention pass failed") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no three failed passes within a minute; log:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
	if n, err := testutil.GatherAndCount(reg, "freshet_retention_passes_total"); err != nil || n != 2 {
		t.Errorf("passes series = %d, %v", n, err)
	}
}

// TestRunDisabled: without a window Run returns at once and removes nothing.
func TestRunDisabled(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	r, err := retention.New(st, retention.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Run(ctx); err != nil || ctx.Err() != nil {
		t.Errorf("Run = %v (ctx %v), want an immediate nil", err, ctx.Err())
	}
	if _, err := retention.New(st, retention.Options{Windows: retention.Windows{Events: time.Hour}}); err == nil {
		t.Error("New accepted a window below the minimum")
	}
}
