package clickhouse

import (
	"fmt"
	"strings"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// idsTable names the external table of ids AppendEvents asks about.
const idsTable = "_freshet_ids"

// eventCols are the columns an event is read from, in scan order.
const eventCols = "id, kind, asset, time_ns, run_id, `partition`, data_time_ns, has_data_time, " +
	"upstream, metadata, has_check, check_name, check_passed, check_severity"

// insertEventCols are the columns AppendEvents writes, in the order of
// the column slices it appends. The list is required: 18.16 rejects a batch
// without one.
const insertEventCols = "id, kind, asset, time, time_ns, run_id, `partition`, data_time_ns, has_data_time, " +
	"upstream, row_count, metadata, has_check, check_name, check_passed, check_severity"

// queries holds the fixed statement texts of one store, rendered once at
// Open. Events queries depend on the filter and are built by eventsQuery.
type queries struct {
	selectMigrations string
	insertMigration  string
	insertEvents     string
	knownIDs         string // reads the external table idsTable, see Store.knownIDs
	maxIDAbove       string // the greatest id event_ids holds above a bound ("" for none)
	summaries        string
	recent           string
	recentOf         string // recent for the assets of an external table, see Store.RecentSuccesses
	edges            string
	insertSpecs      string
	specs            string
}

func newQueries(s schema) queries {
	return queries{
		selectMigrations: "SELECT DISTINCT version FROM " + s.table("schema_migrations"),
		insertMigration:  "INSERT INTO " + s.table("schema_migrations") + " (version, name, applied_at)",
		insertEvents:     "INSERT INTO " + s.table("events") + " (" + insertEventCols + ")",
		// The range on the primary key lets the server skip every granule
		// outside the batch's ids (18.16 does not prune by an external
		// set): ids assigned at ingest are UUIDv7s, so a batch's range is
		// the newest granules, whatever the table's size.
		knownIDs:   "SELECT DISTINCT id FROM " + s.table("event_ids") + " WHERE id >= ? AND id <= ? AND id IN " + idsTable,
		maxIDAbove: "SELECT max(id) FROM " + s.table("event_ids") + " WHERE id > ?",

		// One row per (asset, kind, check): its distinct event count, time
		// range and latest event. A check_result's check name splits its
		// group so every check keeps its own latest result. Replayed
		// copies of an event are identical, so uniqExact(id) counts each
		// once and argMax over (time_ns, id) picks the same values from
		// any copy.
		summaries: `SELECT asset, kind, check_group, n, first_ns, last_ns,
    t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8, t.9, t.10, t.11, t.12
FROM (
    SELECT asset, kind,
        if(kind = '` + string(asset.KindCheckResult) + `' AND has_check = 1, concat('c:', check_name), '') AS check_group,
        uniqExact(id) AS n,
        min(time_ns) AS first_ns,
        max(time_ns) AS last_ns,
        argMax(tuple(id, time_ns, run_id, ` + "`partition`" + `, data_time_ns, has_data_time,
            upstream, metadata, has_check, check_name, check_passed, check_severity),
            tuple(time_ns, id)) AS t
    FROM ` + s.table("events") + `
    GROUP BY asset, kind, check_group
)
ORDER BY asset, kind, check_group`,

		// The latest successes per asset: a LIMIT BY (works on 18.16) over
		// the primary key order. Copies of an event (rare, see
		// docs/clickhouse.md) are skipped by the reader, which asks again
		// for the assets they left short (recentOf).
		recent: "SELECT " + eventCols + " FROM " + s.table("events") +
			" WHERE kind IN ('" + string(asset.KindMaterialization) + "', '" + string(asset.KindObservation) + "')" +
			" ORDER BY asset, time_ns DESC, id DESC LIMIT ? BY asset",

		recentOf: "SELECT " + eventCols + " FROM " + s.table("events") +
			" WHERE kind IN ('" + string(asset.KindMaterialization) + "', '" + string(asset.KindObservation) + "')" +
			" AND asset IN " + idsTable + " ORDER BY asset, time_ns DESC, id DESC LIMIT ? BY asset",

		// With the edges of events a trim removed (event_edges).
		edges: "SELECT DISTINCT up, asset FROM (SELECT arrayJoin(upstream) AS up, asset FROM " + s.table("events") +
			" WHERE notEmpty(upstream) UNION ALL SELECT upstream AS up, asset FROM " + s.table("event_edges") +
			") ORDER BY up, asset",

		insertSpecs: "INSERT INTO " + s.table("specs") + " (key, version, deleted, spec)",
		// argMax rather than FINAL: correct before any merge and on every
		// replica, and cheap for the few thousand specs a catalog has.
		specs: "SELECT key, argMax(spec, version) AS s FROM " + s.table("specs") +
			" GROUP BY key HAVING argMax(deleted, version) = 0 ORDER BY key",
	}
}

// eventsQuery renders one page query. Values are bound client-side with
// '?' (18.16 has no server-side parameters); kinds get one placeholder
// each because a slice cannot be bound to IN (?). The DateTime column
// bounds let the server skip partitions and granules; the time_ns bounds
// decide. Rows are not deduplicated here: copies of an event share
// (time_ns, id), so they arrive adjacent and the caller skips them, which
// keeps ORDER BY ... LIMIT a top-k instead of the full sort LIMIT BY needs.
func eventsQuery(s schema, q store.EventQuery, after *store.Position, limit int) (string, []any) {
	var where []string
	var args []any
	if q.Asset != "" {
		where = append(where, "asset = ?")
		args = append(args, string(q.Asset))
	}
	if len(q.Kinds) > 0 {
		marks := make([]string, len(q.Kinds))
		for i, k := range q.Kinds {
			marks[i] = "?"
			args = append(args, string(k))
		}
		where = append(where, "kind IN ("+strings.Join(marks, ", ")+")")
	}
	if !q.Since.IsZero() {
		ns := q.Since.UnixNano()
		where = append(where, "time >= toDateTime(?)", "time_ns >= ?")
		args = append(args, dateTimeSec(ns), ns)
	}
	if !q.Until.IsZero() {
		ns := q.Until.UnixNano()
		where = append(where, "time <= toDateTime(?)", "time_ns < ?")
		args = append(args, dateTimeSec(ns), ns)
	}
	order := "DESC"
	if q.Ascending {
		order = "ASC"
	}
	if after != nil {
		ns := after.Time.UnixNano()
		if q.Ascending {
			where = append(where, "time >= toDateTime(?)", "(time_ns, id) > (?, ?)")
		} else {
			where = append(where, "time <= toDateTime(?)", "(time_ns, id) < (?, ?)")
		}
		args = append(args, dateTimeSec(ns), ns, after.ID)
	}
	sql := "SELECT " + eventCols + " FROM " + s.table("events")
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY time_ns " + order + ", id " + order + " LIMIT ?"
	args = append(args, limit)
	return sql, args
}

// statement is one SQL text the store sends, with sample arguments.
type statement struct {
	name  string
	sql   string
	args  []any
	batch bool // an INSERT prefix sent with PrepareBatch; args are one row
}

// allStatements lists every statement text the store can send for the
// single-server schema, so a test can run them against another ClickHouse
// version (see chdb_test.go). Keep it in step with the code above.
func allStatements(db string) ([]statement, error) {
	s := schema{db: db}
	q := newQueries(s)
	var out []statement
	out = append(out,
		statement{name: "create database", sql: s.createDatabase()},
		statement{name: "create schema_migrations", sql: s.createMigrations()},
	)
	for _, m := range migrations() {
		for i, ddl := range m.stmts(s) {
			out = append(out, statement{name: fmt.Sprintf("migration %d.%d", m.version, i+1), sql: ddl})
		}
	}
	out = append(out, statement{name: "start event log", sql: logView(s)})
	ev := sampleEvent()
	r, err := eventRow(ev)
	if err != nil {
		return nil, err
	}
	out = append(out,
		statement{name: "select migrations", sql: q.selectMigrations},
		statement{name: "insert migration", sql: q.insertMigration, batch: true,
			args: []any{uint32(1), "initial tables", ev.Time}},
		statement{name: "insert events", sql: q.insertEvents, batch: true, args: r},
		// The store sends the ids as an external table; here a literal
		// set stands in for it (chDB takes no external data).
		statement{name: "known ids", sql: strings.Replace(q.knownIDs, " IN "+idsTable, " IN ('"+ev.ID+"', 'o\\'dd')", 1),
			args: []any{"", "zzz"}},
		statement{name: "max id above", sql: q.maxIDAbove, args: []any{ev.ID}},
		statement{name: "insert specs", sql: q.insertSpecs, batch: true,
			args: []any{"raw/orders", uint64(1), uint8(0), `{"key":"raw/orders","origin":"declared"}`}},
		statement{name: "summaries", sql: q.summaries},
		statement{name: "recent successes", sql: q.recent, args: []any{32}},
		statement{name: "recent successes of", sql: strings.Replace(q.recentOf, " IN "+idsTable, " IN ('"+string(ev.Asset)+"')", 1), args: []any{64}},
		statement{name: "edges", sql: q.edges},
		statement{name: "specs", sql: q.specs},
	)
	pos := &store.Position{Time: ev.Time, ID: "zzz"}
	for _, c := range []struct {
		name  string
		q     store.EventQuery
		after *store.Position
	}{
		{"events all", store.EventQuery{}, nil},
		{"events filtered desc", store.EventQuery{Asset: ev.Asset, Kinds: []asset.Kind{asset.KindMaterialization, asset.KindCheckResult},
			Since: ev.Time.Add(-1), Until: ev.Time.Add(1)}, pos},
		{"events filtered asc", store.EventQuery{Asset: ev.Asset, Kinds: []asset.Kind{asset.KindCheckResult},
			Since: ev.Time.Add(-1), Ascending: true}, &store.Position{Time: ev.Time.Add(-1), ID: "a"}},
	} {
		sql, args := eventsQuery(s, c.q, c.after, 101)
		out = append(out, statement{name: c.name, sql: sql, args: args})
	}
	lq := newLogQueries(s)
	sec := dateTimeSec(ev.Time.UnixNano())
	out = append(out,
		statement{name: "event log", sql: lq.logged, args: []any{sec, 1000}},
		statement{name: "event log after", sql: lq.loggedAfter, args: []any{sec, sec, ev.ID, 1000}},
		statement{name: "logged events", sql: strings.NewReplacer(" IN "+idsTable+"_assets", " IN ('"+string(ev.Asset)+"')",
			" IN "+idsTable, " IN ('"+ev.ID+"')").Replace(lq.loggedEvents), args: []any{sec, sec + 1}},
		statement{name: "event log partitions", sql: lq.partitions, args: []any{db, "20261201"}},
		statement{name: "trim event log", sql: lq.dropPartition + "20000101"},
	)
	out = append(out, trimStatements(s)...)
	return out, nil
}

// knownIDsIn is knownIDs over n ranges of ids (see idRanges) instead of one.
func (q queries) knownIDsIn(n int) string {
	if n <= 1 {
		return q.knownIDs
	}
	cond := "(" + strings.TrimSuffix(strings.Repeat("id >= ? AND id <= ? OR ", n), " OR ") + ")"
	return strings.Replace(q.knownIDs, "id >= ? AND id <= ?", cond, 1)
}
