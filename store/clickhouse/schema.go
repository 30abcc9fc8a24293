package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// schema renders DDL and table names for one database, on one server or,
// when cluster is set, on every server of a cluster.
type schema struct {
	db      string
	cluster string
}

// table returns a qualified table name. Every statement qualifies its
// tables: ON CLUSTER DDL runs on other servers whose current database is
// not ours.
func (s schema) table(name string) string { return "`" + s.db + "`.`" + name + "`" }

// onCluster is the ON CLUSTER clause of DDL, empty on a single server.
func (s schema) onCluster() string {
	if s.cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + s.cluster + "`"
}

// engine returns a MergeTree-family engine clause. In cluster mode it is
// the Replicated variant, keyed by the {shard} and {replica} macros each
// server defines, so every replica holds the whole table.
func (s schema) engine(family, table string, args ...string) string {
	if s.cluster == "" {
		return family + "(" + strings.Join(args, ", ") + ")"
	}
	zk := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s'", s.db, table)
	return "Replicated" + family + "(" + strings.Join(append([]string{zk, "'{replica}'"}, args...), ", ") + ")"
}

func (s schema) createDatabase() string {
	return "CREATE DATABASE IF NOT EXISTS `" + s.db + "`" + s.onCluster()
}

func (s schema) createMigrations() string {
	return "CREATE TABLE IF NOT EXISTS " + s.table("schema_migrations") + s.onCluster() + ` (
    version UInt32,
    name String,
    applied_at DateTime
) ENGINE = ` + s.engine("ReplacingMergeTree", "schema_migrations") + ` ORDER BY version`
}

// migration is one schema change. Its statements must be idempotent
// (IF NOT EXISTS and the like): two servers starting at once may both run
// it, and a crash between the DDL and the version row reruns it.
type migration struct {
	version uint32
	name    string
	stmts   func(s schema) []string
}

// migrations returns the schema changes in order. Append new ones; never
// edit one that was released.
func migrations() []migration {
	return []migration{
		{version: 1, name: "initial tables", stmts: initialTables},
		{version: 2, name: "event id index", stmts: eventIDIndex},
		{version: 3, name: "runs, steps and run logs", stmts: runTables},
		{version: 4, name: "alert deliveries, incidents and silences", stmts: alertTables},
		{version: 5, name: "event log for servers that share the store", stmts: eventLog},
		{version: 6, name: "edges of trimmed events", stmts: edgesTable},
	}
}

// initialTables is migration 1. Times are Int64 nanoseconds since the epoch
// (DateTime64 does not exist on 18.16); a DateTime beside them (seconds,
// clamped to its range) partitions by month and leads the sort key.
func initialTables(s schema) []string {
	return []string{
		// events: append-only history, ordered for per-asset reads. A
		// replayed event is stored again; reads deduplicate by id, and
		// ReplacingMergeTree removes the copy for good when a merge meets
		// it (copies share the whole sort key, id included).
		"CREATE TABLE IF NOT EXISTS " + s.table("events") + s.onCluster() + ` (
    id String,
    kind String,
    asset String,
    time DateTime,
    time_ns Int64,
    run_id String,
    ` + "`partition`" + ` String,
    data_time_ns Int64,
    has_data_time UInt8,
    upstream Array(String),
    row_count Nullable(Int64),
    metadata String,
    has_check UInt8,
    check_name String,
    check_passed UInt8,
    check_severity String
) ENGINE = ` + s.engine("ReplacingMergeTree", "events") + `
PARTITION BY toYYYYMM(time)
ORDER BY (asset, time, id)`,

		// specs: the newest version of a key wins (argMax at read, merges
		// later); deleted marks a removed spec.
		"CREATE TABLE IF NOT EXISTS " + s.table("specs") + s.onCluster() + ` (
    key String,
    version UInt64,
    deleted UInt8,
    spec String
) ENGINE = ` + s.engine("ReplacingMergeTree", "specs", "version") + `
ORDER BY key`,

		// runs: one row per state change of a run; the newest
		// updated_ns is the run's current state.
		"CREATE TABLE IF NOT EXISTS " + s.table("runs") + s.onCluster() + ` (
    run_id String,
    asset String,
    ` + "`partition`" + ` String,
    trigger String,
    status String,
    attempt UInt32,
    started_ns Int64,
    ended_ns Int64,
    exit_code Int32,
    error String,
    updated_ns Int64,
    time DateTime
) ENGINE = ` + s.engine("ReplacingMergeTree", "runs", "updated_ns") + `
PARTITION BY toYYYYMM(time)
ORDER BY run_id`,

		// run_logs: output lines of runs, in order of seq within a run.
		"CREATE TABLE IF NOT EXISTS " + s.table("run_logs") + s.onCluster() + ` (
    run_id String,
    seq UInt64,
    time DateTime,
    time_ns Int64,
    stream String,
    line String
) ENGINE = ` + s.engine("MergeTree", "run_logs") + `
PARTITION BY toYYYYMM(time)
ORDER BY (run_id, seq)`,

		// freshness_states: every evaluation that changed an asset's state.
		"CREATE TABLE IF NOT EXISTS " + s.table("freshness_states") + s.onCluster() + ` (
    asset String,
    time DateTime,
    time_ns Int64,
    state String,
    previous_state String,
    lag_ns Int64,
    data_time_ns Int64,
    reason String
) ENGINE = ` + s.engine("MergeTree", "freshness_states") + `
PARTITION BY toYYYYMM(time)
ORDER BY (asset, time, time_ns)`,

		// alert_deliveries: the alert outbox, one row per delivery attempt
		// state; the newest updated_ns of (id, attempt) is current.
		"CREATE TABLE IF NOT EXISTS " + s.table("alert_deliveries") + s.onCluster() + ` (
    id String,
    sink String,
    asset String,
    event_id String,
    state String,
    attempt UInt32,
    time DateTime,
    time_ns Int64,
    next_attempt_ns Int64,
    status Int32,
    error String,
    updated_ns Int64
) ENGINE = ` + s.engine("ReplacingMergeTree", "alert_deliveries", "updated_ns") + `
PARTITION BY toYYYYMM(time)
ORDER BY (id, attempt)`,
	}
}

