package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// RunRuns runs the store.RunStore suite. Subtests run in parallel, each on
// the fresh, empty store open returns; open closes it when the test ends
// (t.Cleanup), since RunStore has no Close of its own.
func RunRuns(t *testing.T, open func(t *testing.T) store.RunStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.RunStore)
	}{
		{"RoundTrip", testRunRoundTrip},
		{"UpsertByVersion", testRunUpsert},
		{"OutOfOrderFlushes", testRunOutOfOrder},
		{"NotFound", testRunNotFound},
		{"StepOrder", testStepOrder},
		{"Paging", testRunPaging},
		{"Filters", testRunFilters},
		{"LimitCap", testRunLimitCap},
		{"BadCursor", testRunBadCursor},
		{"Logs", testRunLogs},
		{"LogLimits", testRunLogLimits},
		{"Incomplete", testRunIncomplete},
		{"ConcurrentWriters", testRunConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// r0 is the suite's reference time for runs.
var r0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func newRun(id string, created time.Time, status string, updated time.Time) store.RunRecord {
	return store.RunRecord{ID: id, Status: status, Trigger: "manual", Created: created, Updated: updated}
}

func newStep(runID string, a asset.Key, index int, status string, updated time.Time) store.StepRecord {
	return store.StepRecord{RunID: runID, Asset: a, Index: index, Status: status, Updated: updated}
}

func putRuns(t *testing.T, s store.RunStore, runs ...store.RunRecord) {
	t.Helper()
	if err := s.PutRuns(context.Background(), runs); err != nil {
		t.Fatalf("PutRuns(%s): %v", runIDs(runs), err)
	}
}

func putSteps(t *testing.T, s store.RunStore, steps ...store.StepRecord) {
	t.Helper()
	if err := s.PutSteps(context.Background(), steps); err != nil {
		t.Fatalf("PutSteps: %v", err)
	}
}

func appendLogs(t *testing.T, s store.RunStore, lines ...store.RunLogLine) {
	t.Helper()
	if err := s.AppendRunLogs(context.Background(), lines); err != nil {
		t.Fatalf("AppendRunLogs: %v", err)
	}
}

// getRun returns a run and its steps, failing the test on any error.
func getRun(t *testing.T, s store.RunStore, id string) (store.RunRecord, []store.StepRecord) {
	t.Helper()
	r, steps, err := s.Run(context.Background(), id)
	if err != nil {
		t.Fatalf("Run(%q): %v", id, err)
	}
	checkUTC(t, "run "+id, r.Created, r.Started, r.Ended, r.Updated)
	for _, st := range steps {
		checkUTC(t, "step "+string(st.Asset), st.Started, st.Ended, st.Updated)
	}
	return r, steps
}

func runPage(t *testing.T, s store.RunStore, q store.RunQuery) store.RunPage {
	t.Helper()
	p, err := s.Runs(context.Background(), q)
	if err != nil {
		t.Fatalf("Runs(%+v): %v", q, err)
	}
	for _, r := range p.Runs {
		checkUTC(t, "listed run "+r.ID, r.Created, r.Started, r.Ended, r.Updated)
	}
	return p
}

// allRuns pages through q and returns every run, checking that each Next
// is the cursor of its page's last run and that only the last page lacks
// one.
func allRuns(t *testing.T, s store.RunStore, q store.RunQuery) []store.RunRecord {
	t.Helper()
	var out []store.RunRecord
	for i := 0; ; i++ {
		p := runPage(t, s, q)
		out = append(out, p.Runs...)
		if p.Next == "" {
			return out
		}
		if len(p.Runs) == 0 {
			t.Fatalf("Runs(%+v): an empty page with a next cursor", q)
		}
		last := p.Runs[len(p.Runs)-1]
		if want := store.EncodeCursor(store.Position{Time: last.Created, ID: last.ID}); p.Next != want {
			t.Fatalf("Runs(%+v): Next %q is not the cursor of the last run %s (%q)", q, p.Next, last.ID, want)
		}
		if i > 10000 {
			t.Fatal("run pagination does not end")
		}
		q.Cursor = p.Next
	}
}

func runLogs(t *testing.T, s store.RunStore, q store.RunLogQuery) []store.RunLogLine {
	t.Helper()
	lines, err := s.RunLogs(context.Background(), q)
	if err != nil {
		t.Fatalf("RunLogs(%+v): %v", q, err)
	}
	for _, l := range lines {
		checkUTC(t, fmt.Sprintf("log line %s/%d", l.RunID, l.Seq), l.Time)
	}
	return lines
}

func checkUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for i, tm := range times {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("%s: time %d is in %v, want UTC", what, i, tm.Location())
		}
	}
}

