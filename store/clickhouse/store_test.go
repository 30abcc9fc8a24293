package clickhouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"regexp"
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
	if _, err := st.AppendEvents(ctx, []asset.Event{ev("a", asset.KindMaterialization, "x", 1)}); err != nil {
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
	if _, err := st.AppendEvents(ctx, []asset.Event{want, plain}); err != nil {
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
		if _, err := st.AppendEvents(context.Background(), []asset.Event{e}); err == nil {
			t.Errorf("event %d: no error", i)
		}
	}
}

// TestDuplicateIDsNeverShowTwice: AppendEvents stores one row per id
// (copies within a batch and in later calls are dropped), and reads
// collapse any number of byte-identical copies that reach the events table
// anyway (a crash between the events insert and the id index insert, then
// a replay), with no merge in between.
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
	for i := range 3 { // and copies in later calls
		added, err := st.AppendEvents(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{0: 20}[i]; len(added) != want {
			t.Fatalf("call %d added %d events, want %d", i, len(added), want)
		}
	}
	countRows := func() uint64 {
		var raw uint64
		if err := st.conn.QueryRow(ctx, "SELECT count() FROM "+st.schema.table("events")).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		return raw
	}
	if raw := countRows(); raw != 20 {
		t.Fatalf("stored rows = %d, want 20: AppendEvents stored copies", raw)
	}
	// Keep the copies apart: a merge would collapse them and hide what
	// reads must do on their own.
	if err := st.conn.Exec(ctx, "SYSTEM STOP MERGES "+st.schema.table("events")); err != nil {
		t.Fatal(err)
	}
	const copies = 6 // replays that bypass the id index, as after a crash
	for range copies {
		var cols eventColumns
		cols.reset(20)
		for i := 0; i < len(batch); i += 2 {
			if err := cols.add(&batch[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.insertEvents(ctx, &cols); err != nil {
			t.Fatal(err)
		}
	}
	if raw := countRows(); raw != 20*(1+copies) {
		t.Fatalf("stored rows = %d, want %d unmerged copies", raw, 20*(1+copies))
	}
	recent, err := st.RecentSuccesses(ctx, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 16 || recent[0].ID != "e19" || recent[15].ID != "e04" {
		t.Errorf("recent successes over %d copies each = %d events (%v...), want e19 down to e04", copies+1, len(recent), recent[0].ID)
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
	if _, err := st.AppendEvents(ctx, all[:150]); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendEvents(ctx, all[100:]); err != nil { // 100..149 replayed
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
	if _, err := st.AppendEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendEvents(ctx, events[:4]); err != nil { // replays
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

// TestClusterDDL checks the cluster variant of every schema statement
// against the single-server one, table by table as found by name, so a
// table added by a later migration is covered without touching this test.
// Each CREATE TABLE must say ON CLUSTER right after its name and use the
// Replicated form of its single-server engine, keyed by {shard}, the
// database and the table, with '{replica}' and then the same arguments
// (the version column of a ReplacingMergeTree); nothing else may differ.
// It needs no server.
func TestClusterDDL(t *testing.T) {
	t.Parallel()
	single := schemaDDL(t, schema{db: "freshet"})
	cluster := schemaDDL(t, schema{db: "freshet", cluster: "prod"})

	if got, want := slices.Sorted(maps.Keys(cluster.tables)), slices.Sorted(maps.Keys(single.tables)); !slices.Equal(got, want) {
		t.Fatalf("cluster tables %v, single-server tables %v", got, want)
	}
	for _, name := range []string{"schema_migrations", "events", "specs", "runs", "run_logs", "freshness_states", "alert_deliveries"} {
		if _, ok := single.tables[name]; !ok {
			t.Errorf("no CREATE TABLE found for %s: is the DDL still parsed?", name)
		}
	}
	// The version column of every ReplacingMergeTree that has one; a new
	// table's engine is checked against its single-server form below.
	versions := map[string]string{"specs": "version", "runs": "updated_ns", "alert_deliveries": "updated_ns"}
	for name, col := range versions {
		if tb, ok := single.tables[name]; ok && (tb.family != "ReplacingMergeTree" || tb.args != col) {
			t.Errorf("%s: engine %s(%s), want ReplacingMergeTree(%s)", name, tb.family, tb.args, col)
		}
	}
	for name, c := range cluster.tables {
		s := single.tables[name]
		if s.onCluster != "" {
			t.Errorf("%s: single-server DDL has%s", name, s.onCluster)
		}
		if c.onCluster != " ON CLUSTER `prod`" {
			t.Errorf("%s: cluster DDL lacks ON CLUSTER `prod` after the table name:\n%s", name, c.sql)
		}
		zk := "'/clickhouse/tables/{shard}/freshet/" + name + "'"
		want := "Replicated" + s.family + "(" + strings.Join(slices.DeleteFunc([]string{zk, "'{replica}'", s.args}, func(a string) bool { return a == "" }), ", ") + ")"
		if got := c.family + "(" + c.args + ")"; got != want {
			t.Errorf("%s: cluster engine\n  %s\nwant\n  %s", name, got, want)
		}
		// Apart from those two, the statements are the same text.
		asSingle := strings.Replace(c.sql, c.onCluster, "", 1)
		asSingle = strings.Replace(asSingle, c.engine, s.engine, 1)
		if asSingle != s.sql {
			t.Errorf("%s: cluster and single-server DDL differ beyond ON CLUSTER and the engine:\n%s\n---\n%s", name, c.sql, s.sql)
		}
	}

	// Other DDL (the database, later ALTERs and the like) runs ON CLUSTER
	// too; the rest (backfill INSERTs, which replication spreads) is the
	// same text on both.
	ddl := regexp.MustCompile(`^(CREATE|ALTER|DROP|RENAME|TRUNCATE|OPTIMIZE)\b`)
	if len(cluster.other) != len(single.other) {
		t.Fatalf("%d other cluster statements, %d single-server", len(cluster.other), len(single.other))
	}
	for _, c := range cluster.other {
		asSingle := c
		if ddl.MatchString(c) {
			if !strings.Contains(c, " ON CLUSTER `prod`") {
				t.Errorf("DDL without ON CLUSTER: %s", c)
			}
			asSingle = strings.Replace(c, " ON CLUSTER `prod`", "", 1)
		}
		if !slices.Contains(single.other, asSingle) {
			t.Errorf("cluster statement has no single-server counterpart:\n%s", c)
		}
	}
}

// parsedDDL is a schema's statements: CREATE TABLEs by table name, and
// the rest in order.
type parsedDDL struct {
	tables map[string]createTable
	other  []string
}

type createTable struct {
	sql       string
	onCluster string // " ON CLUSTER `x`" or empty
	engine    string // the whole "ENGINE = F(args)"
	family    string // F
	args      string // args, as written
}

var (
	createTableRE = regexp.MustCompile("^CREATE TABLE IF NOT EXISTS `([^`]+)`\\.`([^`]+)`( ON CLUSTER `[^`]+`)? \\(")
	engineRE      = regexp.MustCompile(`\bENGINE = (\w+)\(([^()]*)\)`)
)

// schemaDDL parses every statement a new database gets: the database, the
// migrations table and every migration's statements.
func schemaDDL(t *testing.T, s schema) parsedDDL {
	t.Helper()
	stmts := []string{s.createDatabase(), s.createMigrations()}
	for _, m := range migrations() {
		stmts = append(stmts, m.stmts(s)...)
	}
	out := parsedDDL{tables: map[string]createTable{}}
	for _, q := range stmts {
		if !strings.HasPrefix(q, "CREATE TABLE") {
			out.other = append(out.other, q)
			continue
		}
		m := createTableRE.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("CREATE TABLE not of the form CREATE TABLE IF NOT EXISTS `db`.`name` [ON CLUSTER `c`] (: %s", q)
			continue
		}
		if m[1] != s.db {
			t.Errorf("table %s is in database %q, want %q", m[2], m[1], s.db)
		}
		e := engineRE.FindAllStringSubmatch(q, -1)
		if len(e) != 1 {
			t.Errorf("table %s: %d ENGINE clauses, want 1: %s", m[2], len(e), q)
			continue
		}
		if _, dup := out.tables[m[2]]; dup {
			t.Errorf("table %s is created twice", m[2])
		}
		out.tables[m[2]] = createTable{sql: q, onCluster: m[3], engine: e[0][0], family: e[0][1], args: e[0][2]}
	}
	return out
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
		got, _, err := appendMetadata([]byte("prefix"), nil, m)
		got = bytes.TrimPrefix(got, []byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if _, _, err := appendMetadata(nil, nil, asset.Metadata{"bad": asset.JSONValue("{")}); err == nil {
		t.Error("invalid json value accepted")
	}
}

// TestOnePartPerInsert: AppendEvents sends a batch in blocks of flushRows
// rows, and the server still writes one part per table for it, so the
// merges have no more to do than for one block.
func TestOnePartPerInsert(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	events := genEvents(3*flushRows+100, 1000, 9)
	for i := range events {
		events[i].Time = events[0].Time.Add(time.Duration(i) * time.Millisecond) // one month: one partition
	}
	added, err := st.AppendEvents(ctx, events)
	if err != nil || len(added) != len(events) {
		t.Fatalf("added %d of %d (%v)", len(added), len(events), err)
	}
	for _, table := range []string{"events", "event_ids"} {
		var parts, rows uint64
		if err := st.conn.QueryRow(ctx, "SELECT count(), sum(rows) FROM system.parts WHERE database = ? AND table = ? AND active",
			st.schema.db, table).Scan(&parts, &rows); err != nil {
			t.Fatal(err)
		}
		if parts != 1 || rows != uint64(len(events)) {
			t.Errorf("%s: %d parts holding %d rows, want 1 part of %d", table, parts, rows, len(events))
		}
	}
}
