// Package storetest is the conformance suite every store.Store must pass.
// A store package calls Run from its tests with a function that opens a
// fresh, empty store; each subtest gets its own.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// Opener returns a new empty store; the suite closes it.
type Opener func(t *testing.T) store.Store

// Run runs the suite. Subtests run in parallel, each on its own store.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Idempotence", testIdempotence},
		{"OrderAndTies", testOrder},
		{"Pagination", testPagination},
		{"Filters", testFilters},
		{"LimitCap", testLimitCap},
		{"BadCursor", testBadCursor},
		{"Summaries", testSummaries},
		{"ObservedEdges", testEdges},
		{"RecentSuccesses", testRecent},
		{"Specs", testSpecs},
		{"ConcurrentWriters", testConcurrent},
		{"LargeMetadata", testLargeMetadata},
		{"UnicodeKeys", testUnicode},
		{"IncompleteEvent", testIncomplete},
		{"FirstCopyWins", testFirstCopyWins},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

func ev(id string, kind asset.Kind, a asset.Key, at time.Time) asset.Event {
	return asset.Event{ID: id, Kind: kind, Asset: a, Time: at}
}

func mat(id string, a asset.Key, at time.Time) asset.Event {
	return ev(id, asset.KindMaterialization, a, at)
}

func check(id string, a asset.Key, at time.Time, name string, passed bool) asset.Event {
	e := ev(id, asset.KindCheckResult, a, at)
	e.Check = &asset.CheckResult{Name: name, Passed: passed, Severity: asset.SeverityError}
	return e
}

// appendOK appends events and returns the ids the store says it added.
func appendOK(t *testing.T, s store.Store, events ...asset.Event) string {
	t.Helper()
	added, err := s.AppendEvents(context.Background(), events)
	if err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
	return ids(added)
}

func page(t *testing.T, s store.Store, q store.EventQuery) store.EventPage {
	t.Helper()
	p, err := s.Events(context.Background(), q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return p
}

// all pages through q and returns every event.
func all(t *testing.T, s store.Store, q store.EventQuery) []asset.Event {
	t.Helper()
	var out []asset.Event
	for i := 0; ; i++ {
		p := page(t, s, q)
		out = append(out, p.Events...)
		if p.Next == "" {
			return out
		}
		if i > 10000 {
			t.Fatal("pagination does not end")
		}
		q.Cursor = p.Next
	}
}

func ids(events []asset.Event) string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return strings.Join(out, " ")
}

// canon is an event's JSON in UTC: equal canon means equal events.
func canon(t *testing.T, e asset.Event) string {
	t.Helper()
	e.Time = e.Time.UTC()
	if e.DataTime != nil {
		dt := e.DataTime.UTC()
		e.DataTime = &dt
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testRoundTrip(t *testing.T, s store.Store) {
	paris, _ := time.LoadLocation("Europe/Paris")
	if paris == nil {
		paris = time.FixedZone("CET", 3600)
	}
	dt := t0.Add(-time.Hour).In(paris)
	full := asset.Event{
		ID: "full-1", Kind: asset.KindMaterialization, Asset: "warehouse/orders",
		Time:  t0.Add(123456789 * time.Nanosecond).In(paris), // nanoseconds and a zone
		RunID: "run-42", Partition: "2026-11-19", DataTime: &dt,
		Upstream: []asset.Key{"raw/orders", "raw/customers"},
		Metadata: asset.Metadata{
			"row_count": asset.Int(1200), "ratio": asset.Float(0.25), "whole": asset.Float(3),
			"uri": asset.URL("s3://lake/orders"), "note": asset.Text("ok"), "ok": asset.Bool(true),
			"schema": asset.JSONValue(`{"columns":[{"name":"id","type":"int"}]}`),
		},
	}
	c := check("chk-1", "warehouse/orders", t0.Add(time.Minute), "unique_id", false)
	c.Check.Severity = asset.SeverityWarn
	appendOK(t, s, full, c)
	got := all(t, s, store.EventQuery{Asset: "warehouse/orders", Ascending: true})
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2", len(got))
	}
	for i, want := range []asset.Event{full, c} {
		if g, w := canon(t, got[i]), canon(t, want); g != w {
			t.Errorf("event %d round trip:\n got %s\nwant %s", i, g, w)
		}
		if got[i].Time.Location() != time.UTC {
			t.Errorf("event %d time is not UTC: %v", i, got[i].Time.Location())
		}
	}
	if got[0].Metadata["whole"].Type != asset.MetaFloat {
		t.Errorf("float 3.0 came back as %v", got[0].Metadata["whole"].Type)
	}
}

func testIdempotence(t *testing.T, s store.Store) {
	a := mat("dup-a", "raw/orders", t0)
	b := mat("dup-b", "raw/orders", t0.Add(time.Second))
	for _, c := range []struct {
		batch []asset.Event
		added string
	}{
		{[]asset.Event{a, a, b}, "dup-a dup-b"}, // repeated within a batch
		{[]asset.Event{b, a}, ""},               // replayed in a later batch
		{[]asset.Event{a}, ""},                  // and again alone
	} {
		if got := appendOK(t, s, c.batch...); got != c.added {
			t.Errorf("AppendEvents(%s) added %q, want %q", ids(c.batch), got, c.added)
		}
	}
	got := all(t, s, store.EventQuery{Asset: "raw/orders", Ascending: true})
	if ids(got) != "dup-a dup-b" {
		t.Errorf("by asset = %q, want each id once", ids(got))
	}
	if g := all(t, s, store.EventQuery{}); len(g) != 2 {
		t.Errorf("global history has %d events, want 2: %s", len(g), ids(g))
	}
	sums, err := s.Summaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].Counts[asset.KindMaterialization] != 2 {
		t.Errorf("summaries count duplicates: %+v", sums)
	}
}