func runIDs(runs []store.RunRecord) string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.ID
	}
	return strings.Join(out, " ")
}

func stepAssets(steps []store.StepRecord) string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = string(s.Asset)
	}
	return strings.Join(out, " ")
}

func logSeqs(lines []store.RunLogLine) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = fmt.Sprint(l.Seq)
	}
	return strings.Join(out, " ")
}

// utcRun, utcStep and utcLine put every time in UTC (and drop monotonic
// readings), so == compares instants.
func utcRun(r store.RunRecord) store.RunRecord {
	r.Created, r.Started, r.Ended, r.Updated = r.Created.UTC(), r.Started.UTC(), r.Ended.UTC(), r.Updated.UTC()
	return r
}

func utcStep(s store.StepRecord) store.StepRecord {
	s.Started, s.Ended, s.Updated = s.Started.UTC(), s.Ended.UTC(), s.Updated.UTC()
	return s
}

func utcLine(l store.RunLogLine) store.RunLogLine {
	l.Time = l.Time.UTC()
	return l
}

func sameRun(t *testing.T, what string, got, want store.RunRecord) {
	t.Helper()
	if utcRun(got) != utcRun(want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func sameSteps(t *testing.T, what string, got, want []store.StepRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d steps (%s), want %d (%s)", what, len(got), stepAssets(got), len(want), stepAssets(want))
		return
	}
	for i := range got {
		if utcStep(got[i]) != utcStep(want[i]) {
			t.Errorf("%s: step %d:\n got %+v\nwant %+v", what, i, got[i], want[i])
		}
	}
}

// sortRuns orders runs as Runs must: newest Created first, ties by ID
// descending. It is the model the paging tests compare with.
func sortRuns(runs []store.RunRecord) []store.RunRecord {
	runs = slices.Clone(runs)
	slices.SortFunc(runs, func(a, b store.RunRecord) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return runs
}

func testRunRoundTrip(t *testing.T, s store.RunStore) {
	paris, _ := time.LoadLocation("Europe/Paris")
	if paris == nil {
		paris = time.FixedZone("CET", 3600)
	}
	full := store.RunRecord{
		ID: "run-ü-42", Status: "STARTED", Trigger: "reexecute",
		Selection: "+warehouse/заказы*", Partition: "2026-11-20", Parent: "run-ü-41",
		Reason: "re-executed from failure ✓", Owner: "freshet-0:8080/4242",
		Created: r0.Add(123456789 * time.Nanosecond).In(paris), // nanoseconds and a zone
		Started: r0.Add(sec(2) + time.Nanosecond).In(paris),
		Updated: r0.Add(sec(3) + 999*time.Nanosecond),
	}
	bare := store.RunRecord{ID: "run-bare", Created: r0.Add(-time.Hour), Updated: r0.Add(-time.Hour)}
	done := store.StepRecord{
		RunID: full.ID, Asset: "warehouse/заказы", Index: 0, Status: "SUCCESS", Attempts: 3,
		Reason: "exit status 0", Started: r0.Add(sec(4) + 7*time.Nanosecond).In(paris), Ended: r0.Add(sec(9) + 11*time.Nanosecond),
		PID: 4_194_303, PIDStart: 1<<63 + 12345, // the largest pid; a start tick beyond int64
		Updated: r0.Add(sec(9) + 12*time.Nanosecond),
	}
	queued := store.StepRecord{RunID: full.ID, Asset: "mart/注文/日次", Index: 1, Status: "QUEUED", Updated: r0.Add(sec(1))}
	putRuns(t, s, full, bare)
	putSteps(t, s, queued, done) // out of Index order

	r, steps := getRun(t, s, full.ID)
	sameRun(t, "full run", r, full)
	sameSteps(t, "full run", steps, []store.StepRecord{done, queued})
	if len(steps) == 2 && steps[1].Started != (time.Time{}) {
		t.Errorf("a step never started came back with Started %v", steps[1].Started)
	}
	r, steps = getRun(t, s, bare.ID)
	sameRun(t, "bare run", r, bare)
	if !r.Started.IsZero() || !r.Ended.IsZero() {
		t.Errorf("bare run: zero Started/Ended came back as %v/%v", r.Started, r.Ended)
	}
	if len(steps) != 0 {
		t.Errorf("bare run has steps: %+v", steps)
	}
	got := runPage(t, s, store.RunQuery{}).Runs
	if runIDs(got) != full.ID+" "+bare.ID {
		t.Fatalf("Runs = %s, want %s %s", runIDs(got), full.ID, bare.ID)
	}
	sameRun(t, "listed full run", got[0], full)
	sameRun(t, "listed bare run", got[1], bare)
}

func testRunUpsert(t *testing.T, s store.RunStore) {
	ver := func(status string, at int) store.RunRecord {
		r := newRun("up-1", r0, status, r0.Add(sec(at)))
		r.Reason = "reason of " + status
		return r
	}
	stepVer := func(status string, at, pid int) store.StepRecord {
		st := newStep("up-1", "raw/orders", 0, status, r0.Add(sec(at)))
		st.PID = pid
		return st
	}
	for _, c := range []struct {
		name  string
		runs  []store.RunRecord
		steps []store.StepRecord
		want  string // status after the call
	}{
		{"first", []store.RunRecord{ver("STARTED", 2)}, []store.StepRecord{stepVer("STARTED", 2, 100)}, "STARTED"},
		{"older is ignored", []store.RunRecord{ver("QUEUED", 1)}, []store.StepRecord{stepVer("QUEUED", 1, 0)}, "STARTED"},
		{"equal replaces", []store.RunRecord{ver("CANCELING", 2)}, []store.StepRecord{stepVer("CANCELING", 2, 101)}, "CANCELING"},
		{"newer replaces", []store.RunRecord{ver("CANCELED", 3)}, []store.StepRecord{stepVer("CANCELED", 3, 102)}, "CANCELED"},
		{"newest of a batch wins, first", []store.RunRecord{ver("B5", 5), ver("B4", 4)}, []store.StepRecord{stepVer("B5", 5, 105), stepVer("B4", 4, 104)}, "B5"},
		{"newest of a batch wins, last", []store.RunRecord{ver("C5", 5), ver("C6", 6)}, []store.StepRecord{stepVer("C5", 5, 105), stepVer("C6", 6, 106)}, "C6"},
		{"ties in a batch go to the later", []store.RunRecord{ver("D7a", 7), ver("D7b", 7)}, []store.StepRecord{stepVer("D7a", 7, 107), stepVer("D7b", 7, 108)}, "D7b"},
		{"older batch after newer", []store.RunRecord{ver("E1", 1), ver("E2", 2)}, []store.StepRecord{stepVer("E1", 1, 1), stepVer("E2", 2, 2)}, "D7b"},
	} {
		putRuns(t, s, c.runs...)
		putSteps(t, s, c.steps...)
		r, steps := getRun(t, s, "up-1")
		if r.Status != c.want || r.Reason != "reason of "+c.want {
			t.Errorf("%s: run is %s (%q), want %s", c.name, r.Status, r.Reason, c.want)
		}
		if len(steps) != 1 || steps[0].Status != c.want {
			t.Errorf("%s: steps are %+v, want one %s", c.name, steps, c.want)
		}
		// The listing shows the run once, in its current state.
		listed := runPage(t, s, store.RunQuery{}).Runs
		if len(listed) != 1 || listed[0].Status != c.want {
			t.Errorf("%s: Runs = %+v, want up-1 once as %s", c.name, listed, c.want)
		}
	}
	r, steps := getRun(t, s, "up-1")
	sameRun(t, "final run", r, ver("D7b", 7))
	sameSteps(t, "final step", steps, []store.StepRecord{stepVer("D7b", 7, 108)})
}

// testRunOutOfOrder delivers five versions of every run and step, one
// call each, in a different order per record, as writers that retry and
// flush out of order do. The newest version is what remains.
func testRunOutOfOrder(t *testing.T, s store.RunStore) {
	const n = 12
	orders := [][]int{{3, 1, 5, 2, 4}, {5, 4, 3, 2, 1}, {1, 2, 3, 4, 5}, {2, 5, 1, 4, 3}}
	for round := range 5 {
		var runs []store.RunRecord
		var steps []store.StepRecord
		for i := range n {
			v := orders[i%len(orders)][round]
			id := fmt.Sprintf("ooo-%02d", i)
			status := fmt.Sprintf("v%d", v)
			runs = append(runs, newRun(id, r0.Add(time.Duration(i)*time.Minute), status, r0.Add(sec(v))))
			steps = append(steps, newStep("ooo-00", asset.Key(fmt.Sprintf("raw/t%02d", i)), n-i, status, r0.Add(sec(v))))
		}
		for i := range runs { // a call per record
			putRuns(t, s, runs[i])
			putSteps(t, s, steps[i])
		}
	}
	got := allRuns(t, s, store.RunQuery{Limit: 5})
	if len(got) != n {
		t.Fatalf("Runs lists %d runs, want %d: %s", len(got), n, runIDs(got))
	}
	for i, r := range got {
		if want := fmt.Sprintf("ooo-%02d", n-1-i); r.ID != want || r.Status != "v5" {
			t.Errorf("run %d is %s %s, want %s v5", i, r.ID, r.Status, want)
		}
	}
	_, steps := getRun(t, s, "ooo-00")
	if len(steps) != n {
		t.Fatalf("%d steps, want %d: %s", len(steps), n, stepAssets(steps))
	}
	for i, st := range steps {
		if want := asset.Key(fmt.Sprintf("raw/t%02d", n-1-i)); st.Asset != want || st.Index != i+1 || st.Status != "v5" {
			t.Errorf("step %d is %s #%d %s, want %s #%d v5", i, st.Asset, st.Index, st.Status, want, i+1)
		}
	}
}

func testRunNotFound(t *testing.T, s store.RunStore) {
	ctx := context.Background()
	notFound := func(id string) {
		t.Helper()
		r, steps, err := s.Run(ctx, id)
		if !errors.Is(err, store.ErrRunNotFound) {
			t.Errorf("Run(%q) = %+v, %d steps, err %v; want ErrRunNotFound", id, r, len(steps), err)
		}
	}
	notFound("nope")
	putRuns(t, s, newRun("r1", r0, "QUEUED", r0))
	// Steps of a run that was never put do not make it exist.
	putSteps(t, s, newStep("ghost", "raw/a", 0, "QUEUED", r0))
	for _, id := range []string{"nope", "ghost", "r", "r10", "R1"} {
		notFound(id)
	}
	if r, _ := getRun(t, s, "r1"); r.ID != "r1" {
		t.Errorf("Run(r1) returned %q", r.ID)
	}
	if got := runIDs(runPage(t, s, store.RunQuery{}).Runs); got != "r1" {
		t.Errorf("Runs = %q, want only r1 (steps alone are no run)", got)
	}
}

func testStepOrder(t *testing.T, s store.RunStore) {
	// r1 and r10: a run id that is a prefix of another must not see its
	// steps.
	putRuns(t, s, newRun("r1", r0, "STARTED", r0), newRun("r10", r0, "STARTED", r0))
	putSteps(t, s,
		newStep("r1", "c", 3, "QUEUED", r0),
		newStep("r1", "a", 0, "SUCCESS", r0),
		newStep("r10", "z", 1, "QUEUED", r0),
	)
	putSteps(t, s,
		newStep("r1", "x/b", 2, "QUEUED", r0),
		newStep("r1", "d", 1, "STARTED", r0),
		newStep("r10", "y", 0, "QUEUED", r0),
		// Equal indexes are ordered by asset.
		newStep("r1", "f", 4, "QUEUED", r0),
		newStep("r1", "e", 4, "QUEUED", r0),
	)
	// A newer version keeps the step in its place.
	putSteps(t, s, newStep("r1", "d", 1, "SUCCESS", r0.Add(sec(1))))
	_, steps := getRun(t, s, "r1")
	if got := stepAssets(steps); got != "a d x/b c e f" {
		t.Errorf("r1 steps = %q, want a d x/b c e f (Index order, ties by asset)", got)
	}
	if len(steps) == 6 && steps[1].Status != "SUCCESS" {
		t.Errorf("step d is %s, want SUCCESS", steps[1].Status)
	}
	_, steps = getRun(t, s, "r10")
	if got := stepAssets(steps); got != "y z" {
		t.Errorf("r10 steps = %q, want y z", got)
	}
}

func testRunPaging(t *testing.T, s store.RunStore) {
	var runs []store.RunRecord
	for i := range 25 {
		// Pairs of runs share a Created, and ids do not follow time, so
		// only (Created, ID) order passes.
		id := fmt.Sprintf("pg-%02d", (i*7)%25)
		runs = append(runs, newRun(id, r0.Add(time.Duration(i/2)*time.Minute), "SUCCESS", r0))
	}
	// Out of order, in two batches; a later status change must not move
	// or repeat a run.
	putRuns(t, s, runs[13:]...)
	putRuns(t, s, runs[:13]...)
	changed := runs[6]
	changed.Status, changed.Updated = "FAILURE", r0.Add(sec(1))
	putRuns(t, s, changed)
	runs[6] = changed
	want := sortRuns(runs)

	for _, limit := range []int{1, 7, 12, 25, 30} {
		q := store.RunQuery{Limit: limit}
		var got []store.RunRecord
		pages := 0
		for {
			p := runPage(t, s, q)
			pages++
			if len(p.Runs) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(p.Runs))
			}
			got = append(got, p.Runs...)
			if p.Next == "" {
				break
			}
			if len(p.Runs) != limit {
				t.Errorf("limit %d: page %d has %d runs and a next page", limit, pages, len(p.Runs))
			}
			last := p.Runs[len(p.Runs)-1]
			if c := store.EncodeCursor(store.Position{Time: last.Created, ID: last.ID}); p.Next != c {
				t.Errorf("limit %d: Next %q, want the cursor of %s (%q)", limit, p.Next, last.ID, c)
			}
			if pages > 30 {
				t.Fatalf("limit %d: pagination does not end", limit)
			}
			q.Cursor = p.Next
		}
		if runIDs(got) != runIDs(want) {
			t.Errorf("limit %d:\n got %s\nwant %s", limit, runIDs(got), runIDs(want))
		}
		if wantPages := (25 + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d (Next empty on the last page)", limit, pages, wantPages)
		}
		for i := range min(len(got), len(want)) {
			if utcRun(got[i]) != utcRun(want[i]) {
				t.Errorf("limit %d: run %d = %+v, want %+v", limit, i, got[i], want[i])
			}
		}
	}
	// The cursor format is shared: one made from a run's (Created, ID)
	// resumes strictly after that run.
	from := want[9]
	p := runPage(t, s, store.RunQuery{Limit: 3, Cursor: store.EncodeCursor(store.Position{Time: from.Created, ID: from.ID})})
	if got, w := runIDs(p.Runs), runIDs(want[10:13]); got != w {
		t.Errorf("after %s: %s, want %s", from.ID, got, w)
	}
}

