// Package clickhouse is the ClickHouse implementation of store.Store, for
// installs whose event history outgrows the embedded store. It speaks the
// native protocol and keeps to SQL that ClickHouse 18.16 (Debian's package)
// and current releases both accept. docs/clickhouse.md describes the DSN,
// schema and idempotence design.
package clickhouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// DefaultBatchRows is how many rows AppendEvents sends per insert. Tens of
// thousands of rows per insert is where ClickHouse is fastest (measured
// best at 50,000 on 18.16) and keeps the number of parts low.
const DefaultBatchRows = 50_000

// ClickHouse's error codes for an unknown database and an unknown table.
const (
	codeUnknownDatabase = 81
	codeUnknownTable    = 60
)

// Store is a store.Store on ClickHouse. It is safe for concurrent use.
type Store struct {
	conn   driver.Conn
	schema schema
	q      queries
	lq     logQueries
	log    *slog.Logger

	appendMu sync.Mutex // one AppendEvents at a time: see there
	// ceiling bounds the ids event_ids holds (none is greater) once
	// hasCeiling: ids above it cannot be stored, so lookups skip them
	// (see belowCeiling). Kept only while this process is the database's
	// sole writer (not sharedWriters), on a single server. Guarded by
	// appendMu.
	ceiling       string
	hasCeiling    bool
	sharedWriters bool

	trimMu   sync.Mutex // one trim at a time: they share a helper table
	trimName string     // the helper table's name, see newTrimName
	// trimmed holds the months of events a trim of this process swapped
	// for their kept rows, with the rows left: unchanged since, they need
	// no other trim. Guarded by trimMu.
	trimmed map[string]int64

	mu          sync.Mutex // guards specVersion
	specVersion uint64     // last spec version written by this process
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithSharedWriters says that other processes append events to the same
// database (several Freshet servers, docs/scaling.md). Every id of a batch
// is then looked up: the ids another writer stores would not raise this
// process's ceiling (see AppendEvents).
func WithSharedWriters() Option { return func(s *Store) { s.sharedWriters = true } }

// Open connects to the server named by dsn
// (clickhouse://user:pass@host:9000/db?dial_timeout=5s&cluster=name), creates
// the database if it is missing and applies pending schema migrations.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	st := &Store{
		schema:   schema{db: cfg.database, cluster: cfg.cluster},
		log:      slog.Default(),
		trimName: newTrimName(),
		trimmed:  map[string]int64{},
	}
	for _, o := range opts {
		o(st)
	}
	st.q = newQueries(st.schema)
	st.lq = newLogQueries(st.schema)
	if st.conn, err = connect(ctx, cfg, st.schema); err != nil {
		return nil, err
	}
	if err := st.migrate(ctx); err != nil {
		st.conn.Close()
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return st, nil
}

// connect opens a connection pool to the configured database, creating the
// database first when the server does not know it (a session cannot start
// in a database that does not exist).
func connect(ctx context.Context, cfg config, s schema) (driver.Conn, error) {
	conn, err := ch.Open(cfg.opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open: %w", err)
	}
	err = conn.Ping(ctx)
	if err == nil {
		return conn, nil
	}
	conn.Close()
	var ex *ch.Exception
	if !errors.As(err, &ex) || ex.Code != codeUnknownDatabase {
		return nil, fmt.Errorf("clickhouse: connect: %w", err)
	}

	boot := *cfg.opts
	boot.Auth.Database = "" // the server's default database
	bconn, err := ch.Open(&boot)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open: %w", err)
	}
	defer bconn.Close()
	if err := bconn.Exec(ctx, s.createDatabase()); err != nil {
		return nil, fmt.Errorf("clickhouse: create database %s: %w", s.db, err)
	}
	conn, err = ch.Open(cfg.opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse: connect: %w", err)
	}
	return conn, nil
}

