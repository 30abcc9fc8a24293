package monitor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store"
)

// countingHistory counts the store reads the monitor makes for one asset.
type countingHistory struct {
	asset asset.Key
	reads atomic.Int64
}

func (h *countingHistory) Events(_ context.Context, q store.EventQuery) (store.EventPage, error) {
	if q.Asset == h.asset {
		h.reads.Add(1)
	}
	return store.EventPage{}, nil
}

type nopRecorder struct{}

func (nopRecorder) Submit(context.Context, []asset.Event) error { return nil }

// TestAssetObservedMidPassStaysWhole: an asset whose policy and first
// event arrive while a pass is running is followed from that first event
// (its history is whole), not seeded as truncated once the next pass finds
// its policy: that made the monitor read the store for its first
// materialization, one query per such asset (hundreds under heavy ingest
// with a policy on every asset).
func TestAssetObservedMidPassStaysWhole(t *testing.T) {
	t.Parallel()
	idx := lineage.NewIndex()
	h := &countingHistory{asset: "raw/b"}
	now := t0.Add(time.Hour)
	policy := &asset.FreshnessPolicy{MaxLag: time.Hour}
	a := asset.Spec{Key: "raw/a", Freshness: policy}
	var m *Monitor
	// The pass seeds raw/a (known from before, so not followed whole):
	// meanwhile ingest brings raw/b, as the app does for a new asset:
	// lineage, its policy, then its event.
	var during func()
	e1 := asset.Event{ID: "e1", Kind: asset.KindMaterialization, Asset: "raw/b", Time: t0}
	seed := func(k asset.Key) []asset.Event { // the catalog's latest events
		if f := during; f != nil && k == "raw/a" {
			during = nil
			f()
		}
		if k == "raw/b" {
			return []asset.Event{e1}
		}
		return nil
	}
	m = New(idx, nopRecorder{}, Options{Now: func() time.Time { return now }, Logger: quiet, History: h, Seed: seed,
		FirstSeen: func(asset.Key) time.Time { return time.Time{} }})
	if err := m.Load([]store.Summary{{Asset: "raw/a", FirstTime: t0}}, nil); err != nil {
		t.Fatal(err)
	}
	idx.Observe([]asset.Key{"raw/a"}, nil)
	ctx := context.Background()
	m.evaluate(ctx, true) // no policy yet: nothing is followed
	m.SetSpecs([]asset.Spec{a})
	during = func() {
		idx.Observe([]asset.Key{"raw/b"}, nil)
		m.SetSpecs([]asset.Spec{a, {Key: "raw/b", Freshness: policy}})
		m.Observe([]asset.Event{e1})
	}
	m.evaluate(ctx, false)
	if during != nil {
		t.Fatal("the pass did not seed raw/a")
	}
	m.evaluate(ctx, false) // finds raw/b's policy
	m.evaluate(ctx, true)
	if n := h.reads.Load(); n != 0 {
		t.Errorf("the monitor read raw/b's history %d times; it was followed from its first event", n)
	}
	if r, ok := m.Snapshot().Results["raw/b"]; !ok || r.State.String() == "UNKNOWN" {
		t.Errorf("raw/b: %+v (found %v), want a state from its materialization", r, ok)
	}
}