// eventIDIndex is migration 2: every stored event id, ordered by id, so
// AppendEvents can tell which ids of a batch are new with a primary-key
// lookup, and the first copy of an id wins on every read. A materialized
// view fills it inside each INSERT into events, on the server: no crash of
// Freshet can store an event without indexing its id. The backfill is
// idempotent in effect: a second run only adds copies, which merges remove
// and lookups do not mind.
func eventIDIndex(s schema) []string {
	return []string{
		"CREATE TABLE IF NOT EXISTS " + s.table("event_ids") + s.onCluster() + ` (
    id String
) ENGINE = ` + s.engine("ReplacingMergeTree", "event_ids") + `
ORDER BY id`,
		"CREATE MATERIALIZED VIEW IF NOT EXISTS " + s.table("event_ids_mv") + s.onCluster() +
			" TO " + s.table("event_ids") + " AS SELECT id FROM " + s.table("events"),
		"INSERT INTO " + s.table("event_ids") + " (id) SELECT DISTINCT id FROM " + s.table("events"),
	}
}

// runTables is migration 3: the executor's runs table (store.RunStore).
// Records are upserts by version, so run_records and run_steps are
// ReplacingMergeTree(updated_ns) keyed by the record's identity: merges
// keep the newest version (the last inserted of equal ones) and reads use
// FINAL, which applies the same rule to unmerged parts. Neither is
// partitioned: FINAL and merges only replace within a partition, and no
// column of a record stays fixed across its versions except the key.
// run_log_lines is keyed by (run_id, seq) and partitioned by the month of
// the line, for retention; a re-appended line is a copy merges remove and
// reads skip (copies sort adjacent).
//
// Migration 1's runs and run_logs tables were placeholders no release
// wrote to: runs holds one row per run, so no steps, and run_logs lacks the
// asset, attempt and truncation of a line. They are dropped rather than
// altered, so that one name means one thing.
func runTables(s schema) []string {
	return []string{
		"CREATE TABLE IF NOT EXISTS " + s.table("run_records") + s.onCluster() + ` (
    run_id String,
    status String,
    trigger String,
    selection String,
    ` + "`partition`" + ` String,
    parent String,
    reason String,
    owner String,
    created_ns Int64,
    started_ns Int64,
    ended_ns Int64,
    updated_ns Int64
) ENGINE = ` + s.engine("ReplacingMergeTree", "run_records", "updated_ns") + `
ORDER BY run_id`,

		"CREATE TABLE IF NOT EXISTS " + s.table("run_steps") + s.onCluster() + ` (
    run_id String,
    asset String,
    step_index Int64,
    status String,
    attempts Int64,
    reason String,
    started_ns Int64,
    ended_ns Int64,
    pid Int64,
    pid_start UInt64,
    updated_ns Int64
) ENGINE = ` + s.engine("ReplacingMergeTree", "run_steps", "updated_ns") + `
ORDER BY (run_id, asset)`,

		"CREATE TABLE IF NOT EXISTS " + s.table("run_log_lines") + s.onCluster() + ` (
    run_id String,
    seq UInt64,
    asset String,
    attempt Int64,
    stream String,
    time DateTime,
    time_ns Int64,
    text String,
    truncated UInt8
) ENGINE = ` + s.engine("ReplacingMergeTree", "run_log_lines") + `
PARTITION BY toYYYYMM(time)
ORDER BY (run_id, seq)`,

		"DROP TABLE IF EXISTS " + s.table("runs") + s.onCluster(),
		"DROP TABLE IF EXISTS " + s.table("run_logs") + s.onCluster(),
	}
}

