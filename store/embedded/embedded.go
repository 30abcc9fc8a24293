// Package embedded is Freshet's default event store: one bbolt file in the
// data directory. bbolt is pure Go (no cgo, so `go build` is all a user
// needs), gives ACID transactions with a single fsync per commit, and its
// ordered keys make per-asset history and cursor pagination range scans.
// It suits dev and single-node installs; large histories belong in
// ClickHouse (store/clickhouse), which passes the same conformance suite.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// FileName is the database file inside the data directory.
const FileName = "events.db"

// Buckets. Keys use 0x00 as a separator: asset keys and ids cannot hold
// control characters, so it never appears inside a part.
var (
	bEvents    = []byte("events")    // time(8) id -> event JSON, global history
	bIDs       = []byte("ids")       // id -> time(8) id, for idempotence
	bByAsset   = []byte("by_asset")  // asset 0 time(8) id -> nil, per-asset history
	bSummaries = []byte("summaries") // asset -> summary JSON, maintained on append
	bEdges     = []byte("edges")     // upstream 0 downstream -> nil
	bSpecs     = []byte("specs")     // key -> spec JSON
	bMeta      = []byte("meta")      // schema version
	schemaKey  = []byte("schema_version")
	schemaV1   = []byte("1")
	allBuckets = [][]byte{bEvents, bIDs, bByAsset, bSummaries, bEdges, bSpecs, bMeta}
)

// Store is the bbolt-backed store.Store.
type Store struct {
	db *bolt.DB
	// appendMu orders AppendEvents calls and guards sums, the decoded
	// summaries as last committed: decoding each touched asset's summary
	// again for every batch was a fifth of a write's time.
	appendMu sync.Mutex
	sums     map[asset.Key]*summaryRecord
	trimMu   sync.Mutex // one trim at a time (store.Trimmer)
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir. A second process on
// the same directory gets a clear error instead of waiting forever.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%s is locked: is another freshet running with --data-dir %s?", path, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		switch v := meta.Get(schemaKey); {
		case v == nil:
			return meta.Put(schemaKey, schemaV1)
		case !bytes.Equal(v, schemaV1):
			return fmt.Errorf("%s has schema version %s; this freshet understands %s", path, v, schemaV1)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, sums: map[asset.Key]*summaryRecord{}}, nil
}

// Ping reads the schema version: it fails once the file is closed or
// unreadable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta).Get(schemaKey) == nil {
			return errors.New("embedded store: schema version missing")
		}
		return nil
	})
}

// Close closes the database file.
func (s *Store) Close() error { return s.db.Close() }

// timeKey encodes (time, id) so byte order is (time, id) order. The sign
// bit is flipped so times before 1970 still sort first.
func timeKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano())^(1<<63))
	return append(k, id...)
}

func assetPrefix(a asset.Key) []byte {
	return append([]byte(a), 0)
}

