package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/store"
)

// The alert store (store.AlertStore) lives in alert_delivery_records,
// alert_incidents and alert_silences (migration 4, alertTables). As for
// runs, writes are plain inserts of whole records; the newest Updated wins
// through ReplacingMergeTree, and reads use FINAL. Times are Int64
// nanoseconds with 0 for a zero time.Time (a time of exactly
// 1970-01-01T00:00:00Z reads back as zero: an incident ending then reads
// as open, and a zero NextAttempt is due from the epoch on).
//
// Deliveries carry their notification, a kilobyte or more of JSON, in
// every version. The delivery reads therefore pick their rows in two
// steps: FINAL over the few narrow columns the choice needs (id, the sort
// column, and what the filters read) chooses the ids, and only those rows
// are read whole, again with FINAL, the ids as a PREWHERE: 18.16 moves no
// condition to PREWHERE under FINAL by itself, and without it reads every
// column of the granules the primary key selects before filtering. A
// PREWHERE under FINAL filters rows before versions are merged, which is
// right only for a condition on the sort key: all versions of a record
// pass it or none. FINAL over the whole table would read every
// notification ever sent to return a hundred (measured with 1 KiB
// notifications: DueDeliveries over 200,000 deliveries in 0.2 s instead
// of 0.86 s before merges, 0.06 s instead of 0.47 s after; PREWHERE then
// took a 20,000-delivery page from 65 to 16 ms, see alerts_bench_test.go).

var _ store.AlertStore = (*Store)(nil)

// Column lists, in the order of the column slices the writers append and
// of the scan targets the readers use.
const (
	deliveryCols = "id, receiver, dedup_key, status, notification, state, attempts, next_attempt_ns, last_code, last_error, last_latency_ns, created_ns, updated_ns"
	incidentCols = "dedup_key, rule, root_cause, notification, starts_at_ns, ends_at_ns, last_sent_ns, updated_ns"
	silenceCols  = "id, selector, comment, created_by, starts_at_ns, ends_at_ns, created_ns, updated_ns"
)

func insertDeliveriesSQL(s schema) string {
	return "INSERT INTO " + s.table("alert_delivery_records") + " (" + deliveryCols + ")"
}

func insertIncidentsSQL(s schema) string {
	return "INSERT INTO " + s.table("alert_incidents") + " (" + incidentCols + ")"
}

func insertSilencesSQL(s schema) string {
	return "INSERT INTO " + s.table("alert_silences") + " (" + silenceCols + ")"
}

// deliveriesQuery renders one page of Deliveries. The inner query chooses
// the page's ids from the current state of every delivery (FINAL over the
// narrow columns), with the filters and the cursor applied outside FINAL
// so that they see current states only (see runsQuery). A Key filter
// first narrows FINAL to the ids that have any version with that key, a
// superset of those whose current version has it, found without FINAL:
// an incident has a handful of deliveries, and the primary key then reads
// only their granules (measured: half the time of a Key page over 200,000
// deliveries). Other filters match too many rows for that to pay. The
// outer query reads the chosen rows whole and orders them; it repeats no
// filter, so a version written between the two reads shows as it is now
// rather than leaving a hole in the page.
func deliveriesQuery(s schema, q store.DeliveryQuery, after *store.Position, limit int) (string, []any) {
	table := s.table("alert_delivery_records")
	cols := []string{"id", "created_ns"} // and the columns the filters read
	var where []string
	var args []any
	prefilter := ""
	if q.Key != "" {
		prefilter = " PREWHERE id IN (SELECT id FROM " + table + " WHERE dedup_key = ?)"
		cols = append(cols, "dedup_key")
		where = append(where, "dedup_key = ?")
		args = append(args, q.Key, q.Key)
	}
	if q.Receiver != "" {
		cols = append(cols, "receiver")
		where = append(where, "receiver = ?")
		args = append(args, q.Receiver)
	}
	if len(q.States) > 0 {
		marks := make([]string, len(q.States))
		for i, st := range q.States {
			marks[i] = "?"
			args = append(args, st)
		}
		cols = append(cols, "state")
		where = append(where, "state IN ("+strings.Join(marks, ", ")+")")
	}
	if after != nil {
		where = append(where, "(created_ns, id) < (?, ?)")
		args = append(args, after.Time.UnixNano(), after.ID)
	}
	ids := "SELECT id FROM (SELECT " + strings.Join(cols, ", ") + " FROM " + table + " FINAL" + prefilter + ")"
	if len(where) > 0 {
		ids += " WHERE " + strings.Join(where, " AND ")
	}
	ids += " ORDER BY created_ns DESC, id DESC LIMIT ?"
	return "SELECT " + deliveryCols + " FROM " + table + " FINAL PREWHERE id IN (" + ids + ") ORDER BY created_ns DESC, id DESC",
		append(args, limit)
}

