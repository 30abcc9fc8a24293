package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// eventLog is migration 5: the order in which the server took events, for
// Freshet servers that share it (store.EventLog). A materialized view
// (logView, created by StartLog) fills it inside each INSERT into events,
// stamped with the server's clock, so every writer's events land in one
// order no client clock decides; replicas copy it like any Replicated
// table (a view fires only where the insert happened, never for a fetched
// part). Keyed by (stored, id) so that a follower's "since" is a
// primary-key range, and partitioned by day so that TrimLog drops whole
// days.
//
// The first version of this migration created the view too, so every
// insert paid for a log a single server never reads (about a sixth of the
// server's CPU per event in bench-ingest). Databases migrated then keep
// the view; a single server trims what it logs.
func eventLog(s schema) []string {
	return []string{
		"CREATE TABLE IF NOT EXISTS " + s.table("event_log") + s.onCluster() + ` (
    stored DateTime,
    id String,
    asset String,
    time_ns Int64
) ENGINE = ` + s.engine("MergeTree", "event_log") + `
PARTITION BY toYYYYMMDD(stored)
ORDER BY (stored, id)`,
	}
}

// logView is the statement that makes every INSERT into events fill
// event_log (see eventLog).
func logView(s schema) string {
	return "CREATE MATERIALIZED VIEW IF NOT EXISTS " + s.table("event_log_mv") + s.onCluster() +
		" TO " + s.table("event_log") + " AS SELECT now() AS stored, id, asset, time_ns FROM " + s.table("events")
}

// StartLog implements store.EventLog: it creates the view that fills
// event_log, on every replica of a cluster.
func (st *Store) StartLog(ctx context.Context) error {
	if err := st.conn.Exec(ctx, logView(st.schema)); err != nil {
		return fmt.Errorf("clickhouse: start the event log: %w", err)
	}
	return nil
}

// logQueries are the event log's statements.
type logQueries struct {
	logged, loggedAfter, loggedEvents, partitions, dropPartition string
}

func newLogQueries(s schema) logQueries {
	return logQueries{
		logged: "SELECT stored, id, asset, time_ns FROM " + s.table("event_log") +
			" WHERE stored >= toDateTime(?) ORDER BY stored, id LIMIT ?",
		loggedAfter: "SELECT stored, id, asset, time_ns FROM " + s.table("event_log") +
			" WHERE stored >= toDateTime(?) AND (stored, id) > (toDateTime(?), ?) ORDER BY stored, id LIMIT ?",
		// The assets and the time range let the server skip what the
		// primary key (asset, time, id) and the monthly partitions rule out.
		loggedEvents: "SELECT " + eventCols + " FROM " + s.table("events") +
			" WHERE asset IN " + idsTable + "_assets AND time >= toDateTime(?) AND time <= toDateTime(?) AND id IN " + idsTable +
			" ORDER BY asset, time_ns, id",
		partitions: "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = 'event_log' AND active AND partition < ?",
		// No ON CLUSTER: a replicated table's DROP PARTITION reaches every
		// replica through ZooKeeper, and ON CLUSTER would wait for a
		// replica that is down.
		dropPartition: "ALTER TABLE " + s.table("event_log") + " DROP PARTITION ",
	}
}

// Logged implements store.EventLog.
func (st *Store) Logged(ctx context.Context, since time.Time, after *store.LogEntry, limit int) ([]store.LogEntry, error) {
	if limit <= 0 {
		limit = store.MaxLimit
	}
	var sql string
	args := []any{max(since.Unix(), 0)} // DateTime starts at the epoch, and wraps below it
	if after != nil {
		sql = st.lq.loggedAfter
		args = append(args, after.Stored.Unix(), after.ID)
	} else {
		sql = st.lq.logged
	}
	args = append(args, limit)
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: event log: %w", err)
	}
	defer rows.Close()
	var out []store.LogEntry
	for rows.Next() {
		var (
			stored time.Time
			id, a  string
			timeNS int64
		)
		if err := rows.Scan(&stored, &id, &a, &timeNS); err != nil {
			return nil, fmt.Errorf("clickhouse: event log: %w", err)
		}
		out = append(out, store.LogEntry{Stored: stored.UTC(), ID: id, Asset: asset.Key(a), Time: time.Unix(0, timeNS).UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: event log: %w", err)
	}
	return out, nil
}

// LoggedEvents implements store.EventLog.
func (st *Store) LoggedEvents(ctx context.Context, entries []store.LogEntry) ([]asset.Event, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	ids, err := ext.NewTable(idsTable, ext.Column("id", "String"))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: logged events: %w", err)
	}
	assets, err := ext.NewTable(idsTable+"_assets", ext.Column("id", "String"))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: logged events: %w", err)
	}
	seen := map[asset.Key]bool{}
	lo, hi := entries[0].Time, entries[0].Time
	for _, e := range entries {
		if err := ids.Append(e.ID); err != nil {
			return nil, fmt.Errorf("clickhouse: logged events: %w", err)
		}
		if !seen[e.Asset] {
			seen[e.Asset] = true
			if err := assets.Append(string(e.Asset)); err != nil {
				return nil, fmt.Errorf("clickhouse: logged events: %w", err)
			}
		}
		lo, hi = minTime(lo, e.Time), maxTime(hi, e.Time)
	}
	rows, err := st.conn.Query(ch.Context(ctx, ch.WithExternalTable(ids, assets)), st.lq.loggedEvents,
		dateTimeSec(lo.UnixNano()), dateTimeSec(hi.UnixNano())+1)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: logged events: %w", err)
	}
	defer rows.Close()
	var out []asset.Event
	got := make(map[string]bool, len(entries))
	for rows.Next() {
		var r eventRecord
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("clickhouse: logged events: %w", err)
		}
		if got[r.id] {
			continue // a copy: the first in (time, id) order is the one reads show
		}
		got[r.id] = true
		e, err := r.event()
		if err != nil {
			return nil, fmt.Errorf("clickhouse: logged events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: logged events: %w", err)
	}
	return out, nil
}

// TrimLog implements store.EventLog: it drops the log's daily partitions
// before before's day.
func (st *Store) TrimLog(ctx context.Context, before time.Time) error {
	day := before.UTC().Format("20060102")
	rows, err := st.conn.Query(ctx, st.lq.partitions, st.schema.db, day)
	if err != nil {
		return fmt.Errorf("clickhouse: trim event log: %w", err)
	}
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return fmt.Errorf("clickhouse: trim event log: %w", err)
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: trim event log: %w", err)
	}
	slices.Sort(parts)
	for _, p := range parts {
		if !isDay(p) {
			continue
		}
		if err := st.conn.Exec(ctx, st.lq.dropPartition+p); err != nil {
			return fmt.Errorf("clickhouse: trim event log: drop %s: %w", p, err)
		}
	}
	return nil
}

// isDay reports whether p is a yyyymmdd partition id, so that only such
// text is ever spliced into DROP PARTITION.
func isDay(p string) bool {
	if len(p) != 8 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