// Ping checks the connection to the server.
func (st *Store) Ping(ctx context.Context) error {
	if err := st.conn.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse: ping: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (st *Store) Close() error { return st.conn.Close() }

// AppendEvents inserts the events whose ids the store does not hold yet,
// in inserts of up to DefaultBatchRows rows, and returns them. Which ids it holds
// is answered by event_ids, a table ordered by id that a materialized view
// fills within each insert, so the lookup reads only the granules of the
// ids asked for (ids assigned at ingest are UUIDv7s, which cluster by
// time). Appends are serialized so that two concurrent calls cannot both
// find an id new; more than one writing process per database is not
// supported (docs/clickhouse.md).
//
// As the sole writer, the store also keeps a ceiling: no stored id is
// greater. Ids above it cannot be stored and are not looked up, so a
// batch of ids that grow over time (the UUIDv7s Freshet assigns, a
// client's sequence) costs no lookup at all. The first batch learns the
// ceiling from the server; each batch raises it to its greatest id before
// its insert, so an insert that failed half way leaves it valid.
func (st *Store) AppendEvents(ctx context.Context, events []asset.Event) ([]asset.Event, error) {
	if err := store.CheckComplete(events); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	st.appendMu.Lock()
	defer st.appendMu.Unlock()
	var added []asset.Event
	var cols eventColumns
	for start := 0; start < len(events); start += DefaultBatchRows {
		chunk := events[start:min(start+DefaultBatchRows, len(events))]
		// The columns are built while the server looks the ids up, for the
		// usual case that all of them are new (else built again for the
		// new ones): the two take turns otherwise, on a machine that has a
		// core for each.
		built := make(chan error, 1)
		go func() { built <- cols.build(chunk) }()
		fresh, err := st.unknown(ctx, chunk, added)
		buildErr := <-built
		if err != nil {
			return nil, err
		}
		if len(fresh) != len(chunk) {
			buildErr = cols.build(fresh)
		}
		if buildErr != nil {
			return nil, buildErr
		}
		if err := st.insertEvents(ctx, &cols); err != nil {
			return nil, err
		}
		if added == nil {
			added = fresh // the batch itself when all of it is new: no copy
		} else {
			added = append(added, fresh...)
		}
	}
	return added, nil
}

// unknown returns the events of chunk whose ids are neither stored nor in
// earlier (the events this call already added), each id once: first wins.
//
// One set of ids serves both the batch's repeats and earlier's, each id
// entered once; the usual batch repeats nothing and the store knows none
// of it, and then fresh is chunk itself.
func (st *Store) unknown(ctx context.Context, chunk, earlier []asset.Event) ([]asset.Event, error) {
	seen := make(map[string]struct{}, len(chunk)+len(earlier))
	for i := range earlier {
		seen[earlier[i].ID] = struct{}{}
	}
	ids := make([]string, 0, len(chunk))
	first := make([]int32, 0, len(chunk)) // chunk indexes of ids' first copies
	for i := range chunk {
		n := len(seen)
		seen[chunk[i].ID] = struct{}{}
		if len(seen) > n {
			ids = append(ids, chunk[i].ID)
			first = append(first, int32(i))
		}
	}
	ask, err := st.belowCeiling(ctx, ids)
	if err != nil {
		return nil, err
	}
	known, err := st.knownIDs(ctx, ask)
	if err != nil {
		return nil, err
	}
	if len(known) == 0 && len(first) == len(chunk) {
		return slices.Clip(chunk), nil // clipped: appending to it copies
	}
	fresh := make([]asset.Event, 0, len(ids)-len(known))
	for _, i := range first {
		if !known[chunk[i].ID] {
			fresh = append(fresh, chunk[i])
		}
	}
	return fresh, nil
}

// belowCeiling returns the ids that may be stored: those not above the
// ceiling (all of them with shared writers). It learns the ceiling first
// if need be, then raises it to the greatest of ids, which the caller is
// about to insert. Callers hold appendMu.
//
// A replicated cluster keeps no ceiling either: the replica that answers
// the first lookup may lag behind the ids this process stored before a
// restart through another, and the old way, looking every id up, finds
// them once it caught up.
func (st *Store) belowCeiling(ctx context.Context, ids []string) ([]string, error) {
	if st.sharedWriters || st.schema.cluster != "" || len(ids) == 0 {
		return ids, nil
	}
	top := slices.Max(ids)
	if !st.hasCeiling {
		var above string
		if err := st.conn.QueryRow(ctx, st.q.maxIDAbove, top).Scan(&above); err != nil {
			return nil, fmt.Errorf("clickhouse: look up the greatest stored id: %w", err)
		}
		st.ceiling, st.hasCeiling = max(top, above), true
		return ids, nil // none is above top
	}
	ask := ids
	if top > st.ceiling {
		ask = make([]string, 0, len(ids))
		for _, id := range ids {
			if id <= st.ceiling {
				ask = append(ask, id)
			}
		}
		st.ceiling = top
	}
	return ask, nil
}

// knownIDs returns which of ids event_ids holds. The ids travel as an
// external table in the native format, which the server reads as a set:
// no query text to parse, however many ids a batch has.
func (st *Store) knownIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	known := map[string]bool{}
	if len(ids) == 0 {
		return known, nil
	}
	table, err := ext.NewTable(idsTable, ext.Column("id", "String"))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: look up stored ids: %w", err)
	}
	// The whole column at once: a row at a time boxes every id.
	if _, err := table.Block().Columns[0].Append(ids); err != nil {
		return nil, fmt.Errorf("clickhouse: look up stored ids: %w", err)
	}
	ranges := idRanges(ids, maxIDRanges)
	rows, err := st.conn.Query(ch.Context(ctx, ch.WithExternalTable(table)), st.q.knownIDsIn(len(ranges)/2), ranges...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: look up stored ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("clickhouse: look up stored ids: %w", err)
		}
		known[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: look up stored ids: %w", err)
	}
	return known, nil
}

