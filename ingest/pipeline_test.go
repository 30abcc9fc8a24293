package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/ingest/wal"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// flaky is the real embedded store behind a switch that makes writes fail,
// standing in for a store outage.
type flaky struct {
	store.Store
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flaky) AppendEvents(ctx context.Context, events []asset.Event) error {
	f.calls.Add(1)
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return f.Store.AppendEvents(ctx, events)
}

func batch(prefix string, n int) []asset.Event {
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	out := make([]asset.Event, n)
	for i := range out {
		out[i] = asset.Event{ID: fmt.Sprintf("%s-%d", prefix, i), Kind: asset.KindMaterialization,
			Asset: asset.Key(fmt.Sprintf("a/%d", i%5)), Time: t0.Add(time.Duration(i) * time.Second)}
	}
	return out
}

// storedIDs counts stored events per id across the whole history.
func storedIDs(t *testing.T, s store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	q := store.EventQuery{Limit: store.MaxLimit}
	for {
		p, err := s.Events(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			out[e.ID]++
		}
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
}

type rig struct {
	dir   string
	st    *flaky
	log   *wal.Log
	p     *ingest.Pipeline
	stop  context.CancelFunc
	done  chan error
	seen  atomic.Int64
	store store.Store
}

func start(t *testing.T, dir string, st store.Store, opts ingest.Options, walOpts wal.Options) *rig {
	t.Helper()
	r := &rig{dir: dir, st: &flaky{Store: st}, store: st}
	var err error
	if r.log, err = wal.Open(dir+"/wal", walOpts, quiet); err != nil {
		t.Fatal(err)
	}
	opts.Logger = quiet
	opts.MaxBackoff = 20 * time.Millisecond
	opts.BatchDelay = 5 * time.Millisecond
	r.p = ingest.NewPipeline(r.log, r.st, opts, func(ev []asset.Event) { r.seen.Add(int64(len(ev))) })
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.p.Run(ctx) }()
	return r
}

func (r *rig) close(t *testing.T) {
	t.Helper()
	r.stop()
	<-r.done
	r.log.Close()
}

func openStore(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := embedded.Open(context.Background(), dir+"/store")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func drain(t *testing.T, p *ingest.Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Drain(ctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
}

func TestSubmitThenStored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	r := start(t, dir, st, ingest.Options{BatchSize: 7}, wal.Options{})
	defer r.close(t)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.p.Submit(context.Background(), batch(fmt.Sprintf("w%d", w), 10)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if r.seen.Load() != 40 {
		t.Errorf("observers saw %d events at acknowledgement, want 40", r.seen.Load())
	}
	drain(t, r.p)
	ids := storedIDs(t, st)
	if len(ids) != 40 {
		t.Errorf("stored %d events, want 40", len(ids))
	}
	if s := r.log.Stats(); s.Records != 0 {
		t.Errorf("wal still holds %d records after drain", s.Records)
	}
}

// TestStoreOutage: while the store fails, Submit keeps acknowledging; when
// it returns, the backlog drains and each id is stored once.
func TestStoreOutage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	r := start(t, dir, st, ingest.Options{}, wal.Options{})
	defer r.close(t)
	r.st.down.Store(true)
	for i := 0; i < 20; i++ {
		if err := r.p.Submit(context.Background(), batch(fmt.Sprintf("o%d", i), 25)); err != nil {
			t.Fatalf("submit during outage: %v", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.st.calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // let the writer fail and retry a few times
	}
	if s := r.log.Stats(); s.Records != 20 {
		t.Errorf("wal holds %d records during the outage, want 20", s.Records)
	}
	r.st.down.Store(false)
	drain(t, r.p)
	ids := storedIDs(t, st)
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
	if len(ids) != 500 {
		t.Errorf("stored %d events, want 500", len(ids))
	}
}

// TestRestartReplays: events acknowledged but never written (the writer
// was stopped while the store was down) are stored after a restart.
func TestRestartReplays(t *testing.T) {
	t.Parallel()
	for _, memory := range []int64{0, 1} { // 1 byte: every record read back from disk
		t.Run(fmt.Sprint("memory=", memory), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			st := openStore(t, dir)
			defer st.Close()
			r := start(t, dir, st, ingest.Options{MemoryBytes: memory}, wal.Options{})
			r.st.down.Store(true)
			for i := 0; i < 5; i++ {
				if err := r.p.Submit(context.Background(), batch(fmt.Sprintf("r%d", i), 30)); err != nil {
					t.Fatal(err)
				}
			}
			r.close(t)
			if n := len(storedIDs(t, st)); n != 0 {
				t.Fatalf("%d events stored while the store was down", n)
			}
			r = start(t, dir, st, ingest.Options{MemoryBytes: memory, BatchSize: 40}, wal.Options{})
			defer r.close(t)
			var recovered int
			if err := r.p.Recovered(func(ev []asset.Event) { recovered += len(ev) }); err != nil {
				t.Fatal(err)
			}
			if recovered != 150 {
				t.Errorf("Recovered saw %d events, want 150", recovered)
			}
			if err := r.p.Submit(context.Background(), batch("after", 10)); err != nil {
				t.Fatal(err)
			}
			drain(t, r.p)
			if n := len(storedIDs(t, st)); n != 160 {
				t.Errorf("stored %d events after restart, want 160", n)
			}
		})
	}
}

func TestFullLogRejects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	r := start(t, dir, st, ingest.Options{}, wal.Options{MaxBytes: 8 << 10, SegmentBytes: 2 << 10})
	defer r.close(t)
	r.st.down.Store(true)
	var err error
	accepted := 0
	for i := 0; i < 100 && err == nil; i++ {
		if err = r.p.Submit(context.Background(), batch(fmt.Sprintf("f%d", i), 10)); err == nil {
			accepted += 10
		}
	}
	var ra interface{ RetryAfter() time.Duration }
	if !errors.Is(err, wal.ErrFull) || !errors.As(err, &ra) || ra.RetryAfter() <= 0 {
		t.Fatalf("err = %v, want wal.ErrFull with a RetryAfter", err)
	}
	r.st.down.Store(false)
	drain(t, r.p)
	if n := len(storedIDs(t, st)); n != accepted {
		t.Errorf("stored %d, want the %d accepted before the log filled", n, accepted)
	}
	if err := r.p.Submit(context.Background(), batch("again", 10)); err != nil {
		t.Errorf("after draining the log accepts again: %v", err)
	}
}