// alertTables is migration 4: the alert store (store.AlertStore). Like the
// run records, deliveries, incidents and silences are upserts by version:
// ReplacingMergeTree(updated_ns) keyed by the record's identity, not
// partitioned (FINAL and merges replace only within a partition, and
// nothing of a record but its key is fixed across its versions), read
// with FINAL. Notifications and selectors are String: ClickHouse strings
// are bytes, so the JSON comes back as it went in, whatever it holds.
//
// Migration 1's alert_deliveries was a placeholder no release wrote to:
// one row per attempt keyed by (id, attempt) and partitioned by month, so
// versions of one delivery in two months never collapse, and it holds no
// notification, receiver or incident key. It is dropped rather than
// altered, as migration 3 dropped the run placeholders, so that one name
// means one thing; deliveries live in alert_delivery_records. Dropping
// under a new name also keeps the migration safe to rerun: a DROP of the
// name its own CREATE used would delete deliveries written by a server
// that finished the migration first.
func alertTables(s schema) []string {
	return []string{
		"CREATE TABLE IF NOT EXISTS " + s.table("alert_delivery_records") + s.onCluster() + ` (
    id String,
    receiver String,
    dedup_key String,
    status String,
    notification String,
    state String,
    attempts Int64,
    next_attempt_ns Int64,
    last_code Int64,
    last_error String,
    last_latency_ns Int64,
    created_ns Int64,
    updated_ns Int64
) ENGINE = ` + s.engine("ReplacingMergeTree", "alert_delivery_records", "updated_ns") + `
ORDER BY id`,

		"CREATE TABLE IF NOT EXISTS " + s.table("alert_incidents") + s.onCluster() + ` (
    dedup_key String,
    rule String,
    root_cause String,
    notification String,
    starts_at_ns Int64,
    ends_at_ns Int64,
    last_sent_ns Int64,
    updated_ns Int64
) ENGINE = ` + s.engine("ReplacingMergeTree", "alert_incidents", "updated_ns") + `
ORDER BY dedup_key`,

		"CREATE TABLE IF NOT EXISTS " + s.table("alert_silences") + s.onCluster() + ` (
    id String,
    selector String,
    comment String,
    created_by String,
    starts_at_ns Int64,
    ends_at_ns Int64,
    created_ns Int64,
    updated_ns Int64
) ENGINE = ` + s.engine("ReplacingMergeTree", "alert_silences", "updated_ns") + `
ORDER BY id`,

		"DROP TABLE IF EXISTS " + s.table("alert_deliveries") + s.onCluster(),
	}
}

// migrate creates the database and applies the migrations not yet recorded.
//
// A database whose migrations are all applied gets no DDL at all: in
// cluster mode every DDL statement runs ON CLUSTER and waits for every
// replica (on 18.16 up to distributed_ddl_task_timeout, 180 s, then
// fails), and a replica that is down must not keep Freshet from starting.
func (st *Store) migrate(ctx context.Context) error {
	applied, err := st.appliedMigrations(ctx)
	var ex *ch.Exception
	if errors.As(err, &ex) && ex.Code == codeUnknownTable {
		if err := st.conn.Exec(ctx, st.schema.createMigrations()); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err = st.appliedMigrations(ctx)
	}
	if err != nil {
		return err
	}
	for _, m := range migrations() {
		if applied[m.version] {
			continue
		}
		start := time.Now()
		for _, q := range m.stmts(st.schema) {
			if err := st.conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
		}
		batch, err := st.conn.PrepareBatch(ctx, st.q.insertMigration)
		if err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
		if err := batch.Append(m.version, m.name, time.Now().UTC()); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
		st.log.Info("clickhouse migration applied", "version", m.version, "name", m.name,
			"database", st.schema.db, "took", time.Since(start))
	}
	return nil
}

func (st *Store) appliedMigrations(ctx context.Context) (map[uint32]bool, error) {
	rows, err := st.conn.Query(ctx, st.q.selectMigrations)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}
