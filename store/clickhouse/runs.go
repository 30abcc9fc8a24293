package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// The runs table (store.RunStore) lives in run_records, run_steps and
// run_log_lines (migration 3, runTables). Writes are plain inserts of
// whole records; the newest Updated wins through ReplacingMergeTree, and
// reads use FINAL so that versions not merged yet never show twice or
// stale. Times are Int64 nanoseconds with 0 for a zero time.Time (a time
// of exactly 1970-01-01T00:00:00Z reads back as zero).

var _ store.RunStore = (*Store)(nil)

// Column lists, in the order of the column slices the writers append and
// of the scan targets the readers use.
const (
	runCols  = "run_id, status, trigger, selection, `partition`, parent, reason, owner, created_ns, started_ns, ended_ns, updated_ns"
	stepCols = "run_id, asset, step_index, status, attempts, reason, started_ns, ended_ns, pid, pid_start, updated_ns"
	// logCols is what RunLogs reads; insertLogCols adds the partition
	// column time.
	logCols       = "run_id, seq, asset, attempt, stream, time_ns, text, truncated"
	insertLogCols = "run_id, seq, asset, attempt, stream, time, time_ns, text, truncated"
)

func insertRunsSQL(s schema) string {
	return "INSERT INTO " + s.table("run_records") + " (" + runCols + ")"
}

func insertStepsSQL(s schema) string {
	return "INSERT INTO " + s.table("run_steps") + " (" + stepCols + ")"
}

func insertLogsSQL(s schema) string {
	return "INSERT INTO " + s.table("run_log_lines") + " (" + insertLogCols + ")"
}

// runSQL reads one run. FINAL with a condition on the sort key only: all
// versions of the run pass it, and FINAL picks the newest.
func runSQL(s schema) string {
	return "SELECT " + runCols + " FROM " + s.table("run_records") + " FINAL WHERE run_id = ?"
}

func stepsSQL(s schema) string {
	return "SELECT " + stepCols + " FROM " + s.table("run_steps") + " FINAL WHERE run_id = ? ORDER BY step_index, asset"
}

// logsSQL reads a run's lines after a seq. Copies of a line are not
// removed here: they share (run_id, seq), arrive adjacent and the reader
// skips them, which keeps ORDER BY ... LIMIT a top-k over the run's
// granules.
func logsSQL(s schema) string {
	return "SELECT " + logCols + " FROM " + s.table("run_log_lines") + " WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"
}