func testOrder(t *testing.T, s store.Store) {
	// Inserted out of order, with equal times broken by id.
	appendOK(t, s,
		mat("c", "x", t0.Add(2*time.Second)),
		mat("b2", "x", t0.Add(time.Second)),
		mat("a", "x", t0),
		mat("b1", "x", t0.Add(time.Second)),
	)
	appendOK(t, s, mat("0-early", "x", t0.Add(-time.Hour)))
	if got := ids(all(t, s, store.EventQuery{Asset: "x"})); got != "c b2 b1 a 0-early" {
		t.Errorf("newest first = %q", got)
	}
	if got := ids(all(t, s, store.EventQuery{Asset: "x", Ascending: true})); got != "0-early a b1 b2 c" {
		t.Errorf("ascending = %q", got)
	}
}

func testPagination(t *testing.T, s store.Store) {
	var batch []asset.Event
	for i := 0; i < 25; i++ {
		// Pairs of events share a time so pages must break ties by id.
		batch = append(batch, mat(fmt.Sprintf("p%02d", i), "raw/orders", t0.Add(time.Duration(i/2)*time.Minute)))
	}
	batch = append(batch, mat("other", "raw/other", t0))
	appendOK(t, s, batch...)
	for _, asc := range []bool{true, false} {
		for _, limit := range []int{1, 7, 12, 25, 30} {
			q := store.EventQuery{Asset: "raw/orders", Limit: limit, Ascending: asc}
			var got []asset.Event
			pages := 0
			for {
				p := page(t, s, q)
				pages++
				if len(p.Events) > limit {
					t.Fatalf("page of %d > limit %d", len(p.Events), limit)
				}
				got = append(got, p.Events...)
				if p.Next == "" {
					break
				}
				q.Cursor = p.Next
			}
			want := make([]string, 25)
			for i := range want {
				want[i] = fmt.Sprintf("p%02d", i)
			}
			if !asc {
				slices.Reverse(want)
			}
			if ids(got) != strings.Join(want, " ") {
				t.Errorf("asc=%v limit=%d: %s", asc, limit, ids(got))
			}
			if wantPages := (25 + limit - 1) / limit; pages != wantPages && pages != wantPages+1 {
				t.Errorf("asc=%v limit=%d: %d pages", asc, limit, pages)
			}
		}
	}
}