// dueSQL reads the work list: the ids of the pending deliveries due at
// the bound time, oldest first, from FINAL over the narrow columns, then
// those rows whole. The outer query checks state and time again, so a
// delivery sent between the two reads drops out rather than being sent
// twice. (Narrowing FINAL first to the ids with any pending, due version,
// as Deliveries does for a Key, measured 1.6-2.6x slower: before merges
// every delivery has such a version, and after them the pending ones are
// spread over every granule.) Arguments: dueArgs.
func dueSQL(s schema) string {
	table := s.table("alert_delivery_records")
	const due = "state = ? AND next_attempt_ns <= ?"
	ids := "SELECT id FROM (SELECT id, state, next_attempt_ns FROM " + table + " FINAL)" +
		" WHERE " + due + " ORDER BY next_attempt_ns, id LIMIT ?"
	return "SELECT " + deliveryCols + " FROM (SELECT " + deliveryCols + " FROM " + table + " FINAL PREWHERE id IN (" + ids + "))" +
		" WHERE " + due + " ORDER BY next_attempt_ns, id"
}

func dueArgs(now time.Time, limit int) []any {
	ns := nsOf(now)
	return []any{store.DeliveryPending, ns, limit, store.DeliveryPending, ns}
}

// incidentsSQL reads every incident, or the open ones: FINAL, then the
// condition outside it.
func incidentsSQL(s schema, open bool) string {
	sql := "SELECT " + incidentCols + " FROM " + s.table("alert_incidents") + " FINAL"
	if open {
		sql = "SELECT " + incidentCols + " FROM (" + sql + ") WHERE ends_at_ns = 0"
	}
	return sql + " ORDER BY starts_at_ns DESC, dedup_key DESC"
}

func silencesSQL(s schema) string {
	return "SELECT " + silenceCols + " FROM " + s.table("alert_silences") + " FINAL ORDER BY created_ns DESC, id DESC"
}

// PutDeliveries inserts the deliveries as new versions, in one insert.
func (st *Store) PutDeliveries(ctx context.Context, ds []store.Delivery) error {
	if err := store.CheckDeliveries(ds); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	if len(ds) == 0 {
		return nil
	}
	keep := latest(ds, func(d *store.Delivery) string { return d.ID },
		func(d *store.Delivery) time.Time { return d.Updated })
	var c deliveryColumns
	c.reset(len(keep))
	for _, i := range keep {
		c.add(&ds[i])
	}
	if err := st.insertColumns(ctx, insertDeliveriesSQL(st.schema), c.columns()); err != nil {
		return fmt.Errorf("clickhouse: put deliveries: %w", err)
	}
	return nil
}

// Deliveries reads one page, asking for one delivery more than the limit
// to tell whether a next page exists.
func (st *Store) Deliveries(ctx context.Context, q store.DeliveryQuery) (store.DeliveryPage, error) {
	var after *store.Position
	if q.Cursor != "" {
		pos, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return store.DeliveryPage{}, err
		}
		after = &pos
	}
	limit := q.EffectiveLimit()
	sql, args := deliveriesQuery(st.schema, q, after, limit+1)
	ds, err := st.queryDeliveries(ctx, sql, args, limit+1)
	if err != nil {
		return store.DeliveryPage{}, fmt.Errorf("clickhouse: deliveries: %w", err)
	}
	var page store.DeliveryPage
	if len(ds) > limit {
		ds = ds[:limit]
		last := ds[limit-1]
		page.Next = store.EncodeCursor(store.Position{Time: last.Created, ID: last.ID})
	}
	page.Deliveries = ds
	return page, nil
}

// DueDeliveries reads the work list in one query.
func (st *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	limit = store.DueLimit(limit)
	ds, err := st.queryDeliveries(ctx, dueSQL(st.schema), dueArgs(now, limit), limit)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: due deliveries: %w", err)
	}
	return ds, nil
}

