package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// Retention on ClickHouse works by whole partitions (months, toYYYYMM of
// the time column), the way that costs the server least and that 18.16
// supports: it has no TTL clause, and ALTER DELETE rewrites every part.
// A partition is removed once every row in it is older than the cut, so
// a month leaves between 0 and 1 month after the window passes its end.
//
// Events keep, for every group (asset, kind, check name, partition), the
// latest event before the cut, and each asset's first event and first
// materialization (store.Trimmer). Those rows are copied into a local
// helper table (events_trim_<random>) partitioned like events, and each
// old partition of events is then swapped, atomically, for the helper's
// copy of it (ALTER TABLE ... REPLACE PARTITION ... FROM: a partition
// absent from the helper is swapped for nothing, a drop). Readers see a partition
// either whole or trimmed, never without its kept rows. A crash between
// two swaps leaves some partitions trimmed; the next trim finds the same
// kept rows (they are still the latest of their groups) and finishes.
// The lineage edges the removed events reported are copied into
// event_edges first, which ObservedEdges reads with events.
//
// The ids of removed events stay in event_ids (not partitioned), so a
// removed event sent again is still ignored as a replay; that table grows
// by one id per event (docs/operations.md, "Retention").

// trimPrefix starts the name of the helper table a trim fills with the
// rows it keeps; each Store adds a random suffix, so that two processes
// trimming one database (two replicas, or a leader change during a pass)
// never share one. It is local (never replicated): REPLACE PARTITION on a
// Replicated events table reads it on the server that runs the statement
// and replicates the result. A pass drops its helper when it ends; one a
// crash left behind holds only kept rows and can be dropped by hand.
const trimPrefix = "events_trim_"

// newTrimName returns a helper table name for one Store.
func newTrimName() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand: never fails on Linux
	return trimPrefix + hex.EncodeToString(b[:])
}

// oldPartitionsSQL lists a table's partitions whose newest row is older
// than a DateTime, with their rows (before merges: copies count).
func oldPartitionsSQL() string {
	return "SELECT partition_id, sum(rows) FROM system.parts WHERE database = ? AND table = ? AND active" +
		" GROUP BY partition_id HAVING max(max_time) < toDateTime(?) ORDER BY partition_id"
}

// groupExpr is the key a trim keeps one event of; it matches the embedded
// store's (asset, kind, check name, partition).
const groupExpr = "asset, kind, if(kind = '" + string(asset.KindCheckResult) + "' AND has_check = 1, check_name, ''), `partition`"

func createTrimSQL(s schema, helper string) []string {
	return []string{
		"DROP TABLE IF EXISTS " + s.table(helper),
		"CREATE TABLE " + s.table(helper) + " AS " + s.table("events") +
			" ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(time) ORDER BY (asset, time, id)",
	}
}

// keepEdgesSQL copies the edges of the given months into event_edges.
func keepEdgesSQL(s schema, months []string) string {
	return "INSERT INTO " + s.table("event_edges") + " (upstream, asset)" +
		" SELECT DISTINCT arrayJoin(upstream) AS up, asset FROM " + s.table("events") +
		" WHERE toYYYYMM(time) IN (" + strings.Join(months, ", ") + ") AND notEmpty(upstream)"
}

// keepRowsSQL copies into the helper, from the given months, the events
// that are the latest of their group before the cut, and each asset's
// first event and first materialization (arguments: the cut as Unix
// seconds, three times). An asset's firsts are before the cut whenever
// any of its events is, so the subqueries read only what is older than
// the cut: after the first trim, little more than the months removed.
// Copies of one event share its id and are all copied.
func keepRowsSQL(s schema, helper string, months []string) string {
	ev := s.table("events")
	return "INSERT INTO " + s.table(helper) + " SELECT * FROM " + ev +
		" WHERE toYYYYMM(time) IN (" + strings.Join(months, ", ") + ") AND id IN (" +
		"SELECT argMax(id, tuple(time_ns, id)) FROM " + ev + " WHERE time < toDateTime(?) GROUP BY " + groupExpr +
		" UNION ALL SELECT argMin(id, tuple(time_ns, id)) FROM " + ev + " WHERE time < toDateTime(?) GROUP BY asset" +
		" UNION ALL SELECT argMin(id, tuple(time_ns, id)) FROM " + ev + " WHERE time < toDateTime(?) AND kind = '" +
		string(asset.KindMaterialization) + "' GROUP BY asset)"
}