// runsQuery renders one page of Runs. The current state of every run
// comes from a FINAL subquery and the filters apply outside it, to
// current states only: a condition inside could pass an old version of a
// run whose current one fails it (and the server may evaluate WHERE before
// FINAL merges when it moves it to PREWHERE). Values are bound
// client-side; a slice cannot be bound to IN (?), so each status gets its
// own placeholder.
func runsQuery(s schema, q store.RunQuery, after *store.Position, limit int) (string, []any) {
	var where []string
	var args []any
	if len(q.Statuses) > 0 {
		marks := make([]string, len(q.Statuses))
		for i, st := range q.Statuses {
			marks[i] = "?"
			args = append(args, st)
		}
		where = append(where, "status IN ("+strings.Join(marks, ", ")+")")
	}
	if q.Trigger != "" {
		where = append(where, "trigger = ?")
		args = append(args, q.Trigger)
	}
	if q.Asset != "" {
		// Any version of a step names its asset: the key holds it.
		where = append(where, "run_id IN (SELECT run_id FROM "+s.table("run_steps")+" WHERE asset = ?)")
		args = append(args, string(q.Asset))
	}
	if !q.Since.IsZero() {
		where = append(where, "created_ns >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		where = append(where, "created_ns < ?")
		args = append(args, q.Until.UnixNano())
	}
	if after != nil {
		where = append(where, "(created_ns, run_id) < (?, ?)")
		args = append(args, after.Time.UnixNano(), after.ID)
	}
	sql := "SELECT " + runCols + " FROM (SELECT " + runCols + " FROM " + s.table("run_records") + " FINAL)"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY created_ns DESC, run_id DESC LIMIT ?"
	return sql, append(args, limit)
}

// nsOf and timeOf convert between times and the *_ns columns, 0 standing
// for the zero time.
func nsOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// latest returns the indexes of the records of batch that an upsert
// keeps, one per key: of several with a key, the newest Updated, and of
// equal ones the later. Sending one row per key leaves ReplacingMergeTree
// no tie to break inside an insert; across inserts, it keeps the last
// inserted of equal versions, as FINAL does.
func latest[T any, K comparable](batch []T, key func(*T) K, updated func(*T) time.Time) []int {
	at := make(map[K]int, len(batch)) // key -> index into keep
	keep := make([]int, 0, len(batch))
	for i := range batch {
		k := key(&batch[i])
		j, seen := at[k]
		switch {
		case !seen:
			at[k] = len(keep)
			keep = append(keep, i)
		case !updated(&batch[i]).Before(updated(&batch[keep[j]])):
			keep[j] = i
		}
	}
	return keep
}

// PutRuns inserts the runs as new versions, in one insert.
func (st *Store) PutRuns(ctx context.Context, runs []store.RunRecord) error {
	if err := store.CheckRuns(runs); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	if len(runs) == 0 {
		return nil
	}
	keep := latest(runs, func(r *store.RunRecord) string { return r.ID },
		func(r *store.RunRecord) time.Time { return r.Updated })
	var c runColumns
	c.reset(len(keep))
	for _, i := range keep {
		c.add(&runs[i])
	}
	if err := st.insertColumns(ctx, insertRunsSQL(st.schema), c.columns()); err != nil {
		return fmt.Errorf("clickhouse: put runs: %w", err)
	}
	return nil
}

// PutSteps inserts the steps as new versions, in one insert.
func (st *Store) PutSteps(ctx context.Context, steps []store.StepRecord) error {
	if err := store.CheckSteps(steps); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	if len(steps) == 0 {
		return nil
	}
	type stepKey struct {
		run   string
		asset asset.Key
	}
	keep := latest(steps, func(s *store.StepRecord) stepKey { return stepKey{s.RunID, s.Asset} },
		func(s *store.StepRecord) time.Time { return s.Updated })
	var c stepColumns
	c.reset(len(keep))
	for _, i := range keep {
		c.add(&steps[i])
	}
	if err := st.insertColumns(ctx, insertStepsSQL(st.schema), c.columns()); err != nil {
		return fmt.Errorf("clickhouse: put steps: %w", err)
	}
	return nil
}

// AppendRunLogs inserts the lines, each (RunID, Seq) of the batch once.
// Lines already stored are inserted again: the copy costs a row until a
// merge removes it, where looking them up would cost a query per append.
func (st *Store) AppendRunLogs(ctx context.Context, lines []store.RunLogLine) error {
	if err := store.CheckRunLogs(lines); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	if len(lines) == 0 {
		return nil
	}
	var c logColumns
	c.reset(len(lines))
	type key struct {
		run string
		seq uint64
	}
	seen := make(map[key]bool, len(lines))
	for i := range lines {
		k := key{lines[i].RunID, lines[i].Seq}
		if seen[k] {
			continue
		}
		seen[k] = true
		c.add(&lines[i])
	}
	if err := st.insertColumns(ctx, insertLogsSQL(st.schema), c.columns()); err != nil {
		return fmt.Errorf("clickhouse: append run logs: %w", err)
	}
	return nil
}

// insertColumns sends one insert of whole columns, in the order of the
// statement's column list.
func (st *Store) insertColumns(ctx context.Context, sql string, cols []any) error {
	batch, err := st.conn.PrepareBatch(ctx, sql)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return batch.Send()
}

// Run reads a run and then its steps.
func (st *Store) Run(ctx context.Context, id string) (store.RunRecord, []store.StepRecord, error) {
	rows, err := st.conn.Query(ctx, runSQL(st.schema), id)
	if err != nil {
		return store.RunRecord{}, nil, fmt.Errorf("clickhouse: run %s: %w", id, err)
	}
	runs, err := scanRuns(rows, 1)
	if err != nil {
		return store.RunRecord{}, nil, fmt.Errorf("clickhouse: run %s: %w", id, err)
	}
	if len(runs) == 0 {
		return store.RunRecord{}, nil, fmt.Errorf("clickhouse: run %q: %w", id, store.ErrRunNotFound)
	}
	if rows, err = st.conn.Query(ctx, stepsSQL(st.schema), id); err != nil {
		return store.RunRecord{}, nil, fmt.Errorf("clickhouse: steps of run %s: %w", id, err)
	}
	defer rows.Close()
	var steps []store.StepRecord
	for rows.Next() {
		var r stepRow
		if err := rows.Scan(r.dest()...); err != nil {
			return store.RunRecord{}, nil, fmt.Errorf("clickhouse: steps of run %s: %w", id, err)
		}
		steps = append(steps, r.step())
	}
	if err := rows.Err(); err != nil {
		return store.RunRecord{}, nil, fmt.Errorf("clickhouse: steps of run %s: %w", id, err)
	}
	return runs[0], steps, nil
}

// Runs reads one page, asking for one run more than the limit to tell
// whether a next page exists.
func (st *Store) Runs(ctx context.Context, q store.RunQuery) (store.RunPage, error) {
	var after *store.Position
	if q.Cursor != "" {
		pos, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return store.RunPage{}, err
		}
		after = &pos
	}
	limit := q.EffectiveLimit()
	sql, args := runsQuery(st.schema, q, after, limit+1)
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return store.RunPage{}, fmt.Errorf("clickhouse: runs: %w", err)
	}
	runs, err := scanRuns(rows, limit+1)
	if err != nil {
		return store.RunPage{}, fmt.Errorf("clickhouse: runs: %w", err)
	}
	var page store.RunPage
	if len(runs) > limit {
		runs = runs[:limit]
		last := runs[limit-1]
		page.Next = store.EncodeCursor(store.Position{Time: last.Created, ID: last.ID})
	}
	page.Runs = runs
	return page, nil
}