func testRunFilters(t *testing.T, s store.RunStore) {
	mk := func(id string, minute int, status, trigger string) store.RunRecord {
		r := newRun(id, r0.Add(time.Duration(minute)*time.Minute), status, r0)
		r.Trigger = trigger
		return r
	}
	runs := []store.RunRecord{
		mk("f1", 0, "SUCCESS", "manual"),
		mk("f2", 1, "SUCCESS", "automation"), // becomes FAILURE below
		mk("f3", 2, "SUCCESS", "automation"),
		mk("f4", 3, "STARTED", "reexecute"),
		mk("f5", 4, "CANCELED", "manual"),
	}
	putRuns(t, s, runs...)
	f2 := runs[1]
	f2.Status, f2.Updated = "FAILURE", r0.Add(sec(1))
	putRuns(t, s, f2) // a filter must see the current state, not an old one
	putSteps(t, s,
		newStep("f1", "raw/a", 0, "SUCCESS", r0),
		newStep("f2", "raw/ab", 0, "SUCCESS", r0), // raw/a is a prefix of it, not it
		newStep("f2", "mart/x", 1, "FAILURE", r0),
		newStep("f3", "raw/a", 0, "SUCCESS", r0),
		newStep("f3", "mart/x", 1, "SUCCESS", r0),
		newStep("f5", "raw/a", 0, "QUEUED", r0),
		newStep("f5", "raw/a", 0, "CANCELED", r0.Add(sec(1))), // two versions, one run
		newStep("never-put", "raw/a", 0, "QUEUED", r0),        // no run record: not listed
	)
	at := func(minute int) time.Time { return r0.Add(time.Duration(minute) * time.Minute) }
	for _, c := range []struct {
		q    store.RunQuery
		want string
	}{
		{store.RunQuery{}, "f5 f4 f3 f2 f1"},
		{store.RunQuery{Statuses: []string{"SUCCESS"}}, "f3 f1"},
		{store.RunQuery{Statuses: []string{"SUCCESS", "CANCELED"}}, "f5 f3 f1"},
		{store.RunQuery{Statuses: []string{"FAILURE"}}, "f2"},
		{store.RunQuery{Statuses: []string{"NOPE"}}, ""},
		{store.RunQuery{Asset: "raw/a"}, "f5 f3 f1"},
		{store.RunQuery{Asset: "mart/x"}, "f3 f2"},
		{store.RunQuery{Asset: "raw"}, ""},
		{store.RunQuery{Trigger: "automation"}, "f3 f2"},
		{store.RunQuery{Trigger: "auto"}, ""},
		{store.RunQuery{Since: at(1)}, "f5 f4 f3 f2"},                      // inclusive
		{store.RunQuery{Since: at(1).Add(time.Nanosecond)}, "f5 f4 f3"},    // to the nanosecond
		{store.RunQuery{Until: at(3)}, "f3 f2 f1"},                         // exclusive
		{store.RunQuery{Until: at(3).Add(time.Nanosecond)}, "f4 f3 f2 f1"}, // to the nanosecond
		{store.RunQuery{Since: at(1), Until: at(3)}, "f3 f2"},              // both
		{store.RunQuery{Since: at(9)}, ""},                                 // after everything
		{store.RunQuery{Asset: "raw/a", Statuses: []string{"SUCCESS"}}, "f3 f1"},
		{store.RunQuery{Asset: "raw/a", Statuses: []string{"SUCCESS"}, Trigger: "automation"}, "f3"},
		{store.RunQuery{Asset: "mart/x", Since: at(2)}, "f3"},
		{store.RunQuery{Statuses: []string{"SUCCESS", "FAILURE", "STARTED"}, Until: at(4)}, "f4 f3 f2 f1"},
	} {
		// Each filter through pages of one and two, and in one page.
		for _, limit := range []int{1, 2, 0} {
			q := c.q
			q.Limit = limit
			if got := runIDs(allRuns(t, s, q)); got != c.want {
				t.Errorf("Runs(%+v) = %q, want %q", q, got, c.want)
			}
		}
	}
	got := runPage(t, s, store.RunQuery{Statuses: []string{"FAILURE"}}).Runs
	if len(got) == 1 {
		sameRun(t, "filtered f2", got[0], f2)
	}
}

