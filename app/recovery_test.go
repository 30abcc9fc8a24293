package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/ingest/wal"
	"github.com/freshet-dev/freshet/store/embedded"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestRecoveryCountsEqualTheStore puts a data directory in the state a
// kill -9 leaves when it strikes after the store accepted a batch and
// before the write-ahead log recorded that: the log replays events the
// store already holds, next to events it does not. After the start and
// the drain, the catalog's counts must be the store's, and stay so through
// a client retry of a stored id.
func TestRecoveryCountsEqualTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	events := func(prefix string, n int) []asset.Event {
		out := make([]asset.Event, n)
		for i := range out {
			out[i] = asset.Event{ID: fmt.Sprintf("%s-%d", prefix, i), Kind: asset.KindMaterialization,
				Asset: asset.Key(fmt.Sprintf("r/%d", i%3)), Time: t0.Add(time.Duration(i) * time.Second)}
		}
		return out
	}
	stored, unstored := events("stored", 30), events("unstored", 12)

	// The crash state, built with the real components.
	st, err := embedded.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendEvents(ctx, stored); err != nil {
		t.Fatal(err)
	}
	log, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.NewPipeline(log, st, ingest.Options{Logger: quiet}) // never Run: nothing is confirmed
	for _, b := range [][]asset.Event{stored[:20], stored[20:], unstored} {
		if err := p.Submit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	a, err := app.Open(ctx, app.Config{DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() }) // idempotent; the test closes it before reading the store
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := a.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	want := map[asset.Key]int64{"r/0": 14, "r/1": 14, "r/2": 14} // 42 distinct events
	if got := catalogCounts(a); !maps.Equal(got, want) {
		t.Fatalf("catalog counts after the replay = %v, want the store's %v", got, want)
	}
	// A client retries a stored event without its time: the first copy
	// wins, and the count comes back once the retry's batch is stored.
	retry := stored[0]
	retry.Time = time.Now().UTC()
	if err := a.Submit(ctx, []asset.Event{retry}); err != nil {
		t.Fatal(err)
	}
	if err := a.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	if got := catalogCounts(a); !maps.Equal(got, want) {
		t.Fatalf("catalog counts after a retry = %v, want %v", got, want)
	}
	shown, _ := a.Catalog().Get("r/0")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = embedded.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sums, err := st.Summaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fromStore := map[asset.Key]int64{}
	for _, s := range sums {
		for _, n := range s.Counts {
			fromStore[s.Asset] += n
		}
	}
	if !maps.Equal(fromStore, want) {
		t.Errorf("store counts = %v, want %v", fromStore, want)
	}
	// The retry, stamped later, was not stored: the catalog must not show
	// it as r/0's latest materialization, nor its time as the last event.
	for _, sum := range sums {
		if sum.Asset != "r/0" {
			continue
		}
		if m := shown.LastMaterialization; m == nil || m.ID != sum.LastMaterialization.ID || !m.Time.Equal(sum.LastMaterialization.Time) {
			t.Errorf("catalog shows %+v as r/0's latest materialization, the store %+v", m, sum.LastMaterialization)
		}
		if shown.LastTime == nil || !shown.LastTime.Equal(sum.LastTime) {
			t.Errorf("catalog's last event time %v, the store's %v", shown.LastTime, sum.LastTime)
		}
	}
}

func catalogCounts(a *app.App) map[asset.Key]int64 {
	out := map[asset.Key]int64{}
	for _, k := range a.Catalog().Keys() {
		c, _ := a.Catalog().Get(k)
		for _, n := range c.Counts {
			out[k] += n
		}
	}
	return out
}
