package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/store"
)

// readLog pages through the whole log from since, as a follower does.
func readLog(t *testing.T, st store.EventLog, since time.Time, page int) []store.LogEntry {
	t.Helper()
	var out []store.LogEntry
	var after *store.LogEntry
	for {
		got, err := st.Logged(context.Background(), since, after, page)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
		if len(got) < page {
			return out
		}
		after = &got[len(got)-1]
	}
}

// checkLog: the log holds each id of want once, in (stored, id) order,
// and LoggedEvents returns the stored events.
func checkLog(t *testing.T, st store.EventLog, since time.Time, want []asset.Event) {
	t.Helper()
	entries := readLog(t, st, since, 7)
	if len(entries) != len(want) {
		t.Fatalf("log has %d entries, want %d", len(entries), len(want))
	}
	if !slices.IsSortedFunc(entries, func(a, b store.LogEntry) int {
		if c := a.Stored.Compare(b.Stored); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	}) {
		t.Fatal("log entries are not in (stored, id) order")
	}
	byID := map[string]asset.Event{}
	for _, e := range want {
		byID[e.ID] = e
	}
	for _, e := range entries {
		w, ok := byID[e.ID]
		if !ok || e.Asset != w.Asset || !e.Time.Equal(w.Time) {
			t.Fatalf("entry %+v: not one of the events written (%+v)", e, w)
		}
		if e.Stored.Before(since) {
			t.Fatalf("entry %+v stored before %v", e, since)
		}
	}
	got, err := st.LoggedEvents(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("LoggedEvents returned %d events, want %d", len(got), len(want))
	}
	for _, g := range got {
		if fmt.Sprint(g) != fmt.Sprint(byID[g.ID]) {
			t.Fatalf("LoggedEvents: %+v, want %+v", g, byID[g.ID])
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func logEvents(prefix string, n int) []asset.Event {
	var out []asset.Event
	for i := range n {
		e := ev(fmt.Sprintf("%s-%03d", prefix, i), asset.KindMaterialization, fmt.Sprintf("log/a%d", i%5), 1_700_000_000+i*3600)
		if i%4 == 0 {
			e.Upstream = []asset.Key{"log/up"}
			e.Metadata = asset.Metadata{"rows": asset.Int(int64(i))}
		}
		out = append(out, e)
	}
	return out
}

// TestEventLog: two writers (two stores on one database, as two Freshet
// replicas) append; the log has each event once, pages without gaps,
// leaves out what was stored before since, survives a retry of stored ids,
// and TrimLog drops whole days without touching the events.
func TestEventLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, dsn := openStore(t)
	other, err := Open(ctx, dsn, WithLogger(quiet), WithSharedWriters())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Two writers; both start the log, which is idempotent.
	st.sharedWriters = true
	for _, s := range []*Store{st, other} {
		if err := s.StartLog(ctx); err != nil {
			t.Fatal(err)
		}
	}

	before := logEvents("old", 5)
	if _, err := st.AppendEvents(ctx, before); err != nil {
		t.Fatal(err)
	}
	// The log's clock has whole seconds: wait for the next one.
	time.Sleep(1100 * time.Millisecond)
	since := time.Now().Truncate(time.Second)
	a, b := logEvents("a", 23), logEvents("b", 17)
	if _, err := st.AppendEvents(ctx, a[:10]); err != nil {
		t.Fatal(err)
	}
	if _, err := other.AppendEvents(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendEvents(ctx, a[10:]); err != nil {
		t.Fatal(err)
	}
	if _, err := other.AppendEvents(ctx, a[:5]); err != nil { // a retry: nothing new
		t.Fatal(err)
	}
	checkLog(t, st, since, append(slices.Clone(a), b...))
	checkLog(t, st, since.Add(-time.Hour), append(append(slices.Clone(before), a...), b...))

	if err := st.TrimLog(ctx, time.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(readLog(t, st, time.Time{}, 1000)); n != 45 {
		t.Fatalf("a trim of days before yesterday left %d entries, want 45", n)
	}
	if err := st.TrimLog(ctx, time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(readLog(t, st, time.Time{}, 1000)); n != 0 {
		t.Fatalf("a trim up to tomorrow left %d entries", n)
	}
	page, err := st.Events(ctx, store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 45 {
		t.Fatalf("events after the trim: %d, want 45", len(page.Events))
	}
}

// TestReplicatedEventLog: events written through replica 1 are in the log
// read from replica 2 once it caught up, each once.
func TestReplicatedEventLog(t *testing.T) {
	c := chtest.SharedCluster(t)
	dsns := c.Database(t)
	r1, r2 := openCluster(t, dsns, 0), openCluster(t, dsns, 1)
	defer r1.Close()
	defer r2.Close()
	ctx := context.Background()
	if err := r2.StartLog(ctx); err != nil { // ON CLUSTER: the view is on r1 too
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Second).Truncate(time.Second)
	a, b := logEvents("r1", 20), logEvents("r2", 9)
	if _, err := r1.AppendEvents(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.AppendEvents(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Store{r1, r2} {
		if err := syncReplica(ctx, st, "events", "event_log"); err != nil {
			t.Fatal(err)
		}
		checkLog(t, st, since, append(slices.Clone(a), b...))
	}
}