// maxIDRanges bounds the id ranges of one lookup.
const maxIDRanges = 8

// idRanges returns bounds (lo1, hi1, lo2, hi2, ...) of at most max ranges
// that cover ids, for the primary key of event_ids: the server reads only
// the granules in them (it does not use the index for IN an external
// table). One range from the least id to the greatest would do, but ids
// come in families (a client's own, the UUIDv7s Freshet assigns), and one
// range over two families covers every stored id between them: with
// freshness policies on, the monitor's UUIDv7 ids beside clients' ids made
// every lookup read the whole index. So the sorted ids are cut where
// neighbours share the shortest prefix, as often as max allows.
func idRanges(ids []string, max int) []any {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	const longest = 32 // common prefixes longer than this count as this
	lcps := make([]uint8, len(sorted))
	var hist [longest + 1]int
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		n := 0
		for n < longest && n < len(a) && n < len(b) && a[n] == b[n] {
			n++
		}
		lcps[i] = uint8(n)
		hist[n]++
	}
	// Cut between every pair of neighbours sharing at most cut bytes,
	// with cut as large as max allows (-1: one range).
	cut, cuts := -1, 0
	for n, c := range hist {
		if cuts += c; cuts > max-1 {
			break
		}
		cut = n
	}
	bounds := []any{sorted[0]}
	for i := 1; i < len(sorted); i++ {
		if int(lcps[i]) <= cut {
			bounds = append(bounds, sorted[i-1], sorted[i])
		}
	}
	return append(bounds, sorted[len(sorted)-1])
}

func (st *Store) insertEvents(ctx context.Context, cols *eventColumns) error {
	if len(cols.id) == 0 {
		return nil
	}
	batch, err := st.conn.PrepareBatch(ctx, st.q.insertEvents)
	if err != nil {
		return fmt.Errorf("clickhouse: prepare insert: %w", err)
	}
	if err := cols.appendTo(batch); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("clickhouse: insert events: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert events: %w", err)
	}
	return nil
}

// Events returns one page of events in (Time, ID) order.
func (st *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	var after *store.Position
	if q.Cursor != "" {
		pos, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return store.EventPage{}, err
		}
		after = &pos
	}
	limit := q.EffectiveLimit()
	want := limit + 1 // one more tells whether there is a next page
	events := make([]asset.Event, 0, want)
	// Copies of an event arrive adjacent (see eventsQuery); skipping them
	// can leave the page short, so read on from the last row until it is
	// full or the rows run out.
	for {
		asked := want - len(events)
		sql, args := eventsQuery(st.schema, q, after, asked)
		got, last, err := st.readEvents(ctx, sql, args, &events, want)
		if err != nil {
			return store.EventPage{}, err
		}
		if len(events) >= want || got < asked {
			break // full, or no more rows
		}
		after = last
	}
	var page store.EventPage
	if len(events) > limit {
		events = events[:limit]
		e := events[limit-1]
		page.Next = store.EncodeCursor(store.Position{Time: e.Time, ID: e.ID})
	}
	page.Events = events
	return page, nil
}

