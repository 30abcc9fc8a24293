package embedded_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
	"github.com/freshet-dev/freshet/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := embedded.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRunsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunRuns(t, func(t *testing.T) store.RunStore {
		s, err := embedded.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	})
}

func TestAlertsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunAlerts(t, func(t *testing.T) store.AlertStore {
		s, err := embedded.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	})
}

func TestRetentionConformance(t *testing.T) {
	t.Parallel()
	storetest.RunRetention(t, func(t *testing.T) storetest.RetentionStore {
		s, err := embedded.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	})
}

// TestAlertsReopen: the outbox's work list, open incidents and silences
// survive closing and reopening the file, which is what a restart needs.
func TestAlertsReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := embedded.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0).UTC()
	ds := []store.Delivery{
		{ID: "d1", Key: "k", State: store.DeliveryPending, NextAttempt: t0, Created: t0, Updated: t0},
		{ID: "d2", Key: "k", State: store.DeliveryDelivered, Created: t0, Updated: t0},
	}
	if err := s.PutDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIncidents(ctx, []store.Incident{{Key: "k", StartsAt: t0, Updated: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSilences(ctx, []store.Silence{{ID: "s", Created: t0, Updated: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = embedded.Open(ctx, dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	due, err := s.DueDeliveries(ctx, t0, 10)
	if err != nil || len(due) != 1 || due[0].ID != "d1" {
		t.Errorf("due after reopen: %+v, %v; want d1", due, err)
	}
	page, err := s.Deliveries(ctx, store.DeliveryQuery{Key: "k"})
	if err != nil || len(page.Deliveries) != 2 {
		t.Errorf("deliveries after reopen: %+v, %v; want 2", page.Deliveries, err)
	}
	if in, err := s.Incidents(ctx, true); err != nil || len(in) != 1 {
		t.Errorf("open incidents after reopen: %+v, %v", in, err)
	}
	if ss, err := s.Silences(ctx); err != nil || len(ss) != 1 {
		t.Errorf("silences after reopen: %+v, %v", ss, err)
	}
}

// TestReopen: what was stored survives closing and reopening the file,
// and a replay after the reopen is still recognised (ids are durable too).
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := embedded.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := embedded.Open(ctx, dir); err == nil || !strings.Contains(err.Error(), "another freshet") {
		t.Errorf("second open of a locked dir: err = %v", err)
	}
	t0 := time.Unix(1_700_000_000, 0).UTC()
	batch := []asset.Event{
		{ID: "r1", Kind: asset.KindMaterialization, Asset: "raw/a", Time: t0},
		{ID: "r2", Kind: asset.KindObservation, Asset: "raw/a", Time: t0.Add(time.Minute)},
		{ID: "r3", Kind: asset.KindMaterialization, Asset: "mart/b", Time: t0.Add(time.Hour), Upstream: []asset.Key{"raw/a"}},
	}
	if added, err := s.AppendEvents(ctx, batch); err != nil || len(added) != 3 {
		t.Fatalf("first append: added %d, err %v", len(added), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = embedded.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The replay of the whole batch, as after a crash before the WAL
	// confirm, plus one new event.
	replay := append(batch, asset.Event{ID: "r4", Kind: asset.KindMaterialization, Asset: "raw/a", Time: t0.Add(2 * time.Hour)})
	added, err := s.AppendEvents(ctx, replay)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 1 || added[0].ID != "r4" {
		t.Errorf("replay after reopen added %v, want only r4", added)
	}
	page, err := s.Events(ctx, store.EventQuery{Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Events {
		got = append(got, e.ID)
	}
	if strings.Join(got, " ") != "r1 r2 r3 r4" {
		t.Errorf("after reopen events = %v, want r1 r2 r3 r4 once each", got)
	}
	sums, err := s.Summaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[asset.Key]int64{}
	for _, sum := range sums {
		for _, n := range sum.Counts {
			counts[sum.Asset] += n
		}
	}
	if counts["raw/a"] != 3 || counts["mart/b"] != 1 || len(counts) != 2 {
		t.Errorf("summary counts after reopen = %v, want raw/a 3, mart/b 1", counts)
	}
	edges, err := s.ObservedEdges(ctx)
	if err != nil || len(edges) != 1 {
		t.Errorf("edges after reopen = %v (%v), want raw/a -> mart/b", edges, err)
	}
}

// TestOpenCancelled: a cancelled context is an error and leaves the file
// unlocked, so the next Open does not wait for a lock nobody holds.
func TestOpenCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := embedded.Open(ctx, dir); err == nil {
		s.Close()
		t.Fatal("Open with a cancelled context succeeded")
	}
	s, err := embedded.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("open after a cancelled open: %v", err)
	}
	s.Close()
}
