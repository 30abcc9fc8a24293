package ingest_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/ingest/wal"
	"github.com/freshet-dev/freshet/store"
)

// gated is a real store whose writes wait while the gate is shut: a store
// that answers, slowly (not an outage).
type gated struct {
	store.Store
	mu   sync.Mutex
	open chan struct{}
}

func newGated(st store.Store) *gated {
	g := &gated{Store: st, open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gated) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *gated) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open)
}

func (g *gated) AppendEvents(ctx context.Context, events []asset.Event) ([]asset.Event, error) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Store.AppendEvents(ctx, events)
}

// TestBackpressure: while the store is behind (its write in flight for
// longer than MaxUnstoredAge), an acknowledgement waits and, after
// AckWait, is refused with a retryable *BacklogError and nothing written;
// once the store caught up, acknowledgements flow again. During an outage
// (writes fail) the write-ahead log takes everything instead.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := newGated(openStore(t, dir))
	r := start(t, dir, st, ingest.Options{MaxUnstoredAge: 50 * time.Millisecond, AckWait: 300 * time.Millisecond}, wal.Options{})
	defer r.close(t)
	ctx := context.Background()

	st.shut()
	if err := r.p.SubmitClient(ctx, batch("first", 10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the backlog to age past the bound", func() bool { return r.log.Stats().OldestAge > 50*time.Millisecond })
	err := r.p.SubmitClient(ctx, batch("second", 10))
	var be *ingest.BacklogError
	if !errors.As(err, &be) || be.RetryAfter() <= 0 {
		t.Fatalf("Submit while the store is behind = %v, want a *BacklogError", err)
	}
	if got := r.log.Stats().LastSeq; got != 1 {
		t.Errorf("the refused batch reached the log: last seq %d", got)
	}
	st.release()
	waitFor(t, "the store to catch up", func() bool { return r.log.Stats().Records == 0 })
	if err := r.p.SubmitClient(ctx, batch("third", 10)); err != nil {
		t.Fatalf("Submit once the store caught up: %v", err)
	}

	r.st.down.Store(true)
	if err := r.p.SubmitClient(ctx, batch("outage", 10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failed writes and an old backlog", func() bool {
		return r.st.calls.Load() >= 4 && r.log.Stats().OldestAge > 50*time.Millisecond
	})
	if err := r.p.SubmitClient(ctx, batch("outage2", 10)); err != nil {
		t.Errorf("Submit during an outage = %v, want it acknowledged (the WAL is there for outages)", err)
	}
	r.st.down.Store(false)
	if err := r.p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	ids := storedIDs(t, r.store)
	if len(ids) != 40 || ids["second-0"] != 0 {
		t.Errorf("stored %d ids (second-0: %d), want the 40 acknowledged and not the refused batch", len(ids), ids["second-0"])
	}
}

// TestSubmitStored: SubmitStored returns once the store has the batch, so
// a read right after sees it; when the store does not have it within the
// wait, the batch is acknowledged all the same and stored later.
func TestSubmitStored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := newGated(openStore(t, dir))
	r := start(t, dir, st, ingest.Options{MaxUnstoredAge: -1}, wal.Options{})
	defer r.close(t)
	ctx := context.Background()
	for i := range 5 {
		stored, err := r.p.SubmitStored(ctx, batch(string(rune('a'+i)), 20), 30*time.Second)
		if err != nil || !stored {
			t.Fatalf("SubmitStored = %v, %v", stored, err)
		}
		if n := len(storedIDs(t, r.store)); n != 20*(i+1) {
			t.Fatalf("after SubmitStored #%d the store holds %d events, want %d", i+1, n, 20*(i+1))
		}
	}
	st.shut()
	stored, err := r.p.SubmitStored(ctx, batch("late", 20), 50*time.Millisecond)
	if err != nil || stored {
		t.Fatalf("SubmitStored with the store held up = %v, %v; want acknowledged but not stored", stored, err)
	}
	st.release()
	if err := r.p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(storedIDs(t, r.store)); n != 120 {
		t.Errorf("store holds %d events, want 120", n)
	}
}

// diskFull fails every write with an error marked as an outage (the
// store's disk is full) while its pings, reads, work.
type diskFull struct {
	store.Store
	full  atomic.Bool
	calls atomic.Int64
}

type outageErr struct{}

func (outageErr) Error() string { return "commit: file too large" }
func (outageErr) Outage() bool  { return true }

func (d *diskFull) AppendEvents(ctx context.Context, events []asset.Event) ([]asset.Event, error) {
	d.calls.Add(1)
	if d.full.Load() {
		return nil, outageErr{}
	}
	return d.Store.AppendEvents(ctx, events)
}

// TestOutageErrorNeverDeadLetters: a store whose disk refuses writes
// while it answers pings is in an outage: its batches are retried, not
// split and set aside as dead letters, however often they fail.
func TestOutageErrorNeverDeadLetters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dl, err := ingest.OpenDeadLetters(dir + "/dead.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	st := &diskFull{Store: openStore(t, dir)}
	st.full.Store(true)
	r := start(t, dir, st, ingest.Options{DeadLetters: dl, PoisonAttempts: 2}, wal.Options{})
	defer r.close(t)
	ctx := context.Background()
	if err := r.p.Submit(ctx, batch("disk", 30)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "many failed writes", func() bool { return st.calls.Load() >= 10 })
	if n := dl.Len(); n != 0 {
		t.Fatalf("%d events set aside as dead letters during a disk outage", n)
	}
	st.full.Store(false)
	if err := r.p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := storedIDs(t, r.store); len(ids) != 30 || dl.Len() != 0 {
		t.Errorf("stored %d of 30 events, %d dead letters", len(ids), dl.Len())
	}
}
