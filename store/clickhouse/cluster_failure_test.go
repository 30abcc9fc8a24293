package clickhouse

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/store"
)

// TestReplicatedFrozenReplica freezes replica 2 (SIGSTOP) while a writer
// appends through replica 1 under load, then thaws it (SIGCONT):
//   - every append acknowledged during the freeze is readable on replica 1
//     at once, each event once;
//   - on replica 2, while it catches up, reads never show an event twice
//     nor one that was not acknowledged, even after a failover-style
//     replay of acknowledged events through replica 2 (which then holds
//     copies of ids it had not fetched yet);
//   - replica 2 catches up: the test logs how long that took.
//
// It freezes a replica of the shared cluster, so it must not run beside
// the other tests that use it: no t.Parallel.
func TestReplicatedFrozenReplica(t *testing.T) {
	c := chtest.SharedCluster(t)
	dsns := c.Database(t)
	st1, st2 := openCluster(t, dsns, 0), openCluster(t, dsns, 1)
	defer st1.Close()
	defer st2.Close()
	ctx := context.Background()

	w := &writer{st: st1}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { w.run(ctx, stop) })
	var once sync.Once
	stopWriter := func() { once.Do(func() { close(stop) }) }
	defer func() { stopWriter(); wg.Wait() }()
	w.waitFor(t, 2) // both replicas up: a few batches first

	frozen := c.Replicas[1]
	if err := frozen.Freeze(); err != nil {
		t.Fatal(err)
	}
	// Runs before Database's cleanup (cleanups run last first), which
	// needs every replica to answer its DROP ... ON CLUSTER.
	t.Cleanup(func() { _ = frozen.Thaw() })
	before := w.count()
	freeze := time.Now()
	w.waitFor(t, w.batches()+10) // ten more acknowledged batches, replica 2 frozen
	// Keep the freeze below the ZooKeeper session timeout (10 s here):
	// longer ones expire replica 2's session, which then takes far longer
	// to come back; FRESHET_TEST_FREEZE (a duration) measures that
	// (docs/scaling.md).
	hold := 3 * time.Second
	if v := os.Getenv("FRESHET_TEST_FREEZE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("FRESHET_TEST_FREEZE: %v", err)
		}
		hold = d
	}
	for time.Since(freeze) < hold {
		time.Sleep(100 * time.Millisecond)
	}
	stopWriter()
	wg.Wait()
	if w.err != nil {
		t.Fatalf("append through replica 1 with replica 2 frozen: %v", w.err)
	}
	acked := w.count()
	t.Logf("frozen replica: %d events acknowledged through replica 1 in %d batches, %d of them during the %v freeze",
		acked, w.batches(), acked-before, time.Since(freeze).Round(time.Millisecond))
	checkReads(t, st1, w.acked(), "replica 1, replica 2 frozen")

	if err := frozen.Thaw(); err != nil {
		t.Fatal(err)
	}
	thaw := time.Now()
	// A Freshet failing over to replica 2 replays its WAL there: the last
	// acknowledged batch, which replica 2 may not have fetched, plus one
	// new event (a batch of the same rows would be dropped whole by
	// ZooKeeper's insert deduplication, which hides the case).
	replay := append(append([]asset.Event(nil), w.last...), clusterEvent(acked))
	var added []asset.Event
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var err error
		if added, err = st2.AppendEvents(ctx, replay); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("append through thawed replica 2: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := append(w.acked(), clusterEvent(acked))
	t.Logf("replay of %d events through replica 2 %.0fms after the thaw: it stored %d (copies of events it had not fetched yet)",
		len(replay), float64(time.Since(thaw).Microseconds())/1000, len(added))

	// Replica 2 catches up; every read on the way is a subset of what was
	// acknowledged, each event once.
	var caughtUp time.Duration
	for polls := 0; ; polls++ {
		n := readCount(t, st2, want, "replica 2, catching up")
		if n == len(want) {
			caughtUp = time.Since(thaw)
			break
		}
		if time.Since(thaw) > 3*time.Minute {
			t.Fatalf("replica 2 holds %d of %d events 3 minutes after the thaw", n, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("replica catch-up: replica 2 held all %d events %.0fms after SIGCONT (frozen %v)",
		len(want), float64(caughtUp.Microseconds())/1000, thaw.Sub(freeze).Round(time.Millisecond))

	for _, s := range []struct {
		st   *Store
		name string
	}{{st1, "replica 1"}, {st2, "replica 2"}} {
		if err := syncReplica(ctx, s.st, "events"); err != nil {
			t.Fatal(err)
		}
		checkReads(t, s.st, want, s.name+", after the thaw")
		var rows uint64
		if err := s.st.conn.QueryRow(ctx, "SELECT count() FROM "+s.st.schema.table("events")).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d distinct events read, %d rows stored", s.name, len(want), rows)
	}
}

// clusterEvent is the n-th event of the load, on one of 20 assets.
func clusterEvent(n int) asset.Event {
	return asset.Event{
		ID:    fmt.Sprintf("ev-%08d", n),
		Kind:  asset.KindMaterialization,
		Asset: asset.Key(fmt.Sprintf("load/a%02d", n%20)),
		Time:  time.Unix(1_780_000_000, 0).Add(time.Duration(n) * time.Millisecond).UTC(),
	}
}

// writer appends batches of new events as fast as the store takes them
// and remembers what was acknowledged. It stops between batches, never
// within one, so that everything stored was acknowledged.
type writer struct {
	st *Store
	// retry makes a failed append be retried until it succeeds, as
	// Freshet's WAL flusher does, instead of stopping the writer. Then
	// a batch may be partly stored before it is acknowledged: the retry
	// adds only the rest.
	retry bool

	mu    sync.Mutex
	fails int           // failed appends (retry mode)
	n     int           // events acknowledged: clusterEvent(0..n-1)
	b     int           // batches acknowledged
	last  []asset.Event // the last acknowledged batch
	err   error
}

const writerBatch = 200

func (w *writer) run(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		n := w.count()
		batch := make([]asset.Event, writerBatch)
		for i := range batch {
			batch[i] = clusterEvent(n + i)
		}
		added, err := w.st.AppendEvents(ctx, batch)
		w.mu.Lock()
		switch {
		case err != nil && w.retry:
			w.fails++
		case err != nil:
			w.err = err
		case w.retry:
			w.n, w.b, w.last = n+len(batch), w.b+1, batch
		case len(added) != len(batch):
			w.err = fmt.Errorf("batch at %d: %d of %d events added", n, len(added), len(batch))
		default:
			w.n, w.b, w.last = n+len(batch), w.b+1, batch
		}
		failed := w.err != nil
		w.mu.Unlock()
		if failed {
			return
		}
	}
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *writer) batches() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b
}

func (w *writer) acked() []asset.Event {
	n := w.count()
	out := make([]asset.Event, n)
	for i := range out {
		out[i] = clusterEvent(i)
	}
	return out
}

// waitFor polls until b batches were acknowledged.
func (w *writer) waitFor(t *testing.T, b int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for w.batches() < b {
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer: %d of %d batches acknowledged in 2 minutes", w.batches(), b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readCount reads every event of st (Events pages and Summaries) and
// fails the test if an event shows twice, one not in want shows, or the
// two reads disagree on how many there are; it returns how many it read.
func readCount(t *testing.T, st *Store, want []asset.Event, where string) int {
	t.Helper()
	ctx := context.Background()
	wanted := make(map[string]bool, len(want))
	for _, e := range want {
		wanted[e.ID] = true
	}
	// Summaries first: the table only grows, so a page-through afterwards
	// holds at least as many events.
	sums, err := st.Summaries(ctx)
	if err != nil {
		t.Fatalf("%s: summaries: %v", where, err)
	}
	var counted int64
	for _, s := range sums {
		counted += s.Counts[asset.KindMaterialization]
	}
	seen := map[string]bool{}
	q := store.EventQuery{Limit: store.MaxLimit, Ascending: true}
	for {
		page, err := st.Events(ctx, q)
		if err != nil {
			t.Fatalf("%s: events: %v", where, err)
		}
		for _, e := range page.Events {
			if seen[e.ID] {
				t.Fatalf("%s: event %s read twice", where, e.ID)
			}
			if !wanted[e.ID] {
				t.Fatalf("%s: event %s was never acknowledged", where, e.ID)
			}
			seen[e.ID] = true
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if int64(len(seen)) < counted {
		t.Fatalf("%s: summaries count %d events, pages hold %d", where, counted, len(seen))
	}
	return int(counted)
}

// checkReads fails the test unless st reads exactly want, each once.
func checkReads(t *testing.T, st *Store, want []asset.Event, where string) {
	t.Helper()
	if n := readCount(t, st, want, where); n != len(want) {
		t.Fatalf("%s: %d events read, %d acknowledged", where, n, len(want))
	}
}

// TestReplicatedFailover freezes the replica the store is connected to
// while a writer appends through it, retrying failed appends as Freshet's
// WAL flusher does. With both replicas in the DSN and a read timeout, the
// stuck append times out, the store dials the next host (the frozen one
// accepts TCP connections but never answers, so the dial times out) and
// writes go on through replica 2; the test logs how long that took. After
// the thaw both replicas read every acknowledged event exactly once,
// copies from batches retried on the other replica included.
//
// Like TestReplicatedFrozenReplica, it must not run beside other tests of
// the shared cluster.
func TestReplicatedFailover(t *testing.T) {
	c := chtest.SharedCluster(t)
	dsns := c.Database(t)
	u, err := url.Parse(dsns[0])
	if err != nil {
		t.Fatal(err)
	}
	second, err := url.Parse(dsns[1])
	if err != nil {
		t.Fatal(err)
	}
	u.Host += "," + second.Host
	u.RawQuery += "&dial_timeout=1s&read_timeout=3s"
	st, err := Open(context.Background(), u.String(), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st1, st2 := openCluster(t, dsns, 0), openCluster(t, dsns, 1)
	defer st1.Close()
	defer st2.Close()

	w := &writer{st: st, retry: true}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { w.run(context.Background(), stop) })
	var once sync.Once
	stopWriter := func() { once.Do(func() { close(stop) }) }
	defer func() { stopWriter(); wg.Wait() }()
	w.waitFor(t, 3)

	frozen := c.Replicas[0]
	if err := frozen.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frozen.Thaw() })
	freeze := time.Now()
	b := w.batches()
	w.waitFor(t, b+2) // the batch in flight may have made it; the next went through replica 2
	failover := time.Since(freeze)
	w.waitFor(t, w.batches()+3)
	stopWriter()
	wg.Wait()
	w.mu.Lock()
	fails := w.fails
	w.mu.Unlock()
	t.Logf("failover: with replica 1 frozen, appends went on through replica 2 after %.1fs (%d failed appends retried; dial_timeout=1s, read_timeout=3s)",
		failover.Seconds(), fails)

	if err := frozen.Thaw(); err != nil {
		t.Fatal(err)
	}
	want := w.acked()
	for _, r := range []struct {
		st   *Store
		name string
	}{{st2, "replica 2"}, {st1, "replica 1"}} {
		if err := syncReplica(context.Background(), r.st, "events"); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		checkReads(t, r.st, want, r.name+", after the failover")
		var rows uint64
		if err := r.st.conn.QueryRow(context.Background(), "SELECT count() FROM "+r.st.schema.table("events")).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d acknowledged events read once each, %d rows stored", r.name, len(want), rows)
	}
}

// TestReplicatedReopenWithReplicaDown restarts the store (a Freshet
// restart) on replica 1 while replica 2 is frozen. A schema that is
// already migrated needs no DDL, so Open must not wait for every replica
// to answer ON CLUSTER DDL (18.16 waits distributed_ddl_task_timeout, 180 s,
// then fails): a replica down must not keep Freshet from starting.
//
// It freezes a replica of the shared cluster: no t.Parallel.
func TestReplicatedReopenWithReplicaDown(t *testing.T) {
	c := chtest.SharedCluster(t)
	dsns := c.Database(t)
	st := openCluster(t, dsns, 0)
	if _, err := st.AppendEvents(context.Background(), []asset.Event{clusterEvent(0)}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	frozen := c.Replicas[1]
	if err := frozen.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frozen.Thaw() })
	// Generous for a busy machine, far below the 180 s a DDL would wait.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	st, err := Open(ctx, dsns[0], WithLogger(quiet))
	if err != nil {
		t.Fatalf("reopen on replica 1 with replica 2 frozen: %v", err)
	}
	defer st.Close()
	t.Logf("reopen with replica 2 frozen took %v", time.Since(start).Round(time.Millisecond))
	if _, err := st.AppendEvents(ctx, []asset.Event{clusterEvent(1)}); err != nil {
		t.Fatal(err)
	}
	checkReads(t, st, []asset.Event{clusterEvent(0), clusterEvent(1)}, "replica 1, replica 2 frozen")
}