func (st *Store) queryDeliveries(ctx context.Context, sql string, args []any, capacity int) ([]store.Delivery, error) {
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]store.Delivery, 0, min(capacity, 1024))
	for rows.Next() {
		var r deliveryRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, err
		}
		out = append(out, r.delivery())
	}
	return out, rows.Err()
}

// PutIncidents inserts the incidents as new versions, in one insert.
func (st *Store) PutIncidents(ctx context.Context, in []store.Incident) error {
	if err := store.CheckIncidents(in); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	if len(in) == 0 {
		return nil
	}
	keep := latest(in, func(x *store.Incident) string { return x.Key },
		func(x *store.Incident) time.Time { return x.Updated })
	var c incidentColumns
	c.reset(len(keep))
	for _, i := range keep {
		c.add(&in[i])
	}
	if err := st.insertColumns(ctx, insertIncidentsSQL(st.schema), c.columns()); err != nil {
		return fmt.Errorf("clickhouse: put incidents: %w", err)
	}
	return nil
}

// Incidents reads the incidents in one query.
func (st *Store) Incidents(ctx context.Context, open bool) ([]store.Incident, error) {
	rows, err := st.conn.Query(ctx, incidentsSQL(st.schema, open))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: incidents: %w", err)
	}
	defer rows.Close()
	var out []store.Incident
	for rows.Next() {
		var r incidentRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("clickhouse: incidents: %w", err)
		}
		out = append(out, r.incident())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: incidents: %w", err)
	}
	return out, nil
}

// PutSilences inserts the silences as new versions, in one insert.
func (st *Store) PutSilences(ctx context.Context, ss []store.Silence) error {
	if err := store.CheckSilences(ss); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	if len(ss) == 0 {
		return nil
	}
	keep := latest(ss, func(x *store.Silence) string { return x.ID },
		func(x *store.Silence) time.Time { return x.Updated })
	var c silenceColumns
	c.reset(len(keep))
	for _, i := range keep {
		c.add(&ss[i])
	}
	if err := st.insertColumns(ctx, insertSilencesSQL(st.schema), c.columns()); err != nil {
		return fmt.Errorf("clickhouse: put silences: %w", err)
	}
	return nil
}

// Silences reads every silence in one query.
func (st *Store) Silences(ctx context.Context) ([]store.Silence, error) {
	rows, err := st.conn.Query(ctx, silencesSQL(st.schema))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: silences: %w", err)
	}
	defer rows.Close()
	var out []store.Silence
	for rows.Next() {
		var r silenceRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("clickhouse: silences: %w", err)
		}
		out = append(out, r.silence())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: silences: %w", err)
	}
	return out, nil
}

// blobOf returns a String column's bytes as a slice of their own (nil
// for none): the driver's string must not be aliased.
func blobOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// deliveryColumns holds deliveries column by column, in deliveryCols
// order. Blobs go in as [][]byte, so nothing converts them to strings.
type deliveryColumns struct {
	id, receiver, key, status, state, lastError         []string
	notification                                        [][]byte
	attempts, next, lastCode, latency, created, updated []int64
}

func (c *deliveryColumns) reset(n int) {
	str := func() []string { return make([]string, 0, n) }
	i64 := func() []int64 { return make([]int64, 0, n) }
	*c = deliveryColumns{id: str(), receiver: str(), key: str(), status: str(), state: str(), lastError: str(),
		notification: make([][]byte, 0, n), attempts: i64(), next: i64(), lastCode: i64(), latency: i64(),
		created: i64(), updated: i64()}
}

func (c *deliveryColumns) add(d *store.Delivery) {
	c.id, c.receiver, c.key, c.status = append(c.id, d.ID), append(c.receiver, d.Receiver), append(c.key, d.Key), append(c.status, d.Status)
	c.notification, c.state = append(c.notification, d.Notification), append(c.state, d.State)
	c.attempts, c.next = append(c.attempts, int64(d.Attempts)), append(c.next, nsOf(d.NextAttempt))
	c.lastCode, c.lastError = append(c.lastCode, int64(d.LastCode)), append(c.lastError, d.LastError)
	c.latency = append(c.latency, int64(d.LastLatency))
	c.created, c.updated = append(c.created, nsOf(d.Created)), append(c.updated, nsOf(d.Updated))
}

func (c *deliveryColumns) columns() []any {
	return []any{c.id, c.receiver, c.key, c.status, c.notification, c.state, c.attempts, c.next,
		c.lastCode, c.lastError, c.latency, c.created, c.updated}
}