// AppendEvents stores the batch in one transaction (one fsync) and returns
// the events it added. Events whose id is already stored, or repeated
// within the batch, are skipped: the first copy wins.
func (s *Store) AppendEvents(ctx context.Context, events []asset.Event) ([]asset.Event, error) {
	if err := store.CheckComplete(events); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	var (
		added []asset.Event
		sums  map[asset.Key]*summaryRecord
		built bool // the transaction's work succeeded: a failure after it is the commit's
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		idB := tx.Bucket(bIDs)
		// Collect every write first and put each bucket's in key order:
		// bbolt appends sorted keys cheaply, while random inserts into a
		// large transaction split and rewrite pages over and over.
		var evs, ids, by, edges []kv
		touched := make(map[asset.Key][]*asset.Event)
		inBatch := make(map[string]bool, len(events))
		for i := range events {
			e := events[i]
			if inBatch[e.ID] || idB.Get([]byte(e.ID)) != nil {
				continue
			}
			inBatch[e.ID] = true
			e.Time = e.Time.UTC()
			tk := timeKey(e.Time, e.ID)
			val, err := json.Marshal(&e)
			if err != nil {
				return fmt.Errorf("encode event %s: %w", e.ID, err)
			}
			evs = append(evs, kv{tk, val})
			ids = append(ids, kv{[]byte(e.ID), tk})
			by = append(by, kv{append(assetPrefix(e.Asset), tk...), nil})
			for _, u := range e.Upstream {
				edges = append(edges, kv{append(assetPrefix(u), e.Asset...), nil})
			}
			touched[e.Asset] = append(touched[e.Asset], &e)
			added = append(added, e)
		}
		for _, w := range []struct {
			bucket []byte
			kvs    []kv
		}{{bEvents, evs}, {bIDs, ids}, {bByAsset, by}, {bEdges, edges}} {
			if err := putSorted(tx.Bucket(w.bucket), w.kvs); err != nil {
				return err
			}
		}
		var err error
		sums, err = updateSummaries(tx.Bucket(bSummaries), touched, s.sums)
		built = err == nil
		return err
	})
	if err != nil {
		if built {
			// The commit failed: writing or growing the file (disk full,
			// a file size limit). Nothing of the batch is in; it is not
			// the batch's fault.
			err = &commitError{err}
		}
		return nil, err // the cache keeps what was committed before
	}
	if s.sums != nil { // nil: the benchmark's uncached baseline
		cacheSummaries(s.sums, sums)
	}
	return added, nil
}

type kv struct{ k, v []byte }

func putSorted(b *bolt.Bucket, kvs []kv) error {
	slices.SortFunc(kvs, func(x, y kv) int { return bytes.Compare(x.k, y.k) })
	for _, p := range kvs {
		if err := b.Put(p.k, p.v); err != nil {
			return err
		}
	}
	return nil
}

// Events pages through history by range scans: over by_asset when an
// asset is given, else over the global events bucket.
func (s *Store) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	var after *store.Position
	if q.Cursor != "" {
		p, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return store.EventPage{}, err
		}
		after = &p
	}
	limit := q.EffectiveLimit()
	var page store.EventPage
	err := s.db.View(func(tx *bolt.Tx) error {
		evB := tx.Bucket(bEvents)
		var (
			c      *bolt.Cursor
			prefix []byte
		)
		if q.Asset != "" {
			c, prefix = tx.Bucket(bByAsset).Cursor(), assetPrefix(q.Asset)
		} else {
			c = evB.Cursor()
		}
		// Bounds as time keys: lo inclusive, hi exclusive.
		lo, hi := prefix, []byte(nil) // hi nil: no upper bound
		if !q.Since.IsZero() {
			lo = append(slices.Clone(prefix), timeKey(q.Since, "")...)
		}
		if !q.Until.IsZero() {
			hi = append(slices.Clone(prefix), timeKey(q.Until, "")...)
		}
		var k []byte
		if q.Ascending {
			if after != nil {
				start := append(slices.Clone(prefix), timeKey(after.Time, after.ID)...)
				if k, _ = c.Seek(start); bytes.Equal(k, start) {
					k, _ = c.Next()
				}
				if bytes.Compare(k, lo) < 0 {
					k, _ = c.Seek(lo)
				}
			} else {
				k, _ = c.Seek(lo)
			}
		} else {
			end := hi
			if end == nil && prefix != nil {
				// Just past every key with this prefix (it ends in 0x00).
				end = append(slices.Clone(prefix[:len(prefix)-1]), 1)
			}
			if after != nil {
				if p := append(slices.Clone(prefix), timeKey(after.Time, after.ID)...); end == nil || bytes.Compare(p, end) < 0 {
					end = p
				}
			}
			// Position on the last key < end.
			if end == nil {
				k, _ = c.Last()
			} else if k, _ = c.Seek(end); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
		for ; k != nil; k = step(c, q.Ascending) {
			if !bytes.HasPrefix(k, prefix) || bytes.Compare(k, lo) < 0 || hi != nil && bytes.Compare(k, hi) >= 0 {
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			tk := k[len(prefix):]
			raw := evB.Get(tk)
			if raw == nil {
				return fmt.Errorf("index entry %q has no event", tk)
			}
			if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, kindOf(raw)) {
				continue
			}
			if len(page.Events) == limit {
				last := page.Events[limit-1]
				page.Next = store.EncodeCursor(store.Position{Time: last.Time, ID: last.ID})
				return nil
			}
			var e asset.Event
			if err := json.Unmarshal(raw, &e); err != nil {
				return fmt.Errorf("decode event %q: %w", tk[8:], err)
			}
			e.Time = e.Time.UTC()
			page.Events = append(page.Events, e)
		}
		return nil
	})
	return page, err
}