// readEvents appends the distinct events of one query to *events, up to
// want in total. It returns how many rows the query gave and the position
// of the last one.
func (st *Store) readEvents(ctx context.Context, sql string, args []any, events *[]asset.Event, want int) (int, *store.Position, error) {
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("clickhouse: events: %w", err)
	}
	defer rows.Close()
	n := 0
	var last *store.Position
	for rows.Next() {
		var r eventRecord
		if err := rows.Scan(r.dest()...); err != nil {
			return 0, nil, fmt.Errorf("clickhouse: events: %w", err)
		}
		n++
		if last != nil && last.ID == r.id && last.Time.UnixNano() == r.timeNS {
			continue // a replayed copy of the previous event
		}
		last = &store.Position{Time: time.Unix(0, r.timeNS).UTC(), ID: r.id}
		if len(*events) < want {
			e, err := r.event()
			if err != nil {
				return 0, nil, fmt.Errorf("clickhouse: events: %w", err)
			}
			*events = append(*events, e)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("clickhouse: events: %w", err)
	}
	return n, last, nil
}

// Summaries computes every asset's latest state with one aggregate query.
func (st *Store) Summaries(ctx context.Context) ([]store.Summary, error) {
	rows, err := st.conn.Query(ctx, st.q.summaries)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: summaries: %w", err)
	}
	defer rows.Close()
	var out []store.Summary
	var cur *store.Summary
	for rows.Next() {
		var (
			r               eventRecord
			group           string
			n               uint64
			firstNS, lastNS int64
		)
		dest := append([]any{&r.asset, &r.kind, &group, &n, &firstNS, &lastNS}, r.aggDest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("clickhouse: summaries: %w", err)
		}
		key := asset.Key(r.asset)
		if cur == nil || cur.Asset != key {
			out = append(out, store.Summary{Asset: key, Counts: map[asset.Kind]int64{}})
			cur = &out[len(out)-1]
			cur.FirstTime = time.Unix(0, firstNS).UTC()
			cur.LastTime = time.Unix(0, lastNS).UTC()
		}
		kind := asset.Kind(r.kind)
		cur.Counts[kind] += int64(n)
		if t := time.Unix(0, firstNS).UTC(); t.Before(cur.FirstTime) {
			cur.FirstTime = t
		}
		if t := time.Unix(0, lastNS).UTC(); t.After(cur.LastTime) {
			cur.LastTime = t
		}
		e, err := r.event()
		if err != nil {
			return nil, fmt.Errorf("clickhouse: summaries: %w", err)
		}
		switch {
		case kind == asset.KindMaterialization:
			cur.LastMaterialization = &e
		case kind == asset.KindMaterializationFailed:
			cur.LastFailure = &e
		case kind == asset.KindObservation:
			cur.LastObservation = &e
		case kind == asset.KindFreshnessChanged:
			cur.LastFreshness = &e
		case kind == asset.KindPolicyChanged:
			cur.LastPolicyChange = &e
		case kind == asset.KindCheckResult && group != "":
			// Rows come ordered by check group, which is the check name
			// behind a fixed prefix, so LastChecks is sorted by name.
			cur.LastChecks = append(cur.LastChecks, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: summaries: %w", err)
	}
	return out, nil
}

// RecentSuccesses reads each asset's latest materializations and
// observations with one LIMIT BY query. Unmerged copies of an event take
// rows of the limit; an asset they left short is asked again, with twice
// the limit, until it has perAsset successes or no more rows, so the
// answer is exact for any number of copies at the cost of a query only
// when copies exist.
func (st *Store) RecentSuccesses(ctx context.Context, perAsset int) ([]asset.Event, error) {
	byAsset, short, err := st.recentRows(ctx, st.q.recent, perAsset, perAsset, nil)
	if err != nil {
		return nil, err
	}
	for limit := perAsset * 2; len(short) > 0; limit *= 2 {
		var again map[string][]asset.Event
		if again, short, err = st.recentRows(ctx, st.q.recentOf, limit, perAsset, short); err != nil {
			return nil, err
		}
		maps.Copy(byAsset, again)
	}
	var out []asset.Event
	for _, a := range slices.Sorted(maps.Keys(byAsset)) {
		out = append(out, byAsset[a]...)
	}
	return out, nil
}

// recentRows runs a recent-successes query with limit rows per asset (of
// only the assets in of, sent as an external table, when of is set). It
// returns each asset's distinct successes, at most want, and the assets
// whose rows were all used yet held fewer than want distinct events.
func (st *Store) recentRows(ctx context.Context, sql string, limit, want int, of []string) (map[string][]asset.Event, []string, error) {
	if of != nil {
		table, err := ext.NewTable(idsTable, ext.Column("id", "String"))
		if err != nil {
			return nil, nil, fmt.Errorf("clickhouse: recent successes: %w", err)
		}
		for _, a := range of {
			if err := table.Append(a); err != nil {
				return nil, nil, fmt.Errorf("clickhouse: recent successes: %w", err)
			}
		}
		ctx = ch.Context(ctx, ch.WithExternalTable(table))
	}
	rows, err := st.conn.Query(ctx, sql, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse: recent successes: %w", err)
	}
	defer rows.Close()
	out := map[string][]asset.Event{}
	raw := map[string]int{}
	var prev eventRecord
	for rows.Next() {
		var r eventRecord
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, nil, fmt.Errorf("clickhouse: recent successes: %w", err)
		}
		raw[r.asset]++
		same := r.asset == prev.asset && r.id == prev.id && r.timeNS == prev.timeNS
		prev = r
		if same || len(out[r.asset]) == want {
			continue // a copy of the previous row, or enough already
		}
		e, err := r.event()
		if err != nil {
			return nil, nil, fmt.Errorf("clickhouse: recent successes: %w", err)
		}
		out[r.asset] = append(out[r.asset], e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("clickhouse: recent successes: %w", err)
	}
	var short []string
	for a, n := range raw {
		if n == limit && len(out[a]) < want {
			short = append(short, a)
		}
	}
	return out, short, nil
}

// ObservedEdges returns the distinct (upstream, asset) pairs of all events.
func (st *Store) ObservedEdges(ctx context.Context) ([]asset.Edge, error) {
	rows, err := st.conn.Query(ctx, st.q.edges)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: edges: %w", err)
	}
	defer rows.Close()
	var out []asset.Edge
	for rows.Next() {
		var up, down string
		if err := rows.Scan(&up, &down); err != nil {
			return nil, fmt.Errorf("clickhouse: edges: %w", err)
		}
		out = append(out, asset.Edge{Upstream: asset.Key(up), Downstream: asset.Key(down)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: edges: %w", err)
	}
	return out, nil
}

// PutSpecs writes specs as new versions; the newest version of a key is
// the spec. Versions grow within the process even if the clock steps back,
// so a later call (and a later spec in one call) wins.
func (st *Store) PutSpecs(ctx context.Context, specs []asset.Spec) error {
	if len(specs) == 0 {
		return nil
	}
	for i := range specs {
		if specs[i].Key == "" {
			return fmt.Errorf("clickhouse: spec %d: missing key", i)
		}
	}
	base := st.nextSpecVersions(len(specs))
	batch, err := st.conn.PrepareBatch(ctx, st.q.insertSpecs)
	if err != nil {
		return fmt.Errorf("clickhouse: prepare specs: %w", err)
	}
	for i := range specs {
		data, err := json.Marshal(&specs[i])
		if err == nil {
			err = batch.Append(string(specs[i].Key), base+uint64(i), uint8(0), string(data))
		}
		if err != nil {
			_ = batch.Abort()
			return fmt.Errorf("clickhouse: spec %s: %w", specs[i].Key, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("clickhouse: put specs: %w", err)
	}
	return nil
}

// nextSpecVersions reserves n consecutive versions, based on the wall
// clock in nanoseconds so that versions from other processes interleave
// by time.
func (st *Store) nextSpecVersions(n int) uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	v := uint64(time.Now().UnixNano())
	if v <= st.specVersion {
		v = st.specVersion + 1
	}
	st.specVersion = v + uint64(n) - 1
	return v
}

// Specs returns the current spec of every key, sorted by key.
func (st *Store) Specs(ctx context.Context) ([]asset.Spec, error) {
	rows, err := st.conn.Query(ctx, st.q.specs)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: specs: %w", err)
	}
	defer rows.Close()
	var out []asset.Spec
	for rows.Next() {
		var key, data string
		if err := rows.Scan(&key, &data); err != nil {
			return nil, fmt.Errorf("clickhouse: specs: %w", err)
		}
		var sp asset.Spec
		if err := json.Unmarshal([]byte(data), &sp); err != nil {
			return nil, fmt.Errorf("clickhouse: spec %s: %w", key, err)
		}
		out = append(out, sp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: specs: %w", err)
	}
	return out, nil
}