func testRunLimitCap(t *testing.T, s store.RunStore) {
	const n = store.MaxLimit + 5
	runs := make([]store.RunRecord, n)
	for i := range runs {
		runs[i] = newRun(fmt.Sprintf("lc-%04d", i), r0.Add(time.Duration(i)*time.Second), "SUCCESS", r0)
	}
	putRuns(t, s, runs...)
	for _, c := range []struct {
		limit, want int
		first       string
	}{
		{0, store.DefaultLimit, "lc-1004"},
		{-1, store.DefaultLimit, "lc-1004"},
		{3, 3, "lc-1004"},
		{store.MaxLimit * 5, store.MaxLimit, "lc-1004"},
	} {
		p := runPage(t, s, store.RunQuery{Limit: c.limit})
		if len(p.Runs) != c.want || p.Next == "" {
			t.Errorf("limit %d: %d runs, next %q; want %d and a next page", c.limit, len(p.Runs), p.Next, c.want)
		}
		if len(p.Runs) > 0 && p.Runs[0].ID != c.first {
			t.Errorf("limit %d: first run %s, want %s", c.limit, p.Runs[0].ID, c.first)
		}
	}
	if got := allRuns(t, s, store.RunQuery{Limit: store.MaxLimit}); len(got) != n || got[n-1].ID != "lc-0000" {
		t.Errorf("paging at the cap: %d runs, want %d ending with lc-0000", len(got), n)
	}
}