// deliveryRow is a delivery as read, in deliveryCols order.
type deliveryRow struct {
	id, receiver, key, status, notification, state, lastError string
	attempts, next, lastCode, latency, created, updated       int64
}

func (r *deliveryRow) dest() []any {
	return []any{&r.id, &r.receiver, &r.key, &r.status, &r.notification, &r.state, &r.attempts, &r.next,
		&r.lastCode, &r.lastError, &r.latency, &r.created, &r.updated}
}

func (r *deliveryRow) delivery() store.Delivery {
	return store.Delivery{ID: r.id, Receiver: r.receiver, Key: r.key, Status: r.status,
		Notification: blobOf(r.notification), State: r.state, Attempts: int(r.attempts), NextAttempt: timeOf(r.next),
		LastCode: int(r.lastCode), LastError: r.lastError, LastLatency: time.Duration(r.latency),
		Created: timeOf(r.created), Updated: timeOf(r.updated)}
}

// incidentColumns holds incidents column by column, in incidentCols order.
type incidentColumns struct {
	key, rule, rootCause            []string
	notification                    [][]byte
	starts, ends, lastSent, updated []int64
}

func (c *incidentColumns) reset(n int) {
	str := func() []string { return make([]string, 0, n) }
	i64 := func() []int64 { return make([]int64, 0, n) }
	*c = incidentColumns{key: str(), rule: str(), rootCause: str(), notification: make([][]byte, 0, n),
		starts: i64(), ends: i64(), lastSent: i64(), updated: i64()}
}

func (c *incidentColumns) add(x *store.Incident) {
	c.key, c.rule, c.rootCause = append(c.key, x.Key), append(c.rule, x.Rule), append(c.rootCause, x.RootCause)
	c.notification = append(c.notification, x.Notification)
	c.starts, c.ends = append(c.starts, nsOf(x.StartsAt)), append(c.ends, nsOf(x.EndsAt))
	c.lastSent, c.updated = append(c.lastSent, nsOf(x.LastSent)), append(c.updated, nsOf(x.Updated))
}

func (c *incidentColumns) columns() []any {
	return []any{c.key, c.rule, c.rootCause, c.notification, c.starts, c.ends, c.lastSent, c.updated}
}

// incidentRow is an incident as read, in incidentCols order.
type incidentRow struct {
	key, rule, rootCause, notification string
	starts, ends, lastSent, updated    int64
}

func (r *incidentRow) dest() []any {
	return []any{&r.key, &r.rule, &r.rootCause, &r.notification, &r.starts, &r.ends, &r.lastSent, &r.updated}
}

func (r *incidentRow) incident() store.Incident {
	return store.Incident{Key: r.key, Rule: r.rule, RootCause: r.rootCause, Notification: blobOf(r.notification),
		StartsAt: timeOf(r.starts), EndsAt: timeOf(r.ends), LastSent: timeOf(r.lastSent), Updated: timeOf(r.updated)}
}

// silenceColumns holds silences column by column, in silenceCols order.
type silenceColumns struct {
	id, comment, createdBy         []string
	selector                       [][]byte
	starts, ends, created, updated []int64
}

func (c *silenceColumns) reset(n int) {
	str := func() []string { return make([]string, 0, n) }
	i64 := func() []int64 { return make([]int64, 0, n) }
	*c = silenceColumns{id: str(), comment: str(), createdBy: str(), selector: make([][]byte, 0, n),
		starts: i64(), ends: i64(), created: i64(), updated: i64()}
}

func (c *silenceColumns) add(x *store.Silence) {
	c.id, c.selector, c.comment, c.createdBy = append(c.id, x.ID), append(c.selector, x.Selector), append(c.comment, x.Comment), append(c.createdBy, x.CreatedBy)
	c.starts, c.ends = append(c.starts, nsOf(x.StartsAt)), append(c.ends, nsOf(x.EndsAt))
	c.created, c.updated = append(c.created, nsOf(x.Created)), append(c.updated, nsOf(x.Updated))
}

func (c *silenceColumns) columns() []any {
	return []any{c.id, c.selector, c.comment, c.createdBy, c.starts, c.ends, c.created, c.updated}
}

// silenceRow is a silence as read, in silenceCols order.
type silenceRow struct {
	id, selector, comment, createdBy string
	starts, ends, created, updated   int64
}

func (r *silenceRow) dest() []any {
	return []any{&r.id, &r.selector, &r.comment, &r.createdBy, &r.starts, &r.ends, &r.created, &r.updated}
}

