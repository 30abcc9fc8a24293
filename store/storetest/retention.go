package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// RetentionStore is what the retention suite needs of a store.
type RetentionStore interface {
	store.Store
	store.RunStore
	store.Trimmer
}

// RunRetention runs the retention suite (store.Trimmer). Subtests run in
// parallel, each on its own store, which open must close when the test
// ends. Cuts fall on month boundaries, where every store removes exactly
// what is older (a partitioned store removes whole months), except in
// MidMonthCut, which checks only what every store must do.
func RunRetention(t *testing.T, open func(t *testing.T) RetentionStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s RetentionStore)
	}{
		{"KeepsLatestOfEachGroup", testTrimKeepsLatest},
		{"MidMonthCut", testTrimMidMonth},
		{"EmptyAndNothingOld", testTrimNothing},
		{"AppendAfterTrim", testTrimThenAppend},
		{"ConcurrentAppends", testTrimConcurrent},
		{"RunLogs", testTrimRunLogs},
		{"RunLogsAcrossBatches", testTrimManyRunLogs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// day is a time in 2020: far in the past, in months no other test uses.
func day(month time.Month, d, hour int) time.Time {
	return time.Date(2020, month, d, hour, 0, 0, 0, time.UTC)
}

var cutMar = day(time.March, 1, 0)

func withPartition(e asset.Event, p string) asset.Event { e.Partition = p; return e }

func withUpstream(e asset.Event, up ...asset.Key) asset.Event { e.Upstream = up; return e }

// trimFixture is the history the group tests trim: for every group the
// comment says whether its events before March survive.
func trimFixture() []asset.Event {
	return []asset.Event{
		// a: materializations (the latest before the cut, Feb 10, is kept),
		// one observation and one failure (kept: latest of their kind),
		// two checks (each keeps its latest), and later data.
		mat("a-m0", "a", day(time.January, 1, 0)),                    // kept: the first event and materialization of a
		withUpstream(mat("a-m1", "a", day(time.January, 5, 1)), "u"), // removed; its edge u -> a stays
		mat("a-m2", "a", day(time.January, 20, 1)),                   // removed
		mat("a-m3", "a", day(time.February, 10, 1)),                  // kept: latest before the cut
		mat("a-m4", "a", day(time.April, 1, 1)),                      // after the cut
		ev("a-o1", asset.KindObservation, "a", day(time.January, 3, 1)),
		ev("a-f1", asset.KindMaterializationFailed, "a", day(time.January, 7, 1)),
		check("a-c1", "a", day(time.January, 2, 1), "not_null", true), // removed
		check("a-c2", "a", day(time.January, 10, 1), "not_null", false),
		check("a-c3", "a", day(time.February, 1, 1), "unique", true),
		// b: stale since January; each partition keeps its latest.
		mat("b-m1", "b", day(time.January, 1, 1)),
		withPartition(mat("b-p1a", "b", day(time.January, 2, 1)), "2019-12-01"), // removed
		withPartition(mat("b-p2", "b", day(time.January, 3, 1)), "2019-12-02"),
		withPartition(mat("b-p1b", "b", day(time.January, 4, 1)), "2019-12-01"),
		// c: only after the cut.
		mat("c-m1", "c", day(time.March, 2, 1)),
		ev("c-o1", asset.KindObservation, "c", day(time.May, 2, 1)),
	}
}

var trimRemoved = []string{"a-m1", "a-m2", "a-c1", "b-p1a"}

func trim(t *testing.T, s RetentionStore, before time.Time) store.Trimmed {
	t.Helper()
	res, err := s.TrimEvents(context.Background(), before)
	if err != nil {
		t.Fatalf("TrimEvents(%s): %v", before, err)
	}
	return res
}

func storedIDs(t *testing.T, s store.Store) []string {
	t.Helper()
	var out []string
	for _, e := range all(t, s, store.EventQuery{Ascending: true, Limit: store.MaxLimit}) {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

// latest renders what the catalog reads of each asset's summary, without
// the counts and first time a trim lowers.
func latest(t *testing.T, s store.Store) string {
	t.Helper()
	sums, err := s.Summaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id := func(e *asset.Event) string {
		if e == nil {
			return "-"
		}
		return e.ID
	}
	var b strings.Builder
	for _, x := range sums {
		fmt.Fprintf(&b, "%s mat=%s fail=%s obs=%s last=%s checks=", x.Asset, id(x.LastMaterialization), id(x.LastFailure),
			id(x.LastObservation), x.LastTime.Format(time.RFC3339))
		for _, c := range x.LastChecks {
			fmt.Fprintf(&b, "%s:%s,", c.Check.Name, c.ID)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func summaryOf(t *testing.T, s store.Store, a asset.Key) store.Summary {
	t.Helper()
	sums, err := s.Summaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range sums {
		if x.Asset == a {
			return x
		}
	}
	t.Fatalf("no summary of %s", a)
	return store.Summary{}
}

func testTrimKeepsLatest(t *testing.T, s RetentionStore) {
	ctx := context.Background()
	fixture := trimFixture()
	appendOK(t, s, fixture...)
	before := latest(t, s)
	edgesBefore, err := s.ObservedEdges(ctx)
	if err != nil {
		t.Fatal(err)
	}

	res := trim(t, s, cutMar)
	if res.Rows != int64(len(trimRemoved)) {
		t.Errorf("Rows = %d, want %d", res.Rows, len(trimRemoved))
	}
	if res.Kept != 9 { // a: first, mat, obs, failure, two checks; b: mat (also its first) and two partitions
		t.Errorf("Kept = %d, want 9", res.Kept)
	}
	wantRemoved := map[asset.Key]map[asset.Kind]int64{
		"a": {asset.KindMaterialization: 2, asset.KindCheckResult: 1},
		"b": {asset.KindMaterialization: 1},
	}
	if fmt.Sprint(res.Removed) != fmt.Sprint(wantRemoved) {
		t.Errorf("Removed = %v, want %v", res.Removed, wantRemoved)
	}
	var want []string
	for _, e := range fixture {
		if !slices.Contains(trimRemoved, e.ID) {
			want = append(want, e.ID)
		}
	}
	slices.Sort(want)
	if got := storedIDs(t, s); !slices.Equal(got, want) {
		t.Errorf("after the trim the store holds\n %v\nwant\n %v", got, want)
	}
	if got := latest(t, s); got != before {
		t.Errorf("latest state changed:\n%s\nwas\n%s", got, before)
	}
	edges, err := s.ObservedEdges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(edges) != fmt.Sprint(edgesBefore) || len(edges) != 1 {
		t.Errorf("edges = %v, want %v", edges, edgesBefore)
	}
	a := summaryOf(t, s, "a")
	if a.Counts[asset.KindMaterialization] != 3 || a.Counts[asset.KindCheckResult] != 2 || a.Counts[asset.KindObservation] != 1 {
		t.Errorf("counts of a = %v, want 3 materializations, 2 check results, 1 observation", a.Counts)
	}
	if !a.FirstTime.Equal(day(time.January, 1, 0)) {
		t.Errorf("first time of a = %s, want its first event's (kept)", a.FirstTime)
	}
	// The latest successes (the freshness history after a restart) are
	// intact: for b, its latest materialization of January.
	recent, err := s.RecentSuccesses(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[asset.Key]string{}
	for _, e := range recent {
		got[e.Asset] = e.ID
	}
	if got["a"] != "a-m4" || got["b"] != "b-p1b" || got["c"] != "c-o1" {
		t.Errorf("recent successes = %v", got)
	}
	// History reads see the kept partitions: one materialization per partition.
	var parts []string
	for _, e := range all(t, s, store.EventQuery{Asset: "b", Kinds: []asset.Kind{asset.KindMaterialization}, Ascending: true}) {
		parts = append(parts, e.ID+"@"+e.Partition)
	}
	if strings.Join(parts, " ") != "b-m1@ b-p2@2019-12-02 b-p1b@2019-12-01" {
		t.Errorf("materializations of b = %v", parts)
	}

	// Trimming again at the same cut removes nothing more.
	if res := trim(t, s, cutMar); res.Rows != 0 {
		t.Errorf("second trim removed %d rows", res.Rows)
	}
	if got := storedIDs(t, s); !slices.Equal(got, want) {
		t.Errorf("after a second trim the store holds %v", got)
	}
}

func testTrimMidMonth(t *testing.T, s RetentionStore) {
	appendOK(t, s,
		mat("m0", "a", day(time.January, 1, 0)),  // the first: kept
		mat("m1", "a", day(time.January, 10, 0)), // before the cut's month: removed
		mat("m2", "a", day(time.March, 2, 0)),    // in the cut's month, before it: either
		mat("m3", "a", day(time.March, 20, 0)),   // after the cut: kept
		mat("m4", "a", day(time.March, 15, 0)),   // exactly at the cut: kept
	)
	trim(t, s, day(time.March, 15, 0))
	got := storedIDs(t, s)
	for _, id := range []string{"m3", "m4"} {
		if !slices.Contains(got, id) {
			t.Errorf("%s (not older than the cut) was removed: %v", id, got)
		}
	}
	if slices.Contains(got, "m1") {
		t.Errorf("m1 (a month before the cut) was kept: %v", got)
	}
	if a := summaryOf(t, s, "a"); a.LastMaterialization == nil || a.LastMaterialization.ID != "m3" {
		t.Errorf("latest materialization = %v, want m3", a.LastMaterialization)
	}
}

func testTrimNothing(t *testing.T, s RetentionStore) {
	ctx := context.Background()
	if res := trim(t, s, cutMar); res.Rows != 0 || res.Kept != 0 || res.Partitions != 0 || len(res.Removed) != 0 {
		t.Errorf("trim of an empty store = %+v", res)
	}
	if res, err := s.TrimRunLogs(ctx, cutMar); err != nil || res.Rows != 0 {
		t.Errorf("TrimRunLogs of an empty store = %+v, %v", res, err)
	}
	appendOK(t, s, mat("x1", "a", day(time.April, 1, 0)), mat("x2", "a", day(time.April, 2, 0)))
	if res := trim(t, s, cutMar); res.Rows != 0 {
		t.Errorf("trim removed %d rows, all newer than the cut", res.Rows)
	}
	if got := storedIDs(t, s); len(got) != 2 {
		t.Errorf("store holds %v", got)
	}
	// The only event of an asset, however old, is its latest: kept.
	appendOK(t, s, mat("old", "stale", day(time.January, 1, 0)))
	trim(t, s, cutMar)
	if got := storedIDs(t, s); !slices.Contains(got, "old") {
		t.Errorf("the only event of an asset was removed: %v", got)
	}
}

func testTrimThenAppend(t *testing.T, s RetentionStore) {
	appendOK(t, s, trimFixture()...)
	trim(t, s, cutMar)
	// New events land on the trimmed summaries: counts go on from what
	// is left, and the latest moves on.
	appendOK(t, s, mat("a-m5", "a", day(time.June, 1, 0)), check("a-c4", "a", day(time.June, 1, 0), "not_null", true))
	a := summaryOf(t, s, "a")
	if a.Counts[asset.KindMaterialization] != 4 || a.Counts[asset.KindCheckResult] != 3 {
		t.Errorf("counts of a = %v, want 4 materializations and 3 check results", a.Counts)
	}
	if a.LastMaterialization == nil || a.LastMaterialization.ID != "a-m5" {
		t.Errorf("latest materialization = %v, want a-m5", a.LastMaterialization)
	}
	// A removed id sent again may be stored again or ignored; either
	// way nothing breaks, and a trim removes it again if stored.
	appendOK(t, s, mat("a-m1", "a", day(time.January, 5, 1)))
	trim(t, s, cutMar)
	if got := storedIDs(t, s); slices.Contains(got, "a-m1") {
		t.Errorf("a replayed old event survived a trim: %v", got)
	}
}

func testTrimConcurrent(t *testing.T, s RetentionStore) {
	ctx := context.Background()
	var old []asset.Event
	for i := range 600 {
		old = append(old, mat(fmt.Sprintf("old-%03d", i), asset.Key(fmt.Sprintf("k%d", i%7)), day(time.January, 1+i%28, i%24)))
	}
	appendOK(t, s, old...)
	var (
		wg    sync.WaitGroup
		added []string
		errs  = make(chan error, 1)
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 40 {
			e := mat(fmt.Sprintf("new-%03d", i), asset.Key(fmt.Sprintf("k%d", i%7)), day(time.April, 1+i%28, 0))
			if _, err := s.AppendEvents(ctx, []asset.Event{e}); err != nil {
				errs <- err
				return
			}
			added = append(added, e.ID)
		}
	}()
	res, err := s.TrimEvents(ctx, cutMar)
	wg.Wait()
	close(errs)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	got := storedIDs(t, s)
	for _, id := range added {
		if !slices.Contains(got, id) {
			t.Errorf("%s, appended during the trim, is missing", id)
		}
	}
	// Each of the 7 assets keeps its first and latest January materialization.
	if n := len(got) - len(added); n != 14 || res.Rows != 600-14 {
		t.Errorf("kept %d old events and removed %d, want 14 and %d", n, res.Rows, 600-14)
	}
}

func testTrimRunLogs(t *testing.T, s RetentionStore) {
	ctx := context.Background()
	line := func(run string, seq uint64, at time.Time) store.RunLogLine {
		return store.RunLogLine{RunID: run, Seq: seq, Asset: "a", Attempt: 1, Stream: "stdout", Time: at, Text: fmt.Sprintf("%s line %d", run, seq)}
	}
	appendLogs(t, s,
		line("r1", 1, day(time.January, 3, 0)), line("r1", 2, day(time.January, 3, 1)),
		line("r2", 1, day(time.February, 27, 23)), line("r2", 2, day(time.March, 2, 0)),
		line("r3", 1, day(time.April, 1, 0)),
	)
	res, err := s.TrimRunLogs(ctx, cutMar)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 3 {
		t.Errorf("Rows = %d, want 3", res.Rows)
	}
	for _, c := range []struct {
		run  string
		want string
	}{{"r1", ""}, {"r2", "2"}, {"r3", "1"}} {
		if got := logSeqs(runLogs(t, s, store.RunLogQuery{RunID: c.run})); got != c.want {
			t.Errorf("lines of %s = %q, want %q", c.run, got, c.want)
		}
	}
}

// testTrimManyRunLogs: more lines than one deletion holds, runs old,
// mixed and new.
func testTrimManyRunLogs(t *testing.T, s RetentionStore) {
	ctx := context.Background()
	var lines []store.RunLogLine
	add := func(run string, n int, from time.Time) {
		for i := range n {
			seq := uint64(len(lines) + 1)
			lines = append(lines, store.RunLogLine{RunID: run, Seq: seq, Asset: "a", Attempt: 1, Stream: "stdout",
				Time: from.Add(time.Duration(i) * time.Second), Text: "x"})
		}
	}
	add("old", 2500, day(time.January, 10, 0))
	add("mixed", 1500, day(time.February, 10, 0))
	add("mixed", 10, day(time.April, 10, 0))
	add("new", 700, day(time.April, 11, 0))
	for i := 0; i < len(lines); i += 1000 {
		appendLogs(t, s, lines[i:min(i+1000, len(lines))]...)
	}
	res, err := s.TrimRunLogs(ctx, cutMar)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 4000 {
		t.Errorf("Rows = %d, want 4000", res.Rows)
	}
	for _, c := range []struct {
		run  string
		want int
	}{{"old", 0}, {"mixed", 10}, {"new", 700}} {
		if got := len(runLogs(t, s, store.RunLogQuery{RunID: c.run, Limit: store.MaxLogLimit})); got != c.want {
			t.Errorf("%s has %d lines left, want %d", c.run, got, c.want)
		}
	}
}