func testRunBadCursor(t *testing.T, s store.RunStore) {
	putRuns(t, s, newRun("bc", r0, "QUEUED", r0))
	for _, c := range []string{"!!!", "bm90IGEgY3Vyc29y", "MTIz"} { // not base64; "not a cursor"; "123" without an id
		if _, err := s.Runs(context.Background(), store.RunQuery{Cursor: c}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("Runs with cursor %q: err = %v, want ErrBadCursor", c, err)
		}
	}
}

func logLine(run string, seq uint64) store.RunLogLine {
	return store.RunLogLine{
		RunID: run, Seq: seq, Asset: "warehouse/orders", Attempt: 1, Stream: "stdout",
		Time: r0.Add(time.Duration(seq) * time.Millisecond), Text: fmt.Sprintf("%s line %d", run, seq),
	}
}

func testRunLogs(t *testing.T, s store.RunStore) {
	tokyo := time.FixedZone("JST", 9*3600)
	lines := []store.RunLogLine{
		logLine("L1", 1),
		{RunID: "L1", Seq: 2, Asset: "warehouse/заказы", Attempt: 2, Stream: "stderr",
			Time: r0.Add(sec(1) + 123456789*time.Nanosecond).In(tokyo),
			Text: "ünïcode ✓\ttab \"quoted\" back\\slash"},
		{RunID: "L1", Seq: 3, Asset: "warehouse/заказы", Attempt: 2, Stream: "pipes", Time: r0.Add(sec(2)),
			Text: `{"dagster_event":"STEP_SUCCESS"}`},
		{RunID: "L1", Seq: 4, Stream: "stdout", Time: r0.Add(sec(3)), Text: ""}, // an empty line
		{RunID: "L1", Seq: 5, Asset: "warehouse/orders", Attempt: 2, Stream: "stderr", Time: r0.Add(sec(4)),
			Text: "output truncated", Truncated: true},
	}
	// Out of order, with re-appends (2 and 3 twice, 3 twice in one call).
	appendLogs(t, s, lines[2], lines[0], lines[1])
	appendLogs(t, s, lines[4], lines[3], lines[1], lines[2], lines[2])
	// L10 starts with L1: its lines are not L1's.
	appendLogs(t, s, logLine("L10", 1), logLine("L10", 6))

	got := runLogs(t, s, store.RunLogQuery{RunID: "L1"})
	if logSeqs(got) != "1 2 3 4 5" {
		t.Fatalf("L1 lines = %q, want 1 2 3 4 5 once each", logSeqs(got))
	}
	for i := range got {
		if utcLine(got[i]) != utcLine(lines[i]) {
			t.Errorf("line %d round trip:\n got %+v\nwant %+v", i+1, got[i], lines[i])
		}
	}
	for _, c := range []struct {
		q    store.RunLogQuery
		want string
	}{
		{store.RunLogQuery{RunID: "L1", AfterSeq: 2}, "3 4 5"},
		{store.RunLogQuery{RunID: "L1", AfterSeq: 5}, ""},
		{store.RunLogQuery{RunID: "L1", AfterSeq: 99}, ""},
		{store.RunLogQuery{RunID: "L1", Limit: 2}, "1 2"},
		{store.RunLogQuery{RunID: "L1", AfterSeq: 1, Limit: 2}, "2 3"},
		{store.RunLogQuery{RunID: "L1", AfterSeq: 4, Limit: 2}, "5"},
		{store.RunLogQuery{RunID: "L10"}, "1 6"},
		{store.RunLogQuery{RunID: "L10", AfterSeq: 1}, "6"},
		{store.RunLogQuery{RunID: "L"}, ""},
		{store.RunLogQuery{RunID: "unknown"}, ""},
	} {
		if got := logSeqs(runLogs(t, s, c.q)); got != c.want {
			t.Errorf("RunLogs(%+v) = %q, want %q", c.q, got, c.want)
		}
	}
}

