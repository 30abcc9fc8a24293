package follow

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// memLog is a log whose entries become visible when the test says, to
// play inserts that show up after their stamp. The real log (ClickHouse)
// is exercised by store/clickhouse's TestEventLog and the replicas test in
// internal/e2e.
type memLog struct {
	mu      sync.Mutex
	visible []store.LogEntry
	// unstored ids are in the log but their events are not visible yet
	// (the view's part came first).
	unstored map[string]bool
}

func (l *memLog) add(stored time.Time, ids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.visible = append(l.visible, store.LogEntry{Stored: stored, ID: id, Asset: asset.Key("a/" + id), Time: stored})
	}
	slices.SortFunc(l.visible, func(a, b store.LogEntry) int {
		if c := a.Stored.Compare(b.Stored); c != 0 {
			return c
		}
		return compare(a.ID, b.ID)
	})
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (l *memLog) Logged(_ context.Context, since time.Time, after *store.LogEntry, limit int) ([]store.LogEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []store.LogEntry
	for _, e := range l.visible {
		if e.Stored.Before(since) {
			continue
		}
		if after != nil && (e.Stored.Before(after.Stored) || (e.Stored.Equal(after.Stored) && e.ID <= after.ID)) {
			continue
		}
		out = append(out, e)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

func (l *memLog) LoggedEvents(_ context.Context, entries []store.LogEntry) ([]asset.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []asset.Event
	for _, e := range entries {
		if l.unstored[e.ID] {
			continue
		}
		out = append(out, asset.Event{ID: e.ID, Kind: asset.KindMaterialization, Asset: e.Asset, Time: e.Time})
	}
	return out, nil
}

// TestFollower: each id another server stored is applied once, even when
// it shows up late within the overlap and across pages; ids this server
// ingested are skipped; what was in the log at Prime is not applied.
func TestFollower(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	l := &memLog{unstored: map[string]bool{"y1": true}}
	var applied []string
	f := New(l, Options{Overlap: 10 * time.Second, Page: 3, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return now },
		Apply: func(evs []asset.Event) {
			for _, e := range evs {
				applied = append(applied, e.ID)
			}
		}})
	l.add(t0.Add(-2*time.Second), "before1", "before2")
	if err := f.Prime(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.Own([]asset.Event{{ID: "mine1"}, {ID: "mine2"}})
	steps := []struct {
		advance time.Duration
		stored  time.Duration // stamp of the entries added, from t0
		ids     []string
		want    []string // applied after this poll, cumulative
	}{
		{time.Second, 0, []string{"x1", "x2", "mine1", "x3", "x4"}, []string{"x1", "x2", "x3", "x4"}},
		// y1's event is not visible yet: not applied, read again.
		{time.Second, time.Second, []string{"y1"}, []string{"x1", "x2", "x3", "x4"}},
		{0, 0, nil, []string{"x1", "x2", "x3", "x4", "y1"}},
		// Late: stamped 8s before the newest stamp, visible only now.
		{5 * time.Second, -7 * time.Second, []string{"late1"}, []string{"x1", "x2", "x3", "x4", "y1", "late1"}},
		{time.Second, 5 * time.Second, []string{"z1", "mine2"}, []string{"x1", "x2", "x3", "x4", "y1", "late1", "z1"}},
		{time.Second, 0, nil, []string{"x1", "x2", "x3", "x4", "y1", "late1", "z1"}},
	}
	for i, st := range steps {
		if i == 2 {
			l.mu.Lock()
			delete(l.unstored, "y1")
			l.mu.Unlock()
		}
		now = now.Add(st.advance)
		if st.ids != nil {
			l.add(t0.Add(st.stored), st.ids...)
		}
		if _, err := f.poll(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(applied) != fmt.Sprint(st.want) {
			t.Fatalf("step %d: applied %v, want %v", i, applied, st.want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.own) != 0 {
		t.Fatalf("own ids left after they were read: %v", f.own)
	}
	// Seen ids older than the overlap are forgotten.
	for id, at := range f.seen {
		if at.Before(f.high.Add(-10 * time.Second)) {
			t.Fatalf("seen id %s (%v) kept past the overlap", id, at)
		}
	}
}

// TestFollowerFromAnEmptyLog: while the log shows nothing, polls keep
// reading from the first one's start, so an entry that shows up late,
// stamped before now less the overlap, is still applied.
func TestFollowerFromAnEmptyLog(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	l := &memLog{}
	var applied []string
	f := New(l, Options{Overlap: 2 * time.Second, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
		Apply: func(evs []asset.Event) {
			for _, e := range evs {
				applied = append(applied, e.ID)
			}
		}})
	if err := f.Prime(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		now = now.Add(time.Second)
		if _, err := f.poll(context.Background(), true); err != nil {
			t.Fatal(err)
		}
	}
	l.add(t0.Add(time.Second), "late")
	if _, err := f.poll(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[late]" {
		t.Fatalf("applied %v, want [late]", applied)
	}
}