// scanRuns reads rows of runCols and closes them.
func scanRuns(rows driver.Rows, capacity int) ([]store.RunRecord, error) {
	defer rows.Close()
	out := make([]store.RunRecord, 0, capacity)
	for rows.Next() {
		var r runRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		out = append(out, r.run())
	}
	return out, rows.Err()
}

// RunLogs reads lines after q.AfterSeq in seq order. Skipping copies can
// leave a read short; it then reads on from the last line until it has
// the limit or the run's lines run out.
func (st *Store) RunLogs(ctx context.Context, q store.RunLogQuery) ([]store.RunLogLine, error) {
	limit := q.EffectiveLimit()
	out := make([]store.RunLogLine, 0, min(limit, 1024))
	after := q.AfterSeq
	for {
		asked := limit - len(out)
		n, err := st.readLogs(ctx, q.RunID, after, asked, &out)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: run logs of %s: %w", q.RunID, err)
		}
		if len(out) >= limit || n < asked {
			return out, nil
		}
		after = out[len(out)-1].Seq
	}
}

// readLogs appends the distinct lines of one query to *out and returns
// how many rows the query gave.
func (st *Store) readLogs(ctx context.Context, runID string, after uint64, limit int, out *[]store.RunLogLine) (int, error) {
	rows, err := st.conn.Query(ctx, logsSQL(st.schema), runID, after, limit)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			l         store.RunLogLine
			a         string
			attempt   int64
			timeNS    int64
			truncated uint8
		)
		if err := rows.Scan(&l.RunID, &l.Seq, &a, &attempt, &l.Stream, &timeNS, &l.Text, &truncated); err != nil {
			return 0, err
		}
		n++
		if k := len(*out); k > 0 && (*out)[k-1].Seq == l.Seq {
			continue // a copy of the previous line
		}
		l.Asset, l.Attempt, l.Time, l.Truncated = asset.Key(a), int(attempt), timeOf(timeNS), truncated != 0
		*out = append(*out, l)
	}
	return n, rows.Err()
}

// runColumns holds runs column by column, in runCols order.
type runColumns struct {
	id, status, trigger, selection, part, parent, reason, owner []string
	created, started, ended, updated                            []int64
}

