package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/store"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// openStore opens a store on a fresh database of the test server.
func openStore(t testing.TB) (*Store, string) {
	t.Helper()
	dsn := chtest.Server(t)
	st, err := Open(context.Background(), dsn, WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dsn
}

func ev(id string, kind asset.Kind, a string, sec int) asset.Event {
	return asset.Event{ID: id, Kind: kind, Asset: asset.Key(a), Time: time.Unix(int64(sec), 0).UTC()}
}

func TestOpenCreatesDatabaseAndMigratesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A database that does not exist yet: Open must create it.
	dsn := strings.Replace(chtest.Server(t), "/test_", "/fresh_", 1)
	st, err := Open(ctx, dsn, WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// chtest drops only the database it made; this one is ours.
		st, err := Open(ctx, dsn, WithLogger(quiet))
		if err != nil {
			t.Error(err)
			return
		}
		defer st.Close()
		if err := st.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+st.schema.db); err != nil {
			t.Error(err)
		}
	})
	if err := st.AppendEvents(ctx, []asset.Event{ev("a", asset.KindMaterialization, "x", 1)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for range 2 { // reopening applies nothing and keeps the data
		st, err = Open(ctx, dsn, WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := st.conn.QueryRow(ctx, "SELECT count() FROM "+st.schema.table("schema_migrations")).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != uint64(len(migrations())) {
			t.Fatalf("schema_migrations has %d rows, want %d", n, len(migrations()))
		}
		page, err := st.Events(ctx, store.EventQuery{})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("events after reopen: %v, %v", page.Events, err)
		}
		st.Close()
	}
}

func TestEventRoundTrip(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	want := sampleEvent()
	plain := ev("plain", asset.KindObservation, "raw/orders", 2_000_000_000)
	if err := st.AppendEvents(ctx, []asset.Event{want, plain}); err != nil {
		t.Fatal(err)
	}
	page, err := st.Events(ctx, store.EventQuery{Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 {
		t.Fatalf("got %d events", len(page.Events))
	}
	if !reflect.DeepEqual(page.Events[0], want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", page.Events[0], want)
	}
	if !reflect.DeepEqual(page.Events[1], plain) {
		t.Errorf("round trip:\n got %+v\nwant %+v", page.Events[1], plain)
	}
}

func TestAppendRejectsIncompleteEvents(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	bad := []asset.Event{
		{Kind: asset.KindMaterialization, Asset: "a", Time: time.Unix(1, 0)},
		{ID: "x", Asset: "a", Time: time.Unix(1, 0)},
		{ID: "x", Kind: asset.KindMaterialization, Time: time.Unix(1, 0)},
		{ID: "x", Kind: asset.KindMaterialization, Asset: "a"},
	}
	for i, e := range bad {
		if err := st.AppendEvents(context.Background(), []asset.Event{e}); err == nil {
			t.Errorf("event %d: no error", i)
		}
	}
}

// TestDuplicateIDsNeverShowTwice appends copies of events within a batch
// and across batches (no merge happens in between) and checks every read.
func TestDuplicateIDsNeverShowTwice(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	var batch []asset.Event
	for i := range 20 {
		e := ev(fmt.Sprintf("e%02d", i), asset.KindMaterialization, "a", 100+i/3) // ties in time
		e.Upstream = []asset.Key{"up"}
		batch = append(batch, e, e) // a copy within the batch
	}
	for range 3 { // and copies in later inserts
		if err := st.AppendEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var raw uint64
	if err := st.conn.QueryRow(ctx, "SELECT count() FROM "+st.schema.table("events")).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw != 60 {
		t.Fatalf("stored rows = %d, want 60 (3 inserts of 20 distinct)", raw)
	}
	for _, asc := range []bool{false, true} {
		for _, limit := range []int{1, 3, 7, 100} {
			ids := pageAll(t, st, store.EventQuery{Ascending: asc, Limit: limit})
			if len(ids) != 20 {
				t.Errorf("asc=%v limit=%d: %d events: %v", asc, limit, len(ids), ids)
			}
			if !slices.IsSortedFunc(ids, func(a, b string) int {
				if asc {
					return strings.Compare(a, b)
				}
				return strings.Compare(b, a)
			}) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
				t.Errorf("asc=%v limit=%d: bad order or duplicates: %v", asc, limit, ids)
			}
		}
	}
	sums, err := st.Summaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].Counts[asset.KindMaterialization] != 20 {
		t.Fatalf("summaries: %+v", sums)
	}
	edges, err := st.ObservedEdges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []asset.Edge{{Upstream: "up", Downstream: "a"}}; !reflect.DeepEqual(edges, want) {
		t.Fatalf("edges = %v, want %v", edges, want)
	}
}

// pageAll follows Next to the end and returns the IDs in order.
func pageAll(t *testing.T, st store.Store, q store.EventQuery) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		page, err := st.Events(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		if page.Next == "" {
			return ids
		}
		if len(page.Events) != q.EffectiveLimit() {
			t.Fatalf("page of %d events has a Next", len(page.Events))
		}
		q.Cursor = page.Next
	}
	t.Fatal("too many pages")
	return nil
}

// TestEventsMatchModel compares filtered, paged reads with a model of the
// semantics in store.go computed in Go.
func TestEventsMatchModel(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	kinds := []asset.Kind{asset.KindMaterialization, asset.KindObservation, asset.KindCheckResult}
	var all []asset.Event
	for i := range 300 {
		e := ev(fmt.Sprintf("id%03d", (i*37)%300), kinds[i%3], []string{"a", "a/b", "b"}[i%3*i%5%3], 1_700_000_000+i/4)
		e.Time = e.Time.Add(time.Duration(i%2) * time.Nanosecond)
		all = append(all, e)
	}
	if err := st.AppendEvents(ctx, all[:150]); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(ctx, all[100:]); err != nil { // 100..149 replayed
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	queries := []store.EventQuery{
		{},
		{Ascending: true, Limit: 13},
		{Asset: "a", Limit: 7},
		{Asset: "a/b", Ascending: true, Limit: 5},
		{Kinds: []asset.Kind{asset.KindObservation, asset.KindCheckResult}, Limit: 11},
		{Since: t0.Add(10 * time.Second), Until: t0.Add(40 * time.Second), Limit: 9},
		{Since: t0.Add(10*time.Second + 1), Until: t0.Add(40*time.Second + 1), Ascending: true, Limit: 4},
		{Asset: "b", Kinds: []asset.Kind{asset.KindMaterialization}, Since: t0.Add(5 * time.Second), Limit: 2},
		{Asset: "none"},
	}
	for i, q := range queries {
		got := pageAll(t, st, q)
		want := model(all, q)
		if !slices.Equal(got, want) {
			t.Errorf("query %d %+v:\n got %v\nwant %v", i, q, got, want)
		}
	}
}

func model(all []asset.Event, q store.EventQuery) []string {
	seen := map[string]bool{}
	var sel []asset.Event
	for _, e := range all {
		if seen[e.ID] || q.Asset != "" && e.Asset != q.Asset || len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.Kind) ||
			!q.Since.IsZero() && e.Time.Before(q.Since) || !q.Until.IsZero() && !e.Time.Before(q.Until) {
			seen[e.ID] = true
			continue
		}
		seen[e.ID] = true
		sel = append(sel, e)
	}
	slices.SortFunc(sel, func(a, b asset.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if !q.Ascending {
		slices.Reverse(sel)
	}
	ids := make([]string, len(sel))
	for i, e := range sel {
		ids[i] = e.ID
	}
	return ids
}

func TestBadCursor(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	for _, c := range []string{"!!", "bm9wZQ"} {
		if _, err := st.Events(context.Background(), store.EventQuery{Cursor: c}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("cursor %q: err = %v, want ErrBadCursor", c, err)
		}
	}
}

func TestSummaries(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	check := func(id, name string, sec int, passed bool) asset.Event {
		e := ev(id, asset.KindCheckResult, "a", sec)
		e.Check = &asset.CheckResult{Name: name, Passed: passed, Severity: asset.SeverityError}
		return e
	}
	m1 := ev("m1", asset.KindMaterialization, "a", 10)
	m1.Metadata = asset.Metadata{"row_count": asset.Int(5)}
	m2 := ev("m2", asset.KindMaterialization, "a", 20) // ties with m3 on time: greater ID wins
	m3 := ev("m3", asset.KindMaterialization, "a", 20)
	events := []asset.Event{
		m1, m3, m2,
		ev("f1", asset.KindMaterializationFailed, "a", 15),
		ev("o1", asset.KindObservation, "a", 5),
		check("c1", "zeta", 11, false), check("c2", "zeta", 12, true), check("c3", "alpha", 30, false),
		ev("nocheck", asset.KindCheckResult, "a", 40), // a check_result without a check counts but is no check
		ev("r1", asset.KindRunStarted, "b", 7),
	}
	if err := st.AppendEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendEvents(ctx, events[:4]); err != nil { // replays
		t.Fatal(err)
	}
	sums, err := st.Summaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || sums[0].Asset != "a" || sums[1].Asset != "b" {
		t.Fatalf("summaries: %+v", sums)
	}
	a := sums[0]
	if a.LastMaterialization == nil || a.LastMaterialization.ID != "m3" {
		t.Errorf("LastMaterialization = %+v", a.LastMaterialization)
	}
	if a.LastFailure == nil || a.LastFailure.ID != "f1" || a.LastObservation == nil || a.LastObservation.ID != "o1" {
		t.Errorf("LastFailure = %+v, LastObservation = %+v", a.LastFailure, a.LastObservation)
	}
	var checks []string
	for _, c := range a.LastChecks {
		checks = append(checks, c.ID+":"+c.Check.Name)
	}
	if want := []string{"c3:alpha", "c2:zeta"}; !slices.Equal(checks, want) {
		t.Errorf("LastChecks = %v, want %v", checks, want)
	}
	wantCounts := map[asset.Kind]int64{asset.KindMaterialization: 3, asset.KindMaterializationFailed: 1,
		asset.KindObservation: 1, asset.KindCheckResult: 4}
	if !reflect.DeepEqual(a.Counts, wantCounts) {
		t.Errorf("Counts = %v, want %v", a.Counts, wantCounts)
	}
	if !a.FirstTime.Equal(time.Unix(5, 0)) || !a.LastTime.Equal(time.Unix(40, 0)) {
		t.Errorf("time range %v..%v", a.FirstTime, a.LastTime)
	}
	b := sums[1]
	if b.LastMaterialization != nil || b.LastChecks != nil || b.Counts[asset.KindRunStarted] != 1 {
		t.Errorf("summary b = %+v", b)
	}
}

func TestSpecs(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	if got, err := st.Specs(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	put := func(specs ...asset.Spec) {
		t.Helper()
		if err := st.PutSpecs(ctx, specs); err != nil {
			t.Fatal(err)
		}
	}
	put(asset.Spec{Key: "b", Description: "old", Origin: asset.OriginDeclared},
		asset.Spec{Key: "a", Owners: []string{"x"}, Origin: asset.OriginAPI})
	put(asset.Spec{Key: "b", Description: "new", Freshness: &asset.FreshnessPolicy{MaxLag: time.Hour}, Origin: asset.OriginDeclared})
	put(asset.Spec{Key: "c", Description: "first"}, asset.Spec{Key: "c", Description: "last in batch"})
	got, err := st.Specs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []asset.Spec{
		{Key: "a", Owners: []string{"x"}, Origin: asset.OriginAPI},
		{Key: "b", Description: "new", Freshness: &asset.FreshnessPolicy{MaxLag: time.Hour}, Origin: asset.OriginDeclared},
		{Key: "c", Description: "last in batch"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("specs:\n got %+v\nwant %+v", got, want)
	}
	if err := st.PutSpecs(ctx, []asset.Spec{{Description: "no key"}}); err == nil {
		t.Fatal("spec without key accepted")
	}
}

func TestParseDSN(t *testing.T) {
	for _, c := range []struct {
		dsn, db, cluster, user, pass string
		addrs                        []string
		dial, read                   time.Duration
		settings                     map[string]any
	}{
		{dsn: "clickhouse://127.0.0.1:9000", db: "default", addrs: []string{"127.0.0.1:9000"}},
		{dsn: "clickhouse://u:p%40ss@h1:9000,h2:9001/freshet?dial_timeout=5s&read_timeout=1m&cluster=prod",
			db: "freshet", cluster: "prod", user: "u", pass: "p@ss", addrs: []string{"h1:9000", "h2:9001"},
			dial: 5 * time.Second, read: time.Minute},
		{dsn: "tcp://h:9000/db?max_execution_time=60&compress=lz4", db: "db", addrs: []string{"h:9000"},
			settings: map[string]any{"max_execution_time": 60}},
	} {
		cfg, err := parseDSN(c.dsn)
		if err != nil {
			t.Errorf("%s: %v", c.dsn, err)
			continue
		}
		o := cfg.opts
		if cfg.database != c.db || o.Auth.Database != c.db || cfg.cluster != c.cluster || o.Auth.Username != c.user ||
			o.Auth.Password != c.pass || !slices.Equal(o.Addr, c.addrs) || o.DialTimeout != c.dial || o.ReadTimeout != c.read {
			t.Errorf("%s: got db=%q cluster=%q user=%q pass=%q addr=%v dial=%v read=%v", c.dsn, cfg.database,
				cfg.cluster, o.Auth.Username, o.Auth.Password, o.Addr, o.DialTimeout, o.ReadTimeout)
		}
		if _, ok := o.Settings["cluster"]; ok {
			t.Errorf("%s: cluster passed on as a server setting", c.dsn)
		}
		for k, v := range c.settings {
			if o.Settings[k] != v {
				t.Errorf("%s: setting %s = %v, want %v", c.dsn, k, o.Settings[k], v)
			}
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	for _, dsn := range []string{
		"",
		"clickhouse://",
		"postgres://h:5432/db",
		"http://h:8123/db",
		"clickhouse://u:secret@h:9000/bad-name",
		"clickhouse://u:secret@h:9000/db?cluster=a;b",
		"clickhouse://u:secret@h:9000/db?dial_timeout=soon",
		"clickhouse://u:secret@h:9000/db?compress_level=x",
		"clickhouse://u:secret@h:9000/db\x7f",
	} {
		_, err := parseDSN(dsn)
		if err == nil {
			t.Errorf("%q: no error", dsn)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: error shows the password: %v", dsn, err)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	if _, err := Open(ctx, "clickhouse://127.0.0.1:1/db?dial_timeout=1s"); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
}

func TestClusterDDL(t *testing.T) {
	s := schema{db: "freshet", cluster: "prod"}
	all := append([]string{s.createDatabase(), s.createMigrations()}, initialTables(s)...)
	for _, q := range all {
		if !strings.Contains(q, " ON CLUSTER `prod`") {
			t.Errorf("no ON CLUSTER: %s", q)
		}
		if strings.Contains(q, "ENGINE") && !strings.Contains(q, "ENGINE = Replicated") {
			t.Errorf("not replicated: %s", q)
		}
	}
	if !strings.Contains(all[3], "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/freshet/specs', '{replica}', version)") {
		t.Errorf("specs engine: %s", all[3])
	}
}

func TestDateTimeSec(t *testing.T) {
	for _, c := range []struct{ ns, want int64 }{
		{0, 0}, {1_999_999_999, 1}, {-1, 0}, {-5e9, 0}, {1 << 62, 1<<32 - 1},
	} {
		if got := dateTimeSec(c.ns); got != c.want {
			t.Errorf("dateTimeSec(%d) = %d, want %d", c.ns, got, c.want)
		}
	}
}

// TestStatementsRunOnServer runs allStatements, the list the chDB test
// runs on current ClickHouse, on the test server (18.16), so both versions
// check the same texts.
func TestStatementsRunOnServer(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	stmts, err := allStatements(st.schema.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		switch {
		case s.batch:
			batch, err := st.conn.PrepareBatch(ctx, s.sql)
			if err == nil {
				if err = batch.Append(s.args...); err == nil {
					err = batch.Send()
				}
			}
			if err != nil {
				t.Errorf("%s: %v\n%s", s.name, err, s.sql)
			}
		case strings.HasPrefix(s.sql, "SELECT"):
			rows, err := st.conn.Query(ctx, s.sql, s.args...)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			if err != nil {
				t.Errorf("%s: %v\n%s", s.name, err, s.sql)
			}
		default:
			if err := st.conn.Exec(ctx, s.sql, s.args...); err != nil {
				t.Errorf("%s: %v\n%s", s.name, err, s.sql)
			}
		}
	}
}

// TestAppendMetadataMatchesJSON checks the hand-written encoder against
// encoding/json, whose output the reads decode.
func TestAppendMetadataMatchesJSON(t *testing.T) {
	for _, m := range []asset.Metadata{
		{"row_count": asset.Int(-3)},
		{"b": asset.Text("plain"), "a": asset.URL("s3://x/y"), "f": asset.Float(1), "t": asset.Bool(true),
			"j": asset.JSONValue(`{"k":[1,2]}`), "esc": asset.Text("quote\" slash\\ <tag> & tab\t ünï")},
		{"ключ\n": asset.Text("")},
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendMetadata(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if _, err := appendMetadata(nil, asset.Metadata{"bad": asset.JSONValue("{")}); err == nil {
		t.Error("invalid json value accepted")
	}
}