func testFilters(t *testing.T, s store.Store) {
	appendOK(t, s,
		mat("m1", "a", t0),
		ev("f1", asset.KindMaterializationFailed, "a", t0.Add(time.Minute)),
		ev("o1", asset.KindObservation, "a", t0.Add(2*time.Minute)),
		check("c1", "a", t0.Add(3*time.Minute), "n", true),
		mat("m2", "a", t0.Add(4*time.Minute)),
		mat("m3", "b", t0.Add(5*time.Minute)),
	)
	tests := []struct {
		name string
		q    store.EventQuery
		want string
	}{
		{"kind", store.EventQuery{Asset: "a", Kinds: []asset.Kind{asset.KindMaterialization}}, "m2 m1"},
		{"two kinds", store.EventQuery{Asset: "a", Kinds: []asset.Kind{asset.KindObservation, asset.KindCheckResult}}, "c1 o1"},
		{"since inclusive", store.EventQuery{Asset: "a", Since: t0.Add(3 * time.Minute)}, "m2 c1"},
		{"until exclusive", store.EventQuery{Asset: "a", Until: t0.Add(2 * time.Minute)}, "f1 m1"},
		{"window asc", store.EventQuery{Asset: "a", Since: t0.Add(time.Minute), Until: t0.Add(4 * time.Minute), Ascending: true}, "f1 o1 c1"},
		{"all assets", store.EventQuery{Kinds: []asset.Kind{asset.KindMaterialization}}, "m3 m2 m1"},
		{"all assets window", store.EventQuery{Since: t0.Add(4 * time.Minute)}, "m3 m2"},
		{"unknown asset", store.EventQuery{Asset: "zzz"}, ""},
		{"empty window", store.EventQuery{Asset: "a", Since: t0.Add(time.Hour)}, ""},
		{"kind and page", store.EventQuery{Asset: "a", Kinds: []asset.Kind{asset.KindMaterialization}, Limit: 1}, "m2 m1"},
	}
	for _, tt := range tests {
		if got := ids(all(t, s, tt.q)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	if p := page(t, s, store.EventQuery{Asset: "zzz"}); len(p.Events) != 0 || p.Next != "" {
		t.Errorf("unknown asset page = %+v", p)
	}
}

func testLimitCap(t *testing.T, s store.Store) {
	var batch []asset.Event
	for i := 0; i < store.MaxLimit+5; i++ {
		batch = append(batch, mat(fmt.Sprintf("l%05d", i), "big", t0.Add(time.Duration(i)*time.Second)))
	}
	appendOK(t, s, batch...)
	if p := page(t, s, store.EventQuery{Asset: "big"}); len(p.Events) != store.DefaultLimit || p.Next == "" {
		t.Errorf("default page has %d events (next %q), want %d", len(p.Events), p.Next, store.DefaultLimit)
	}
	if p := page(t, s, store.EventQuery{Asset: "big", Limit: 5000}); len(p.Events) != store.MaxLimit || p.Next == "" {
		t.Errorf("capped page has %d events, want %d", len(p.Events), store.MaxLimit)
	}
	if got := all(t, s, store.EventQuery{Asset: "big", Limit: store.MaxLimit}); len(got) != store.MaxLimit+5 {
		t.Errorf("all pages hold %d events", len(got))
	}
}

func testBadCursor(t *testing.T, s store.Store) {
	for _, c := range []string{"!!!", "bm90LWEtY3Vyc29y", store.EncodeCursor(store.Position{Time: t0})[:4]} {
		if _, err := s.Events(context.Background(), store.EventQuery{Cursor: c}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("cursor %q: err = %v, want ErrBadCursor", c, err)
		}
	}
}

func testSummaries(t *testing.T, s store.Store) {
	appendOK(t, s,
		mat("m1", "a", t0),
		mat("m3", "a", t0.Add(time.Hour)),
		mat("m2", "a", t0.Add(time.Hour)), // same time as m3: m3 wins by id
		ev("f1", asset.KindMaterializationFailed, "a", t0.Add(2*time.Hour)),
		ev("o1", asset.KindObservation, "a", t0.Add(-time.Hour)),
		check("c1", "a", t0, "unique", true),
		check("c2", "a", t0.Add(time.Minute), "unique", false),
		check("c3", "a", t0, "not_null", true),
	)
	appendOK(t, s, mat("m0", "a", t0.Add(-2*time.Hour)), ev("o2", asset.KindObservation, "b", t0),
		ev("fc1", asset.KindFreshnessChanged, "a", t0.Add(time.Minute)),
		ev("fc2", asset.KindFreshnessChanged, "a", t0.Add(2*time.Minute)),
		ev("pc1", asset.KindPolicyChanged, "a", t0))
	sums, err := s.Summaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 {
		t.Fatalf("got %d summaries, want 2", len(sums))
	}
	slices.SortFunc(sums, func(x, y store.Summary) int { return strings.Compare(string(x.Asset), string(y.Asset)) })
	a := sums[0]
	if a.Asset != "a" || a.LastMaterialization == nil || a.LastMaterialization.ID != "m3" {
		t.Errorf("last materialization = %+v", a.LastMaterialization)
	}
	if a.LastFailure == nil || a.LastFailure.ID != "f1" || a.LastObservation == nil || a.LastObservation.ID != "o1" {
		t.Errorf("last failure/observation = %+v / %+v", a.LastFailure, a.LastObservation)
	}
	if a.LastFreshness == nil || a.LastFreshness.ID != "fc2" || a.LastPolicyChange == nil || a.LastPolicyChange.ID != "pc1" {
		t.Errorf("last freshness / policy change = %+v / %+v", a.LastFreshness, a.LastPolicyChange)
	}
	if got := ids(a.LastChecks); got != "c3 c2" {
		t.Errorf("last checks = %q, want latest per name sorted by name (not_null, unique)", got)
	}
	wantCounts := map[asset.Kind]int64{asset.KindMaterialization: 4, asset.KindMaterializationFailed: 1,
		asset.KindObservation: 1, asset.KindCheckResult: 3}
	for k, n := range wantCounts {
		if a.Counts[k] != n {
			t.Errorf("count %s = %d, want %d", k, a.Counts[k], n)
		}
	}
	if a.Counts[asset.KindFreshnessChanged] != 2 {
		t.Errorf("freshness_changed count = %d", a.Counts[asset.KindFreshnessChanged])
	}
	if !a.FirstTime.Equal(t0.Add(-2*time.Hour)) || !a.LastTime.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("first/last = %v / %v", a.FirstTime, a.LastTime)
	}
	b := sums[1]
	if b.Asset != "b" || b.LastMaterialization != nil || b.LastObservation == nil || b.Counts[asset.KindObservation] != 1 {
		t.Errorf("summary b = %+v", b)
	}
}

func testEdges(t *testing.T, s store.Store) {
	e1 := mat("e1", "staging/orders", t0)
	e1.Upstream = []asset.Key{"raw/orders", "raw/customers"}
	e2 := mat("e2", "staging/orders", t0.Add(time.Hour))
	e2.Upstream = []asset.Key{"raw/orders"}
	e3 := mat("e3", "marts/revenue", t0)
	e3.Upstream = []asset.Key{"staging/orders"}
	appendOK(t, s, e1, e2)
	appendOK(t, s, e3, e1)
	edges, err := s.ObservedEdges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range edges {
		got = append(got, string(e.Upstream)+">"+string(e.Downstream))
	}
	slices.Sort(got)
	if want := "raw/customers>staging/orders raw/orders>staging/orders staging/orders>marts/revenue"; strings.Join(got, " ") != want {
		t.Errorf("edges = %v, want %s", got, want)
	}
}

func testSpecs(t *testing.T, s store.Store) {
	ctx := context.Background()
	if specs, err := s.Specs(ctx); err != nil || len(specs) != 0 {
		t.Fatalf("empty store specs = %v, %v", specs, err)
	}
	full := asset.Spec{Key: "marts/revenue", Description: "Revenue", Group: "marts", Owners: []string{"team:fin"},
		Tags: []string{"tier=gold"}, Kinds: []string{"dbt"}, Deps: []asset.Key{"staging/orders"}, CodeVersion: "v3",
		Partitions: &asset.PartitionsSpec{Type: "daily", Start: t0},
		Freshness:  &asset.FreshnessPolicy{Cron: "0 7 * * *", Timezone: "Europe/Paris", MaxLag: 8 * time.Hour},
		Checks:     []asset.CheckSpec{{Name: "reconciles", Severity: asset.SeverityError}},
		Materialize: &asset.MaterializeSpec{Argv: []string{"dbt", "build"}, Env: map[string]string{"A": "b"},
			Timeout: time.Minute, Retries: 2, Pool: "warehouse"},
		Origin: asset.OriginAPI}
	if err := s.PutSpecs(ctx, []asset.Spec{{Key: "z/last", Origin: asset.OriginDiscovered}, full, {Key: "a/first", Origin: asset.OriginAPI}}); err != nil {
		t.Fatal(err)
	}
	// Replacing a spec keeps one copy with the new content.
	replaced := asset.Spec{Key: "z/last", Description: "now described", Origin: asset.OriginAPI}
	if err := s.PutSpecs(ctx, []asset.Spec{replaced}); err != nil {
		t.Fatal(err)
	}
	specs, err := s.Specs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, sp := range specs {
		keys = append(keys, string(sp.Key))
	}
	if strings.Join(keys, " ") != "a/first marts/revenue z/last" {
		t.Fatalf("spec keys = %v, want sorted, each once", keys)
	}
	if g, w := mustJSON(t, specs[1]), mustJSON(t, full); g != w {
		t.Errorf("spec round trip:\n got %s\nwant %s", g, w)
	}
	if specs[2].Description != "now described" {
		t.Errorf("replaced spec = %+v", specs[2])
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testConcurrent(t *testing.T, s store.Store) {
	const writers, batches, per = 6, 5, 40
	var (
		wg         sync.WaitGroup
		addedTotal atomic.Int64 // what the writers were told they added
	)
	errs := make(chan error, writers*batches)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				var batch []asset.Event
				for i := 0; i < per; i++ {
					// Writers overlap: writer w and w+1 share half their ids.
					n := (w/2)*batches*per + b*per + i
					batch = append(batch, mat(fmt.Sprintf("w%06d", n), asset.Key(fmt.Sprintf("c/%d", n%7)), t0.Add(time.Duration(n)*time.Second)))
				}
				added, err := s.AppendEvents(context.Background(), batch)
				if err != nil {
					errs <- err
				}
				addedTotal.Add(int64(len(added)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent append: %v", err)
	}
	got := all(t, s, store.EventQuery{Limit: store.MaxLimit, Ascending: true})
	want := (writers / 2) * batches * per
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.ID] {
			t.Fatalf("id %s stored twice", e.ID)
		}
		seen[e.ID] = true
	}
	if len(got) != want {
		t.Errorf("stored %d distinct events, want %d", len(got), want)
	}
	if n := addedTotal.Load(); n != int64(want) {
		t.Errorf("writers were told %d events were added, want %d", n, want)
	}
	sums, err := s.Summaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sum := range sums {
		total += sum.Counts[asset.KindMaterialization]
	}
	if total != int64(want) {
		t.Errorf("summary counts add up to %d, want %d", total, want)
	}
}

func testLargeMetadata(t *testing.T, s store.Store) {
	e := mat("big-meta", "lake/huge", t0)
	e.Metadata = asset.Metadata{}
	for i := 0; i < 1000; i++ {
		e.Metadata[fmt.Sprintf("col_%04d", i)] = asset.Int(int64(i))
	}
	e.Metadata["blob"] = asset.Text(strings.Repeat("ø", 512<<10)) // 1 MiB of UTF-8
	appendOK(t, s, e)
	got := all(t, s, store.EventQuery{Asset: "lake/huge"})
	if len(got) != 1 || canon(t, got[0]) != canon(t, e) {
		t.Fatalf("large metadata did not round-trip (%d events)", len(got))
	}
}

func testUnicode(t *testing.T, s store.Store) {
	keys := []asset.Key{"ext/ünïcode/表", "ext/emoji/🚀", "ext/ünïcode/表x", `ext/quote"and'tick`, "ext/a b"}
	var batch []asset.Event
	for i, k := range keys {
		e := mat(fmt.Sprintf("u%d", i), k, t0.Add(time.Duration(i)*time.Minute))
		if i > 0 {
			e.Upstream = []asset.Key{keys[0]}
		}
		batch = append(batch, e)
	}
	appendOK(t, s, batch...)
	for i, k := range keys {
		got := all(t, s, store.EventQuery{Asset: k})
		if len(got) != 1 || got[0].Asset != k || got[0].ID != fmt.Sprintf("u%d", i) {
			t.Errorf("asset %q: got %s", k, ids(got))
		}
	}
	sums, err := s.Summaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != len(keys) {
		t.Errorf("%d summaries, want %d", len(sums), len(keys))
	}
	edges, err := s.ObservedEdges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != len(keys)-1 {
		t.Errorf("%d edges, want %d", len(edges), len(keys)-1)
	}
	for _, e := range edges {
		if e.Upstream != keys[0] || !slices.Contains(keys, e.Downstream) {
			t.Errorf("edge %+v garbled", e)
		}
	}
}

func testIncomplete(t *testing.T, s store.Store) {
	for _, e := range []asset.Event{
		{Kind: asset.KindMaterialization, Asset: "a", Time: t0},
		{ID: "x", Asset: "a", Time: t0},
		{ID: "x", Kind: asset.KindMaterialization, Time: t0},
		{ID: "x", Kind: asset.KindMaterialization, Asset: "a"},
	} {
		if _, err := s.AppendEvents(context.Background(), []asset.Event{e}); err == nil {
			t.Errorf("incomplete event %+v was accepted", e)
		}
	}
	if got := all(t, s, store.EventQuery{}); len(got) != 0 {
		t.Errorf("incomplete events stored: %s", ids(got))
	}
}

func testRecent(t *testing.T, s store.Store) {
	var batch []asset.Event
	for i := 0; i < 6; i++ {
		batch = append(batch, mat(fmt.Sprintf("ra%d", i), "a", t0.Add(time.Duration(i)*time.Hour)))
	}
	batch = append(batch,
		ev("rf", asset.KindMaterializationFailed, "a", t0.Add(10*time.Hour)), // not a success
		check("rc", "a", t0.Add(11*time.Hour), "n", true),                    // nor a check
		ev("rb0", asset.KindObservation, "b", t0),
		mat("rb1", "b", t0.Add(time.Minute)),
		ev("rx", asset.KindMaterializationFailed, "x", t0)) // only a failure: absent
	appendOK(t, s, batch...)
	appendOK(t, s, batch[4], batch[5]) // replays must not count twice
	got, err := s.RecentSuccesses(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	byAsset := map[asset.Key][]string{}
	for _, e := range got {
		byAsset[e.Asset] = append(byAsset[e.Asset], e.ID)
	}
	if g := strings.Join(byAsset["a"], " "); g != "ra5 ra4 ra3" {
		t.Errorf("a = %q, want its 3 latest materializations newest first", g)
	}
	if g := strings.Join(byAsset["b"], " "); g != "rb1 rb0" {
		t.Errorf("b = %q, want materialization and observation", g)
	}
	if len(byAsset) != 2 {
		t.Errorf("assets = %v, want a and b only", byAsset)
	}
}

// testFirstCopyWins: copies of an id that differ (a client retry without a
// time is stamped anew at ingest; a buggy producer reuses an id) never
// replace the first stored copy, in any read.
func testFirstCopyWins(t *testing.T, s store.Store) {
	first := mat("same", "w/orders", t0)
	first.Metadata = asset.Metadata{"row_count": asset.Int(1)}
	retry := mat("same", "w/orders", t0.Add(time.Hour)) // later time, other metadata
	retry.Metadata = asset.Metadata{"row_count": asset.Int(2)}
	elsewhere := mat("same", "w/other", t0.Add(2*time.Hour)) // another asset, with lineage
	elsewhere.Upstream = []asset.Key{"w/orders"}
	inBatch := mat("pair", "w/orders", t0.Add(time.Minute))
	inBatch2 := inBatch
	inBatch2.Time = t0.Add(3 * time.Hour)

	if got := appendOK(t, s, first); got != "same" {
		t.Fatalf("first append added %q", got)
	}
	if got := appendOK(t, s, retry, inBatch, inBatch2, elsewhere); got != "pair" {
		t.Fatalf("second append added %q, want only pair", got)
	}
	want := []asset.Event{first, inBatch}
	for _, q := range []store.EventQuery{{Ascending: true}, {Asset: "w/orders", Ascending: true}} {
		got := all(t, s, q)
		if len(got) != len(want) {
			t.Fatalf("Events(%+v) = %s, want %s", q, ids(got), ids(want))
		}
		for i := range want {
			if canon(t, got[i]) != canon(t, want[i]) {
				t.Errorf("Events(%+v)[%d] = %s, want the first copy %s", q, i, canon(t, got[i]), canon(t, want[i]))
			}
		}
	}
	if got := all(t, s, store.EventQuery{Asset: "w/other"}); len(got) != 0 {
		t.Errorf("w/other has %s: a copy of a stored id was kept", ids(got))
	}
	sums, err := s.Summaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].Asset != "w/orders" || sums[0].Counts[asset.KindMaterialization] != 2 ||
		!sums[0].LastTime.Equal(t0.Add(time.Minute)) || sums[0].LastMaterialization.ID != "pair" {
		t.Errorf("summaries = %+v, want w/orders with the two first copies", sums)
	}
	edges, err := s.ObservedEdges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 0 {
		t.Errorf("edges = %v, want none (only an ignored copy had lineage)", edges)
	}
	recent, err := s.RecentSuccesses(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if ids(recent) != "pair same" || !recent[1].Time.Equal(t0) {
		t.Errorf("recent = %s, want pair then the first copy of same", ids(recent))
	}
}