func testRunLogLimits(t *testing.T, s store.RunStore) {
	const n = store.MaxLogLimit + 50
	lines := make([]store.RunLogLine, n)
	for i := range lines {
		lines[i] = logLine("big", uint64(n-i)) // newest first
	}
	appendLogs(t, s, lines[:n/2]...)
	appendLogs(t, s, lines[n/2:]...)
	seqsFrom := func(got []store.RunLogLine, first uint64) bool {
		for i, l := range got {
			if l.Seq != first+uint64(i) {
				return false
			}
		}
		return true
	}
	for _, c := range []struct {
		q     store.RunLogQuery
		n     int
		first uint64
	}{
		{store.RunLogQuery{RunID: "big"}, store.DefaultLimit, 1},
		{store.RunLogQuery{RunID: "big", Limit: -5}, store.DefaultLimit, 1},
		{store.RunLogQuery{RunID: "big", Limit: store.MaxLogLimit * 3}, store.MaxLogLimit, 1},
		{store.RunLogQuery{RunID: "big", AfterSeq: store.MaxLogLimit}, 50, store.MaxLogLimit + 1},
		{store.RunLogQuery{RunID: "big", AfterSeq: 7, Limit: 3}, 3, 8},
	} {
		got := runLogs(t, s, c.q)
		if len(got) != c.n || !seqsFrom(got, c.first) {
			first := uint64(0)
			if len(got) > 0 {
				first = got[0].Seq
			}
			t.Errorf("RunLogs(%+v): %d lines from %d, want %d consecutive from %d", c.q, len(got), first, c.n, c.first)
		}
	}
}