// removedCountsSQL counts, by month, asset and kind, the distinct events
// of the given months a trim removes: those the helper does not keep.
func removedCountsSQL(s schema, helper string, months []string) string {
	return "SELECT toString(toYYYYMM(time)) AS p, asset, kind, uniqExact(id) FROM " + s.table("events") +
		" WHERE toYYYYMM(time) IN (" + strings.Join(months, ", ") + ") AND id NOT IN (SELECT id FROM " + s.table(helper) + ")" +
		" GROUP BY p, asset, kind"
}

func trimCountSQL(s schema, helper string) string {
	return "SELECT toString(toYYYYMM(time)) AS p, count() FROM " + s.table(helper) + " GROUP BY p ORDER BY p"
}

func replacePartitionSQL(s schema, helper, month string) string {
	return "ALTER TABLE " + s.table("events") + " REPLACE PARTITION ID '" + month + "' FROM " + s.table(helper)
}

func dropPartitionSQL(s schema, table, month string) string {
	return "ALTER TABLE " + s.table(table) + " DROP PARTITION ID '" + month + "'"
}

// edgesTable is migration 6: lineage edges reported by events a trim
// removed (ObservedEdges reads them with those of the events left).
func edgesTable(s schema) []string {
	return []string{
		"CREATE TABLE IF NOT EXISTS " + s.table("event_edges") + s.onCluster() + ` (
    upstream String,
    asset String
) ENGINE = ` + s.engine("ReplacingMergeTree", "event_edges") + `
ORDER BY (upstream, asset)`,
	}
}

var _ store.Trimmer = (*Store)(nil)

// oldPartitions returns the partitions of table entirely before cut, in
// order, with their rows (before merges: copies count).
func (st *Store) oldPartitions(ctx context.Context, table string, cut int64) ([]string, map[string]int64, error) {
	rows, err := st.conn.Query(ctx, oldPartitionsSQL(), st.schema.db, table, cut)
	if err != nil {
		return nil, nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var ids []string
	counts := map[string]int64{}
	for rows.Next() {
		var (
			id string
			n  uint64
		)
		if err := rows.Scan(&id, &n); err != nil {
			return nil, nil, fmt.Errorf("list partitions of %s: %w", table, err)
		}
		if _, err := strconv.ParseUint(id, 10, 32); err != nil {
			return nil, nil, fmt.Errorf("partition %q of %s is not a month", id, table)
		}
		ids = append(ids, id)
		counts[id] = int64(n)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	return ids, counts, nil
}

// cutSeconds is the DateTime a cut compares with: rows in the cut's own
// second are not older than it.
func cutSeconds(before time.Time) int64 { return dateTimeSec(before.UnixNano()) }

// TrimEvents removes the months of events that ended before `before`,
// keeping the latest event of each group before it and each asset's
// firsts (see the top of this file). A month this store trimmed and that
// has not changed since (no event with an old time arrived) holds only
// kept rows and is left alone: after the first pass, a pass works only
// when a month passes the cut, and costs a query on system.parts
// otherwise.
func (st *Store) TrimEvents(ctx context.Context, before time.Time) (store.Trimmed, error) {
	st.trimMu.Lock()
	defer st.trimMu.Unlock()
	var res store.Trimmed
	cut := cutSeconds(before)
	old, rows, err := st.oldPartitions(ctx, "events", cut)
	if err != nil {
		return res, wrapTrim("events", err)
	}
	var months []string
	for _, m := range old {
		if n, ok := st.trimmed[m]; ok && n == rows[m] {
			res.Kept += n // only kept rows
			continue
		}
		months = append(months, m)
	}
	if len(months) == 0 {
		return res, nil
	}
	for _, q := range createTrimSQL(st.schema, st.trimName) {
		if err := st.conn.Exec(ctx, q); err != nil {
			return res, wrapTrim("events", err)
		}
	}
	defer func() {
		// Best effort: the next trim drops it first anyway.
		_ = st.conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+st.schema.table(st.trimName))
	}()
	if err := st.conn.Exec(ctx, keepEdgesSQL(st.schema, months)); err != nil {
		return res, wrapTrim("events", fmt.Errorf("keep edges: %w", err))
	}
	if err := st.conn.Exec(ctx, keepRowsSQL(st.schema, st.trimName, months), cut, cut, cut); err != nil {
		return res, wrapTrim("events", fmt.Errorf("keep latest events: %w", err))
	}
	kept, err := st.trimCounts(ctx)
	if err != nil {
		return res, wrapTrim("events", err)
	}
	removed, err := st.removedCounts(ctx, months)
	if err != nil {
		return res, wrapTrim("events", err)
	}
	for _, m := range months {
		// The helper is local to one server: should the pool have moved to
		// another since it was filled, its copy there differs, and the
		// swap would lose the kept rows. Check it right before.
		now, err := st.trimCounts(ctx)
		if err != nil {
			return res, wrapTrim("events", err)
		}
		if now[m] != kept[m] {
			return res, wrapTrim("events", fmt.Errorf("the kept rows of month %s changed (%d, then %d): another server answered; trim again", m, kept[m], now[m]))
		}
		if err := st.conn.Exec(ctx, replacePartitionSQL(st.schema, st.trimName, m)); err != nil {
			return res, wrapTrim("events", fmt.Errorf("replace month %s: %w", m, err))
		}
		st.trimmed[m] = kept[m]
		res.Partitions++
		res.Kept += kept[m]
		res.Rows += max(0, rows[m]-kept[m])
		for _, r := range removed[m] {
			res.AddRemoved(r.asset, r.kind, r.n)
		}
	}
	return res, nil
}

type removedCount struct {
	asset asset.Key
	kind  asset.Kind
	n     int64
}

// removedCounts returns what removedCountsSQL counts, by month.
func (st *Store) removedCounts(ctx context.Context, months []string) (map[string][]removedCount, error) {
	rows, err := st.conn.Query(ctx, removedCountsSQL(st.schema, st.trimName, months))
	if err != nil {
		return nil, fmt.Errorf("count removed events: %w", err)
	}
	defer rows.Close()
	out := map[string][]removedCount{}
	for rows.Next() {
		var (
			m, a, k string
			n       uint64
		)
		if err := rows.Scan(&m, &a, &k, &n); err != nil {
			return nil, fmt.Errorf("count removed events: %w", err)
		}
		out[m] = append(out[m], removedCount{asset.Key(a), asset.Kind(k), int64(n)})
	}
	return out, rows.Err()
}

// trimCounts returns the helper's rows by month.
func (st *Store) trimCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := st.conn.Query(ctx, trimCountSQL(st.schema, st.trimName))
	if err != nil {
		return nil, fmt.Errorf("count kept events: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			m string
			n uint64
		)
		if err := rows.Scan(&m, &n); err != nil {
			return nil, fmt.Errorf("count kept events: %w", err)
		}
		out[m] = int64(n)
	}
	return out, rows.Err()
}

