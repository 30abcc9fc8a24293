//go:build chdb

// This test runs every statement the store sends against current
// ClickHouse, embedded as chDB, to catch SQL that only 18.16 accepts. It
// needs libchdb.so: run scripts/chdb-check.sh, which fetches the library
// and runs it.

package clickhouse

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	chdb "github.com/chdb-io/chdb-go/chdb"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

func TestChDBRunsEveryStatement(t *testing.T) {
	sess, err := chdb.NewSession(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	query := func(sql string) string {
		t.Helper()
		res, err := sess.Query(sql, "TSV")
		if err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		if res == nil {
			return ""
		}
		defer res.Free()
		return strings.TrimSpace(res.String())
	}
	t.Logf("chDB ClickHouse version %s", query("SELECT version()"))

	stmts, err := allStatements("freshet_chdb")
	if err != nil {
		t.Fatal(err)
	}
	stmts = append(stmts, runStatements("freshet_chdb")...)
	stmts = append(stmts, alertStatements("freshet_chdb")...)
	// The alert tables keep every version unmerged, so the checks below
	// see old versions FINAL must pass over (merges would remove them).
	stopAlertMerges(t, query, schema{db: "freshet_chdb"})
	// Run everything twice: DDL must be idempotent, and the second pass
	// reads the rows of the first.
	for pass := 1; pass <= 2; pass++ {
		for _, s := range stmts {
			sql := s.sql
			if s.batch {
				sql += " VALUES (" + literals(t, s.args) + ")"
			} else {
				sql = bind(t, sql, s.args)
			}
			out := query(sql)
			if pass == 2 {
				t.Logf("%s: %.120q", s.name, out)
				if strings.HasPrefix(s.name, "events") && !strings.HasPrefix(out, "01JSAMPLE\t") {
					t.Errorf("%s found no event", s.name)
				}
			}
		}
	}
	// The reads must find the sample event once although it was inserted
	// twice.
	if got := query("SELECT count() FROM freshet_chdb.events"); got != "2" {
		t.Fatalf("stored %s rows, want 2", got)
	}
	q := newQueries(schema{db: "freshet_chdb"})
	if got := query("SELECT n FROM (" + q.summaries + ")"); got != "1" {
		t.Errorf("summaries count = %q, want 1", got)
	}
	if got := query(q.edges); got != "raw/customers\twarehouse/orders\nraw/orders\twarehouse/orders" {
		t.Errorf("edges = %q", got)
	}
	// The id index is filled by its materialized view inside each insert
	// on current ClickHouse too: the lookup AppendEvents makes finds the
	// sample id, and only that one.
	if got := query(bind(t, strings.Replace(q.knownIDs, " IN "+idsTable, " IN ('01JSAMPLE', 'never-stored')", 1), []any{"0", "z"})); got != "01JSAMPLE" {
		t.Errorf("known ids = %q, want 01JSAMPLE from the materialized view", got)
	}
	checkRunsCurrentState(t, query, "freshet_chdb")
	checkAlertsCurrentState(t, query, "freshet_chdb")
	checkTrimOnCurrent(t, query)
}

// checkTrimOnCurrent runs a trim's statements, as TrimEvents sends them,
// on events in real months of current ClickHouse: the swap of a month for
// its kept rows (REPLACE PARTITION) keeps what the conformance suite
// checks on 18.16.
func checkTrimOnCurrent(t *testing.T, query func(string) string) {
	t.Helper()
	s := schema{db: "freshet_chdb_trim"}
	query(s.createDatabase())
	for _, m := range migrations() {
		for _, ddl := range m.stmts(s) {
			query(ddl)
		}
	}
	at := func(month time.Month, d int) time.Time { return time.Date(2020, month, d, 1, 0, 0, 0, time.UTC) }
	for _, e := range []asset.Event{
		{ID: "a-m0", Kind: asset.KindMaterialization, Asset: "a", Time: at(time.January, 1)}, // first: kept
		{ID: "a-m1", Kind: asset.KindMaterialization, Asset: "a", Time: at(time.January, 5), Upstream: []asset.Key{"u"}},
		{ID: "a-m2", Kind: asset.KindMaterialization, Asset: "a", Time: at(time.February, 10)}, // latest before the cut
		{ID: "a-m3", Kind: asset.KindMaterialization, Asset: "a", Time: at(time.April, 1)},
		{ID: "a-c1", Kind: asset.KindCheckResult, Asset: "a", Time: at(time.January, 2), Check: &asset.CheckResult{Name: "x", Passed: true}},
		{ID: "a-c2", Kind: asset.KindCheckResult, Asset: "a", Time: at(time.January, 3), Check: &asset.CheckResult{Name: "x", Passed: false}},
	} {
		row, err := eventRow(e)
		if err != nil {
			t.Fatal(err)
		}
		query(newQueries(s).insertEvents + " VALUES (" + literals(t, row) + ")")
	}
	cut := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	months := strings.Split(query(bind(t, oldPartitionsSQL(), []any{s.db, "events", cut})), "\n")
	for i, line := range months {
		months[i], _, _ = strings.Cut(line, "\t")
	}
	if strings.Join(months, " ") != "202001 202002" {
		t.Fatalf("old months = %q", months)
	}
	helper := trimPrefix + "current"
	for _, q := range createTrimSQL(s, helper) {
		query(q)
	}
	query(keepEdgesSQL(s, months))
	query(bind(t, keepRowsSQL(s, helper, months), []any{cut, cut, cut}))
	for _, m := range months {
		query(replacePartitionSQL(s, helper, m))
	}
	query("DROP TABLE IF EXISTS " + s.table(helper))
	if got := query("SELECT groupArray(id) FROM (SELECT id FROM " + s.table("events") + " ORDER BY id)"); got != "['a-c2','a-m0','a-m2','a-m3']" {
		t.Errorf("after the trim events holds %s, want a-c2 a-m0 a-m2 a-m3", got)
	}
	if got := query(newQueries(s).edges); got != "u\ta" {
		t.Errorf("edges after the trim = %q, want u -> a", got)
	}
}

// checkRunsCurrentState checks, on current ClickHouse, what the runs
// conformance suite checks on 18.16 through the store: FINAL picks the
// newest version (the last inserted of equal ones), filters see current
// states only, and copies of a record never show twice. The database holds
// runStatements' inserts, made twice.
func checkRunsCurrentState(t *testing.T, query func(string) string, db string) {
	t.Helper()
	s := schema{db: db}
	ns := func(sql string, args ...any) string {
		t.Helper()
		return query(bind(t, sql, args))
	}
	if got := query("SELECT count() FROM " + s.table("run_records")); got != "4" {
		t.Fatalf("run_records has %s rows, want 4 (two versions, twice)", got)
	}
	if got := ns(runSQL(s), "run-1"); !strings.HasPrefix(got, "run-1\tFAILURE\t") || strings.Contains(got, "\n") {
		t.Errorf("run = %q, want its newest version once", got)
	}
	if got := ns(stepsSQL(s), "run-1"); strings.Count(got, "\n") != 0 || !strings.HasPrefix(got, "run-1\twarehouse/orders\t0\tFAILURE") {
		t.Errorf("steps = %q, want the step once", got)
	}
	for _, c := range []struct {
		q    store.RunQuery
		want string
	}{
		{store.RunQuery{}, "run-1 FAILURE"},
		{store.RunQuery{Statuses: []string{"FAILURE"}}, "run-1 FAILURE"},
		{store.RunQuery{Statuses: []string{"SUCCESS"}}, ""}, // the old version must not match
		{store.RunQuery{Asset: "warehouse/orders"}, "run-1 FAILURE"},
		{store.RunQuery{Asset: "warehouse"}, ""},
	} {
		sql, args := runsQuery(s, c.q, nil, 100)
		var got []string
		for _, line := range strings.Split(ns(sql, args...), "\n") {
			if f := strings.Split(line, "\t"); len(f) > 1 {
				got = append(got, f[0]+" "+f[1])
			}
		}
		if strings.Join(got, ", ") != c.want {
			t.Errorf("Runs(%+v) = %q, want %q", c.q, got, c.want)
		}
	}
	// Log lines are not deduplicated by the query: the copies arrive
	// adjacent, for the reader to skip.
	if got := ns(logsSQL(s), "run-1", uint64(0), 10); got != "run-1\t1\twarehouse/orders\t1\tstderr\t1795429800123456789\tboom\t1\nrun-1\t1\twarehouse/orders\t1\tstderr\t1795429800123456789\tboom\t1" {
		t.Errorf("log lines = %q", got)
	}
}

// checkAlertsCurrentState checks, on current ClickHouse, what the alerts
// conformance suite checks on 18.16 through the store: FINAL picks the
// newest version, the work list and the filters see current states only,
// and copies never show twice. The database holds alertStatements'
// inserts, made twice, unmerged (stopAlertMerges).
func checkAlertsCurrentState(t *testing.T, query func(string) string, db string) {
	t.Helper()
	s := schema{db: db}
	ids := func(sql string, args []any) string {
		t.Helper()
		var out []string
		for _, line := range strings.Split(query(bind(t, sql, args)), "\n") {
			if f := strings.Split(line, "\t"); len(f) > 1 {
				out = append(out, f[0])
			}
		}
		return strings.Join(out, " ")
	}
	if got := query("SELECT count() FROM " + s.table("alert_delivery_records")); got != "6" {
		t.Fatalf("alert_delivery_records has %s rows, want 6 (three, twice, unmerged)", got)
	}
	now := time.Date(2026, 11, 24, 8, 0, 1, 0, time.UTC)
	if got := ids(dueSQL(s), dueArgs(now, 100)); got != "dl-2" {
		t.Errorf("due = %q, want dl-2 once (dl-1 was delivered)", got)
	}
	if got := ids(dueSQL(s), dueArgs(now, 1)); got != "dl-2" {
		t.Errorf("due with limit 1 = %q, want dl-2 (dl-1's old pending version must not take the place)", got)
	}
	if got := ids(dueSQL(s), dueArgs(now.Add(-time.Hour), 100)); got != "" {
		t.Errorf("due an hour early = %q, want none", got)
	}
	for _, c := range []struct {
		q    store.DeliveryQuery
		want string
	}{
		{store.DeliveryQuery{}, "dl-2 dl-1"},
		{store.DeliveryQuery{States: []string{store.DeliveryPending}}, "dl-2"},
		{store.DeliveryQuery{States: []string{store.DeliveryDelivered}}, "dl-1"},
		{store.DeliveryQuery{Key: "freshness/raw/orders"}, "dl-1"},
		{store.DeliveryQuery{Key: "freshness/raw/orders", States: []string{store.DeliveryPending}}, ""}, // the old version must not match
		{store.DeliveryQuery{Receiver: "pagerduty", Key: "freshness/mart/x"}, "dl-2"},
		{store.DeliveryQuery{Receiver: "webhook"}, ""},
	} {
		sql, args := deliveriesQuery(s, c.q, nil, 100)
		if got := ids(sql, args); got != c.want {
			t.Errorf("Deliveries(%+v) = %q, want %q", c.q, got, c.want)
		}
	}
	sql, args := deliveriesQuery(s, store.DeliveryQuery{}, nil, 1)
	if got := ids(sql, args); got != "dl-2" {
		t.Errorf("Deliveries limit 1 = %q, want dl-2", got)
	}
	sql, args = deliveriesQuery(s, store.DeliveryQuery{}, &store.Position{Time: time.Unix(0, 1795507200123456790), ID: "dl-2"}, 100)
	if got := ids(sql, args); got != "dl-1" {
		t.Errorf("Deliveries after dl-2 = %q, want dl-1", got)
	}
	if got := ids(incidentsSQL(s, false), nil); got != "inc-2 inc-1" {
		t.Errorf("incidents = %q, want inc-2 inc-1", got)
	}
	if got := ids(incidentsSQL(s, true), nil); got != "inc-2" {
		t.Errorf("open incidents = %q, want inc-2 (inc-1 was resolved)", got)
	}
	if got := query(silencesSQL(s)); strings.Count(got, "\n") != 0 || !strings.Contains(got, "\texpired\t") {
		t.Errorf("silences = %q, want sil-1 once, expired", got)
	}
}

// stopAlertMerges creates the alert tables (migration 4, which the
// statements run again) and stops merges of them.
func stopAlertMerges(t *testing.T, query func(string) string, s schema) {
	t.Helper()
	query(s.createDatabase())
	for _, ddl := range alertTables(s) {
		query(ddl)
	}
	for _, name := range []string{"alert_delivery_records", "alert_incidents", "alert_silences"} {
		query("SYSTEM STOP MERGES " + s.table(name))
	}
}

// bind replaces each ? with the literal of its argument, the way
// clickhouse-go binds client-side. The store's statements have no ? inside
// string literals.
func bind(t *testing.T, sql string, args []any) string {
	t.Helper()
	parts := strings.Split(sql, "?")
	if len(parts)-1 != len(args) {
		t.Fatalf("%d placeholders, %d args: %s", len(parts)-1, len(args), sql)
	}
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(p)
		if i < len(args) {
			b.WriteString(literal(t, args[i]))
		}
	}
	return b.String()
}

func literals(t *testing.T, args []any) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = literal(t, a)
	}
	return strings.Join(out, ", ")
}

func literal(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint8, uint32, uint64:
		return fmt.Sprint(v)
	case *int64:
		if v == nil {
			return "NULL"
		}
		return strconv.FormatInt(*v, 10)
	case time.Time:
		return strconv.FormatInt(v.Unix(), 10)
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = literal(t, s)
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	t.Fatalf("no literal for %T", v)
	return ""
}
