package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// flaky is the real embedded store behind a switch that makes it
// unreachable (an outage: writes and pings fail), and a rule that makes it
// reject some events while it works (a poison event).
type flaky struct {
	store.Store
	down   atomic.Bool
	calls  atomic.Int64
	poison atomic.Pointer[string] // ids with this prefix are rejected
}

func (f *flaky) AppendEvents(ctx context.Context, events []asset.Event) ([]asset.Event, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, errors.New("connection refused")
	}
	if p := f.poison.Load(); p != nil {
		for _, e := range events {
			if strings.HasPrefix(e.ID, *p) {
				return nil, fmt.Errorf("code: 27, message: cannot parse input for event %s", e.ID)
			}
		}
	}
	return f.Store.AppendEvents(ctx, events)
}

func (f *flaky) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return f.Store.Ping(ctx)
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

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
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
	waitFor(t, "the writer to fail and retry", func() bool { return r.st.calls.Load() >= 3 })
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

func deadLetters(t *testing.T, dir string) *ingest.DeadLetters {
	t.Helper()
	d, err := ingest.OpenDeadLetters(filepath.Join(dir, "dead-letters.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPoisonEventsSetAside: events the store rejects while it accepts the
// rest are found by splitting their batch and set aside durably; everything
// else is stored; once the cause is fixed, a replay stores them too.
func TestPoisonEventsSetAside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	var stored []asset.Event
	var mu sync.Mutex
	opts := ingest.Options{PoisonAttempts: 2, DeadLetters: deadLetters(t, dir), BatchSize: 1000,
		OnStored: func(_, added []asset.Event) { mu.Lock(); stored = append(stored, added...); mu.Unlock() }}
	r := start(t, dir, st, opts, wal.Options{})
	defer r.close(t)
	prefix := "bad"
	r.st.poison.Store(&prefix)
	events := batch("ok", 500)
	events[17].ID, events[333].ID = "bad-17", "bad-333"
	if err := r.p.Submit(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	drain(t, r.p)
	if n := len(storedIDs(t, st)); n != 498 {
		t.Errorf("stored %d events, want the 498 the store accepts", n)
	}
	mu.Lock()
	if len(stored) != 498 {
		t.Errorf("OnStored reported %d added, want 498", len(stored))
	}
	mu.Unlock()
	got, err := r.p.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Event.ID != "bad-17" || got[1].Event.ID != "bad-333" ||
		!strings.Contains(got[0].Error, "cannot parse") || got[0].Time.IsZero() {
		t.Fatalf("dead letters = %+v, want bad-17 and bad-333 with the store's error", got)
	}
	if !got[0].Event.Time.Equal(events[17].Time) || got[0].Event.Asset != events[17].Asset {
		t.Errorf("dead letter lost the event: %+v", got[0].Event)
	}
	if s := r.log.Stats(); s.Records != 0 {
		t.Errorf("wal holds %d records: the poison held up the log", s.Records)
	}
	// Durable: a new handle on the file sees both.
	if n := deadLetters(t, dir).Len(); n != 2 {
		t.Errorf("dead-letter file holds %d after reopen, want 2", n)
	}

	r.st.poison.Store(nil) // the operator fixed the cause
	n, err := r.p.ReplayDeadLetters(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("replay = %d, %v; want 2", n, err)
	}
	drain(t, r.p)
	if n := len(storedIDs(t, st)); n != 500 {
		t.Errorf("stored %d after the replay, want 500", n)
	}
	if got, _ := r.p.DeadLetters(); len(got) != 0 {
		t.Errorf("dead letters after replay: %+v", got)
	}
}

// TestOutageIsNotPoison: while the store is unreachable nothing is set
// aside, however often a batch fails.
func TestOutageIsNotPoison(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	dl := deadLetters(t, dir)
	r := start(t, dir, st, ingest.Options{PoisonAttempts: 1, DeadLetters: dl}, wal.Options{})
	defer r.close(t)
	r.st.down.Store(true)
	if err := r.p.Submit(context.Background(), batch("o", 50)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ten failed writes", func() bool { return r.st.calls.Load() >= 10 })
	if n := dl.Len(); n != 0 {
		t.Fatalf("%d events set aside during an outage", n)
	}
	r.st.down.Store(false)
	drain(t, r.p)
	if n := len(storedIDs(t, st)); n != 50 {
		t.Errorf("stored %d, want 50", n)
	}
}

// TestTornDeadLetterCut: a line torn by a crash during Add is cut on open
// (its event is still in the write-ahead log), and later entries parse.
func TestTornDeadLetterCut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := deadLetters(t, dir)
	e := batch("d", 2)
	if err := d.Add([]ingest.DeadLetter{{Time: e[0].Time, Error: "x", Event: e[0]}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dead-letters.ndjson")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"time":"2026-`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d = deadLetters(t, dir)
	if err := d.Add([]ingest.DeadLetter{{Time: e[1].Time, Error: "y", Event: e[1]}}); err != nil {
		t.Fatal(err)
	}
	got, err := d.List()
	if err != nil {
		t.Fatalf("list after a torn line: %v", err)
	}
	if len(got) != 2 || got[0].Event.ID != "d-0" || got[1].Event.ID != "d-1" {
		t.Errorf("dead letters = %+v, want d-0 and d-1", got)
	}
}

// TestObserversBeforeStore: the observers of a batch run before the store
// writer may take it, so the catalog (which counts an event pending when
// it is acknowledged and stored once the store took it) never hears of a
// store before the acknowledgement. A slow observer widens the window the
// writer had before.
func TestObserversBeforeStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, err := wal.Open(dir+"/wal", wal.Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	var (
		mu       sync.Mutex
		observed = map[string]bool{}
		early    []string
		stored   atomic.Int64
	)
	opts := ingest.Options{Logger: quiet, BatchSize: 1, BatchDelay: time.Millisecond,
		OnStored: func(batch, _ []asset.Event) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range batch {
				if !observed[e.ID] {
					early = append(early, e.ID)
				}
			}
			stored.Add(int64(len(batch)))
		}}
	p := ingest.NewPipeline(log, openStore(t, dir), opts, func(events []asset.Event) {
		time.Sleep(20 * time.Millisecond) // a busy catalog
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			observed[e.ID] = true
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 5 {
				if err := p.Submit(context.Background(), batch(fmt.Sprintf("c%d-%d", i, j), 1)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if stored.Load() != 20 || len(early) > 0 {
		t.Fatalf("stored %d of 20 events; stored before their observers ran: %v", stored.Load(), early)
	}
}