// TrimRunLogs drops the months of run_log_lines that ended before
// `before`.
func (st *Store) TrimRunLogs(ctx context.Context, before time.Time) (store.Trimmed, error) {
	st.trimMu.Lock()
	defer st.trimMu.Unlock()
	var res store.Trimmed
	months, rows, err := st.oldPartitions(ctx, "run_log_lines", cutSeconds(before))
	if err != nil {
		return res, wrapTrim("run logs", err)
	}
	for _, m := range months {
		if err := st.conn.Exec(ctx, dropPartitionSQL(st.schema, "run_log_lines", m)); err != nil {
			return res, wrapTrim("run logs", fmt.Errorf("drop month %s: %w", m, err))
		}
		res.Partitions++
		res.Rows += rows[m]
	}
	return res, nil
}

func wrapTrim(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("clickhouse: trim %s: %w", what, err)
}

// trimStatements lists the statements of a trim with sample months, for
// allStatements: months with no rows, so running them changes nothing the
// other checks read.
func trimStatements(s schema) []statement {
	helper := trimPrefix + "check"
	months := []string{"202001", "202002"}
	cut := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	out := []statement{{name: "trim partitions", sql: oldPartitionsSQL(), args: []any{s.db, "events", cut}}}
	for i, q := range createTrimSQL(s, helper) {
		out = append(out, statement{name: fmt.Sprintf("trim helper %d", i+1), sql: q})
	}
	return append(out,
		statement{name: "trim keep edges", sql: keepEdgesSQL(s, months)},
		statement{name: "trim keep rows", sql: keepRowsSQL(s, helper, months), args: []any{cut, cut, cut}},
		statement{name: "trim count kept", sql: trimCountSQL(s, helper)},
		statement{name: "trim count removed", sql: removedCountsSQL(s, helper, months)},
		statement{name: "trim replace partition", sql: replacePartitionSQL(s, helper, months[0])},
		statement{name: "trim drop log partition", sql: dropPartitionSQL(s, "run_log_lines", months[1])},
		statement{name: "trim drop helper", sql: "DROP TABLE IF EXISTS " + s.table(helper)},
	)
}