func testRunIncomplete(t *testing.T, s store.RunStore) {
	ctx := context.Background()
	ok := newRun("ok", r0, "QUEUED", r0)
	for _, bad := range []store.RunRecord{newRun("", r0, "QUEUED", r0), newRun("a\x00b", r0, "QUEUED", r0), newRun("a\nb", r0, "QUEUED", r0)} {
		if err := s.PutRuns(ctx, []store.RunRecord{ok, bad}); err == nil {
			t.Errorf("PutRuns with run id %q succeeded", bad.ID)
		}
	}
	okStep := newStep("ok", "raw/a", 0, "QUEUED", r0)
	for _, bad := range []store.StepRecord{newStep("", "raw/a", 0, "QUEUED", r0), newStep("ok", "", 1, "QUEUED", r0)} {
		if err := s.PutSteps(ctx, []store.StepRecord{okStep, bad}); err == nil {
			t.Errorf("PutSteps with %+v succeeded", bad)
		}
	}
	for _, bad := range []store.RunLogLine{logLine("", 1), logLine("ok", 0)} {
		if err := s.AppendRunLogs(ctx, []store.RunLogLine{logLine("ok", 1), bad}); err == nil {
			t.Errorf("AppendRunLogs with %+v succeeded", bad)
		}
	}
	// A rejected batch stores nothing, not even its valid records.
	if _, _, err := s.Run(ctx, "ok"); !errors.Is(err, store.ErrRunNotFound) {
		t.Errorf("Run(ok) after rejected batches: err = %v, want ErrRunNotFound", err)
	}
	putRuns(t, s, ok)
	if _, steps := getRun(t, s, "ok"); len(steps) != 0 {
		t.Errorf("steps of a rejected batch were stored: %+v", steps)
	}
	if got := runLogs(t, s, store.RunLogQuery{RunID: "ok"}); len(got) != 0 {
		t.Errorf("lines of a rejected batch were stored: %+v", got)
	}
	if got := runIDs(runPage(t, s, store.RunQuery{}).Runs); got != "ok" {
		t.Errorf("Runs = %q, want only ok", got)
	}
}