func (r *silenceRow) silence() store.Silence {
	return store.Silence{ID: r.id, Selector: blobOf(r.selector), Comment: r.comment, CreatedBy: r.createdBy,
		StartsAt: timeOf(r.starts), EndsAt: timeOf(r.ends), Created: timeOf(r.created), Updated: timeOf(r.updated)}
}

// alertStatements lists every statement text the alert methods send, with
// sample arguments, for the chDB test to run on current ClickHouse (the
// conformance suite runs them on 18.16). The samples put two versions of
// delivery dl-1 (pending, then delivered), a pending dl-2, two versions
// of incident inc-1 (open, then resolved), an open inc-2 and two versions
// of silence sil-1; run twice, they also leave copies for FINAL.
func alertStatements(db string) []statement {
	s := schema{db: db}
	t := time.Date(2026, 11, 24, 8, 0, 0, 123456789, time.UTC).UnixNano()
	note := `{"key":"freshness/raw/orders","summary":"stale ✓ 'quoted'"}`
	delivery := func(id, key, state string, created, updated int64) []any {
		return []any{id, "pagerduty", key, "firing", note, state, int64(1), t, int64(429), "rate limited", int64(1500000),
			created, updated}
	}
	incident := func(key string, ends, updated int64) []any {
		return []any{key, "freshness", "raw/orders", note, t, ends, t, updated}
	}
	silence := func(comment string, updated int64) []any {
		return []any{"sil-1", `{"keys":["raw/orders"]}`, comment, "ops", t, t + 3600e9, t, updated}
	}
	out := []statement{
		{name: "alerts insert delivery v1", sql: insertDeliveriesSQL(s), batch: true, args: delivery("dl-1", "freshness/raw/orders", store.DeliveryPending, t, t+1)},
		{name: "alerts insert delivery v2", sql: insertDeliveriesSQL(s), batch: true, args: delivery("dl-1", "freshness/raw/orders", store.DeliveryDelivered, t, t+2)},
		{name: "alerts insert delivery 2", sql: insertDeliveriesSQL(s), batch: true, args: delivery("dl-2", "freshness/mart/x", store.DeliveryPending, t+1, t+1)},
		{name: "alerts insert incident v1", sql: insertIncidentsSQL(s), batch: true, args: incident("inc-1", 0, t+1)},
		{name: "alerts insert incident v2", sql: insertIncidentsSQL(s), batch: true, args: incident("inc-1", t+2, t+2)},
		{name: "alerts insert incident 2", sql: insertIncidentsSQL(s), batch: true, args: incident("inc-2", 0, t+1)},
		{name: "alerts insert silence v1", sql: insertSilencesSQL(s), batch: true, args: silence("first", t+1)},
		{name: "alerts insert silence v2", sql: insertSilencesSQL(s), batch: true, args: silence("expired", t+2)},
		{name: "alerts due", sql: dueSQL(s), args: dueArgs(time.Unix(0, t+10), 100)},
		// dl-1's old pending version comes first: it must not take the place.
		{name: "alerts due limit 1", sql: dueSQL(s), args: dueArgs(time.Unix(0, t+10), 1)},
		{name: "alerts incidents", sql: incidentsSQL(s, false)},
		{name: "alerts incidents open", sql: incidentsSQL(s, true)},
		{name: "alerts silences", sql: silencesSQL(s)},
	}
	for _, c := range []struct {
		name  string
		q     store.DeliveryQuery
		after *store.Position
	}{
		{"alerts deliveries", store.DeliveryQuery{}, nil},
		{"alerts deliveries pending", store.DeliveryQuery{States: []string{store.DeliveryPending}}, nil},
		{"alerts deliveries delivered to pagerduty", store.DeliveryQuery{States: []string{store.DeliveryDelivered, store.DeliveryRejected}, Receiver: "pagerduty"}, nil},
		{"alerts deliveries of key pending", store.DeliveryQuery{Key: "freshness/raw/orders", States: []string{store.DeliveryPending}}, nil},
		{"alerts deliveries of key to pagerduty after", store.DeliveryQuery{Key: "freshness/raw/orders", Receiver: "pagerduty"}, &store.Position{Time: time.Unix(0, t+1), ID: "dl-2"}},
	} {
		sql, args := deliveriesQuery(s, c.q, c.after, 101)
		out = append(out, statement{name: c.name, sql: sql, args: args})
	}
	return out
}