func (c *runColumns) reset(n int) {
	str := func() []string { return make([]string, 0, n) }
	i64 := func() []int64 { return make([]int64, 0, n) }
	*c = runColumns{id: str(), status: str(), trigger: str(), selection: str(), part: str(), parent: str(),
		reason: str(), owner: str(), created: i64(), started: i64(), ended: i64(), updated: i64()}
}

func (c *runColumns) add(r *store.RunRecord) {
	c.id, c.status, c.trigger = append(c.id, r.ID), append(c.status, r.Status), append(c.trigger, r.Trigger)
	c.selection, c.part = append(c.selection, r.Selection), append(c.part, r.Partition)
	c.parent, c.reason, c.owner = append(c.parent, r.Parent), append(c.reason, r.Reason), append(c.owner, r.Owner)
	c.created, c.started = append(c.created, nsOf(r.Created)), append(c.started, nsOf(r.Started))
	c.ended, c.updated = append(c.ended, nsOf(r.Ended)), append(c.updated, nsOf(r.Updated))
}

func (c *runColumns) columns() []any {
	return []any{c.id, c.status, c.trigger, c.selection, c.part, c.parent, c.reason, c.owner,
		c.created, c.started, c.ended, c.updated}
}

// runRow is a run as read, in runCols order.
type runRow struct {
	id, status, trigger, selection, part, parent, reason, owner string
	created, started, ended, updated                            int64
}

func (r *runRow) dest() []any {
	return []any{&r.id, &r.status, &r.trigger, &r.selection, &r.part, &r.parent, &r.reason, &r.owner,
		&r.created, &r.started, &r.ended, &r.updated}
}

func (r *runRow) run() store.RunRecord {
	return store.RunRecord{ID: r.id, Status: r.status, Trigger: r.trigger, Selection: r.selection,
		Partition: r.part, Parent: r.parent, Reason: r.reason, Owner: r.owner,
		Created: timeOf(r.created), Started: timeOf(r.started), Ended: timeOf(r.ended), Updated: timeOf(r.updated)}
}

// stepColumns holds steps column by column, in stepCols order.
type stepColumns struct {
	runID, asset, status, reason                  []string
	index, attempts, started, ended, pid, updated []int64
	pidStart                                      []uint64
}

func (c *stepColumns) reset(n int) {
	str := func() []string { return make([]string, 0, n) }
	i64 := func() []int64 { return make([]int64, 0, n) }
	*c = stepColumns{runID: str(), asset: str(), status: str(), reason: str(), index: i64(), attempts: i64(),
		started: i64(), ended: i64(), pid: i64(), updated: i64(), pidStart: make([]uint64, 0, n)}
}

func (c *stepColumns) add(s *store.StepRecord) {
	c.runID, c.asset, c.index = append(c.runID, s.RunID), append(c.asset, string(s.Asset)), append(c.index, int64(s.Index))
	c.status, c.attempts, c.reason = append(c.status, s.Status), append(c.attempts, int64(s.Attempts)), append(c.reason, s.Reason)
	c.started, c.ended = append(c.started, nsOf(s.Started)), append(c.ended, nsOf(s.Ended))
	c.pid, c.pidStart, c.updated = append(c.pid, int64(s.PID)), append(c.pidStart, s.PIDStart), append(c.updated, nsOf(s.Updated))
}

func (c *stepColumns) columns() []any {
	return []any{c.runID, c.asset, c.index, c.status, c.attempts, c.reason, c.started, c.ended, c.pid, c.pidStart, c.updated}
}

// stepRow is a step as read, in stepCols order.
type stepRow struct {
	runID, asset, status, reason                  string
	index, attempts, started, ended, pid, updated int64
	pidStart                                      uint64
}

func (r *stepRow) dest() []any {
	return []any{&r.runID, &r.asset, &r.index, &r.status, &r.attempts, &r.reason, &r.started, &r.ended,
		&r.pid, &r.pidStart, &r.updated}
}