// testRunConcurrent has writers put their own runs, versions of one shared
// run and its steps, and overlapping log lines, all at once. Whatever the
// interleaving, the newest versions remain and every line is there once.
func testRunConcurrent(t *testing.T, s store.RunStore) {
	const writers, perWriter, steps = 6, 10, 3
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				v := w*perWriter + i // versions interleave across writers
				status := fmt.Sprintf("w%d-%d", w, i)
				own := newRun(fmt.Sprintf("c%d-%02d", w, i), r0.Add(time.Duration(v)*time.Second), "SUCCESS", r0)
				shared := newRun("shared", r0.Add(-time.Hour), status, r0.Add(sec(v)))
				if err := s.PutRuns(ctx, []store.RunRecord{own, shared}); err != nil {
					t.Errorf("writer %d: PutRuns: %v", w, err)
					return
				}
				st := newStep("shared", asset.Key(fmt.Sprintf("a/%d", i%steps)), i%steps, status, r0.Add(sec(v)))
				if err := s.PutSteps(ctx, []store.StepRecord{st}); err != nil {
					t.Errorf("writer %d: PutSteps: %v", w, err)
					return
				}
				// Writer w appends seqs 5w+1..5w+10: half of them its
				// neighbour appends too, identical.
				seq := uint64(w*5 + i + 1)
				if err := s.AppendRunLogs(ctx, []store.RunLogLine{logLine("shared", seq)}); err != nil {
					t.Errorf("writer %d: AppendRunLogs: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := allRuns(t, s, store.RunQuery{Limit: 7})
	if len(got) != writers*perWriter+1 {
		t.Errorf("Runs lists %d runs, want %d", len(got), writers*perWriter+1)
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.ID] {
			t.Errorf("run %s listed twice", r.ID)
		}
		seen[r.ID] = true
	}
	if got[len(got)-1].ID != "shared" {
		t.Errorf("oldest run is %s, want shared", got[len(got)-1].ID)
	}
	r, st := getRun(t, s, "shared")
	last := fmt.Sprintf("w%d-%d", writers-1, perWriter-1)
	if r.Status != last {
		t.Errorf("shared run is %s, want the newest version %s", r.Status, last)
	}
	// Step a/k was last written by the last writer's last i with i%3 == k.
	want := []string{"w5-9", "w5-7", "w5-8"}
	if len(st) != steps {
		t.Fatalf("shared run has %d steps, want %d: %s", len(st), steps, stepAssets(st))
	}
	for k := range st {
		if st[k].Asset != asset.Key(fmt.Sprintf("a/%d", k)) || st[k].Status != want[k] {
			t.Errorf("step %d is %s %s, want a/%d %s", k, st[k].Asset, st[k].Status, k, want[k])
		}
	}
	lines := runLogs(t, s, store.RunLogQuery{RunID: "shared"})
	if n := (writers-1)*5 + perWriter; len(lines) != n {
		t.Errorf("%d log lines, want %d once each: %s", len(lines), n, logSeqs(lines))
	}
	for i, l := range lines {
		if l.Seq != uint64(i+1) || l.Text != fmt.Sprintf("shared line %d", i+1) {
			t.Errorf("line %d is %d %q", i, l.Seq, l.Text)
			break
		}
	}
}