func step(c *bolt.Cursor, asc bool) []byte {
	var k []byte
	if asc {
		k, _ = c.Next()
	} else {
		k, _ = c.Prev()
	}
	return k
}

// kindOf reads just the kind of a stored event: filtering by kind then
// costs no full decode of the events it skips.
func kindOf(raw []byte) asset.Kind {
	var k struct {
		Kind asset.Kind `json:"kind"`
	}
	json.Unmarshal(raw, &k) // stored by this package: cannot fail
	return k.Kind
}

// RecentSuccesses walks each asset's history backwards in by_asset (one
// seek per asset) until it has perAsset materializations or observations.
func (s *Store) RecentSuccesses(ctx context.Context, perAsset int) ([]asset.Event, error) {
	var out []asset.Event
	err := s.db.View(func(tx *bolt.Tx) error {
		evB, sumB := tx.Bucket(bEvents), tx.Bucket(bSummaries)
		c := tx.Bucket(bByAsset).Cursor()
		return sumB.ForEach(func(a, _ []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			prefix := assetPrefix(asset.Key(a))
			end := append(slices.Clone(prefix[:len(prefix)-1]), 1) // just past the prefix
			k, _ := c.Seek(end)
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
			for n := 0; k != nil && bytes.HasPrefix(k, prefix) && n < perAsset; k, _ = c.Prev() {
				raw := evB.Get(k[len(prefix):])
				if kind := kindOf(raw); kind != asset.KindMaterialization && kind != asset.KindObservation {
					continue
				}
				var e asset.Event
				if err := json.Unmarshal(raw, &e); err != nil {
					return fmt.Errorf("decode event: %w", err)
				}
				e.Time = e.Time.UTC()
				out = append(out, e)
				n++
			}
			return nil
		})
	})
	return out, err
}

// ObservedEdges lists the distinct upstream edges events reported.
func (s *Store) ObservedEdges(ctx context.Context) ([]asset.Edge, error) {
	var edges []asset.Edge
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bEdges).ForEach(func(k, _ []byte) error {
			u, d, _ := bytes.Cut(k, []byte{0})
			edges = append(edges, asset.Edge{Upstream: asset.Key(u), Downstream: asset.Key(d)})
			return nil
		})
	})
	return edges, err
}

// PutSpecs inserts or replaces specs by key.
func (s *Store) PutSpecs(ctx context.Context, specs []asset.Spec) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSpecs)
		for i := range specs {
			if specs[i].Key == "" {
				return fmt.Errorf("spec %d has no key", i)
			}
			val, err := json.Marshal(&specs[i])
			if err != nil {
				return fmt.Errorf("encode spec %s: %w", specs[i].Key, err)
			}
			if err := b.Put([]byte(specs[i].Key), val); err != nil {
				return err
			}
		}
		return nil
	})
}

// Specs returns every stored spec in key order (bbolt keeps keys sorted).
func (s *Store) Specs(ctx context.Context) ([]asset.Spec, error) {
	var specs []asset.Spec
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bSpecs).ForEach(func(k, v []byte) error {
			var sp asset.Spec
			if err := json.Unmarshal(v, &sp); err != nil {
				return fmt.Errorf("decode spec %q: %w", k, err)
			}
			specs = append(specs, sp)
			return nil
		})
	})
	return specs, err
}

// commitError is a failed commit: the disk, not the events. Outage tells
// the ingest pipeline to retry it as an outage rather than look for an
// event the store rejects (bbolt formats some of these errors with %s,
// so the errno cannot be matched).
type commitError struct{ err error }

func (e *commitError) Error() string { return "embedded store: commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }
func (e *commitError) Outage() bool  { return true }