func (r *stepRow) step() store.StepRecord {
	return store.StepRecord{RunID: r.runID, Asset: asset.Key(r.asset), Index: int(r.index), Status: r.status,
		Attempts: int(r.attempts), Reason: r.reason, Started: timeOf(r.started), Ended: timeOf(r.ended),
		PID: int(r.pid), PIDStart: r.pidStart, Updated: timeOf(r.updated)}
}

// logColumns holds log lines column by column, in insertLogCols order.
type logColumns struct {
	runID, asset, stream, text []string
	seq                        []uint64
	attempt, timeNS            []int64
	time                       []time.Time
	truncated                  []uint8
}

func (c *logColumns) reset(n int) {
	str := func() []string { return make([]string, 0, n) }
	*c = logColumns{runID: str(), asset: str(), stream: str(), text: str(), seq: make([]uint64, 0, n),
		attempt: make([]int64, 0, n), timeNS: make([]int64, 0, n), time: make([]time.Time, 0, n),
		truncated: make([]uint8, 0, n)}
}

func (c *logColumns) add(l *store.RunLogLine) {
	ns := nsOf(l.Time)
	c.runID, c.seq, c.asset = append(c.runID, l.RunID), append(c.seq, l.Seq), append(c.asset, string(l.Asset))
	c.attempt, c.stream = append(c.attempt, int64(l.Attempt)), append(c.stream, l.Stream)
	c.time, c.timeNS = append(c.time, time.Unix(dateTimeSec(ns), 0)), append(c.timeNS, ns)
	c.text, c.truncated = append(c.text, l.Text), append(c.truncated, boolByte(l.Truncated))
}

func (c *logColumns) columns() []any {
	return []any{c.runID, c.seq, c.asset, c.attempt, c.stream, c.time, c.timeNS, c.text, c.truncated}
}

// runStatements lists every statement text the run methods send, with
// sample arguments, for the chDB test to run on current ClickHouse (the
// conformance suite runs them on 18.16). The samples put two versions of
// one run, the newer FAILURE; run twice, they also leave copies to skip.
func runStatements(db string) []statement {
	s := schema{db: db}
	t := time.Date(2026, 11, 23, 10, 30, 0, 123456789, time.UTC).UnixNano()
	runRow := func(status string, updated int64) []any {
		return []any{"run-1", status, "manual", "+warehouse/orders", "2026-11-23", "", "", "freshet-0",
			t, t + 1, int64(0), updated}
	}
	out := []statement{
		{name: "runs insert v1", sql: insertRunsSQL(s), batch: true, args: runRow("SUCCESS", t+1)},
		{name: "runs insert v2", sql: insertRunsSQL(s), batch: true, args: runRow("FAILURE", t+2)},
		{name: "runs insert step", sql: insertStepsSQL(s), batch: true,
			args: []any{"run-1", "warehouse/orders", int64(0), "FAILURE", int64(2), "exit 1", t + 1, t + 2, int64(4242), uint64(1) << 63, t + 2}},
		{name: "runs insert log line", sql: insertLogsSQL(s), batch: true,
			args: []any{"run-1", uint64(1), "warehouse/orders", int64(1), "stderr", time.Unix(0, t), t, "boom", uint8(1)}},
		{name: "runs run", sql: runSQL(s), args: []any{"run-1"}},
		{name: "runs steps", sql: stepsSQL(s), args: []any{"run-1"}},
		{name: "runs logs", sql: logsSQL(s), args: []any{"run-1", uint64(0), 100}},
	}
	for _, c := range []struct {
		name string
		q    store.RunQuery
	}{
		{"runs page", store.RunQuery{}},
		{"runs page failed", store.RunQuery{Statuses: []string{"FAILURE"}}},
		{"runs page succeeded", store.RunQuery{Statuses: []string{"SUCCESS", "CANCELED"}, Trigger: "manual"}},
		{"runs page of asset", store.RunQuery{Asset: "warehouse/orders", Since: time.Unix(0, t), Until: time.Unix(0, t+1)}},
	} {
		sql, args := runsQuery(s, c.q, &store.Position{Time: time.Unix(0, t+1), ID: "zzz"}, 101)
		out = append(out, statement{name: c.name, sql: sql, args: args})
	}
	return out
}
