package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// Buckets of the runs table (store.RunStore). Keys use 0x00 as a
// separator like the event buckets: run ids (store.CheckRuns) and asset
// keys hold no control characters. The buckets are created by the first
// write, so a file made before runs existed needs no new schema version;
// reads treat a missing bucket as empty.
var (
	bRuns          = []byte("runs")            // run id -> RunRecord JSON
	bRunsByCreated = []byte("runs_by_created") // created(8) run id -> nil: Runs walks it backwards
	bRunsByAsset   = []byte("runs_by_asset")   // asset 0 run id -> nil: the runs with a step for an asset
	bRunSteps      = []byte("run_steps")       // run id 0 asset -> StepRecord JSON
	bRunLogs       = []byte("run_logs")        // run id 0 seq(8) -> RunLogLine JSON
	runBuckets     = [][]byte{bRuns, bRunsByCreated, bRunsByAsset, bRunSteps, bRunLogs}
)

var _ store.RunStore = (*Store)(nil)

// createRunBuckets makes the runs buckets in a write transaction.
func createRunBuckets(tx *bolt.Tx) error {
	for _, b := range runBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

func runPrefix(id string) []byte { return append([]byte(id), 0) }

func stepKey(runID string, a asset.Key) []byte { return append(runPrefix(runID), a...) }

func logKey(runID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(runPrefix(runID), seq)
}

// PutRuns upserts runs by ID in one transaction: a run replaces the stored
// one unless its Updated is older. The created index follows the stored
// run, so a run whose Created changed moves in the listing.
func (s *Store) PutRuns(ctx context.Context, runs []store.RunRecord) error {
	return s.write(ctx, store.CheckRuns(runs), len(runs), createRunBuckets, func(tx *bolt.Tx) error {
		runB, byCreated := tx.Bucket(bRuns), tx.Bucket(bRunsByCreated)
		for i := range runs {
			r := utcRun(runs[i])
			if raw := runB.Get([]byte(r.ID)); raw != nil {
				var old store.RunRecord
				if err := json.Unmarshal(raw, &old); err != nil {
					return fmt.Errorf("decode run %s: %w", r.ID, err)
				}
				if r.Updated.Before(old.Updated) {
					continue // a newer version is stored
				}
				if !old.Created.Equal(r.Created) {
					if err := byCreated.Delete(timeKey(old.Created, old.ID)); err != nil {
						return err
					}
				}
			}
			val, err := json.Marshal(&r)
			if err != nil {
				return fmt.Errorf("encode run %s: %w", r.ID, err)
			}
			if err := runB.Put([]byte(r.ID), val); err != nil {
				return err
			}
			if err := byCreated.Put(timeKey(r.Created, r.ID), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutSteps upserts steps by (RunID, Asset) in one transaction, newest
// Updated winning, and indexes each run under the assets it has steps for.
func (s *Store) PutSteps(ctx context.Context, steps []store.StepRecord) error {
	return s.write(ctx, store.CheckSteps(steps), len(steps), createRunBuckets, func(tx *bolt.Tx) error {
		stepB, byAsset := tx.Bucket(bRunSteps), tx.Bucket(bRunsByAsset)
		for i := range steps {
			st := utcStep(steps[i])
			key := stepKey(st.RunID, st.Asset)
			if raw := stepB.Get(key); raw != nil {
				var old store.StepRecord
				if err := json.Unmarshal(raw, &old); err != nil {
					return fmt.Errorf("decode step %s of run %s: %w", st.Asset, st.RunID, err)
				}
				if st.Updated.Before(old.Updated) {
					continue
				}
			}
			val, err := json.Marshal(&st)
			if err != nil {
				return fmt.Errorf("encode step %s of run %s: %w", st.Asset, st.RunID, err)
			}
			if err := stepB.Put(key, val); err != nil {
				return err
			}
			if err := byAsset.Put(append(assetPrefix(st.Asset), st.RunID...), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// Run returns a run and its steps, read by one prefix scan of run_steps.
func (s *Store) Run(ctx context.Context, id string) (store.RunRecord, []store.StepRecord, error) {
	if err := ctx.Err(); err != nil {
		return store.RunRecord{}, nil, err
	}
	var (
		run   store.RunRecord
		steps []store.StepRecord
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		runB := tx.Bucket(bRuns)
		if runB == nil || badRunKey(id) {
			return nil
		}
		raw := runB.Get([]byte(id))
		if raw == nil {
			return nil
		}
		found = true
		if err := json.Unmarshal(raw, &run); err != nil {
			return fmt.Errorf("decode run %s: %w", id, err)
		}
		prefix := runPrefix(id)
		c := tx.Bucket(bRunSteps).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var st store.StepRecord
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("decode step %q: %w", k, err)
			}
			steps = append(steps, utcStep(st))
		}
		return nil
	})
	if err != nil {
		return store.RunRecord{}, nil, fmt.Errorf("embedded: run %s: %w", id, err)
	}
	if !found {
		return store.RunRecord{}, nil, fmt.Errorf("embedded: run %q: %w", id, store.ErrRunNotFound)
	}
	// Keys order the steps by asset; a stable sort by Index keeps that
	// order among equal indexes.
	slices.SortStableFunc(steps, func(a, b store.StepRecord) int { return cmp.Compare(a.Index, b.Index) })
	return utcRun(run), steps, nil
}

// badRunKey reports an id no run can have: looking it up would find
// another key (a 0x00 in it is a separator) or none (bbolt has no empty
// key).
func badRunKey(id string) bool { return store.CheckRuns([]store.RunRecord{{ID: id}}) != nil }

// Runs pages through runs newest Created first. Without an asset it walks
// runs_by_created backwards from the cursor (or Until) and stops at Since
// or a full page, decoding only the runs it visits. With an asset the
// candidates are that asset's runs from runs_by_asset, sorted in memory:
// as many as the asset has runs, however many other runs there are.
func (s *Store) Runs(ctx context.Context, q store.RunQuery) (store.RunPage, error) {
	var after *store.Position
	if q.Cursor != "" {
		p, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return store.RunPage{}, err
		}
		after = &p
	}
	limit := q.EffectiveLimit()
	// Keys in [lo, hi) qualify; nil hi is no upper bound.
	var lo, hi []byte
	if !q.Since.IsZero() {
		lo = timeKey(q.Since, "")
	}
	if !q.Until.IsZero() {
		hi = timeKey(q.Until, "")
	}
	if after != nil {
		if k := timeKey(after.Time, after.ID); hi == nil || bytes.Compare(k, hi) < 0 {
			hi = k // strictly after the cursor's run in descending order
		}
	}
	var page store.RunPage
	err := s.db.View(func(tx *bolt.Tx) error {
		runB := tx.Bucket(bRuns)
		if runB == nil {
			return nil
		}
		// visit takes candidates in descending key order and says when the
		// page is complete.
		visit := func(r *store.RunRecord) (done bool) {
			if len(q.Statuses) > 0 && !slices.Contains(q.Statuses, r.Status) || q.Trigger != "" && r.Trigger != q.Trigger {
				return false
			}
			if len(page.Runs) == limit {
				last := page.Runs[limit-1]
				page.Next = store.EncodeCursor(store.Position{Time: last.Created, ID: last.ID})
				return true
			}
			page.Runs = append(page.Runs, utcRun(*r))
			return false
		}
		decode := func(id []byte) (*store.RunRecord, error) {
			raw := runB.Get(id)
			if raw == nil {
				return nil, nil
			}
			var r store.RunRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, fmt.Errorf("decode run %s: %w", id, err)
			}
			return &r, nil
		}
		if q.Asset != "" {
			return assetRuns(ctx, tx, q.Asset, lo, hi, decode, visit)
		}
		c := tx.Bucket(bRunsByCreated).Cursor()
		var k []byte
		if hi == nil {
			k, _ = c.Last()
		} else if k, _ = c.Seek(hi); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.Compare(k, lo) >= 0; k, _ = c.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := decode(k[8:])
			if err != nil {
				return err
			}
			if r == nil {
				return fmt.Errorf("index entry %q has no run", k)
			}
			if visit(r) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return store.RunPage{}, fmt.Errorf("embedded: runs: %w", err)
	}
	return page, nil
}

// assetRuns feeds visit the runs with a step for a, whose created keys
// fall in [lo, hi), newest first.
func assetRuns(ctx context.Context, tx *bolt.Tx, a asset.Key, lo, hi []byte,
	decode func([]byte) (*store.RunRecord, error), visit func(*store.RunRecord) bool) error {
	type cand struct {
		key []byte
		run *store.RunRecord
	}
	var cands []cand
	prefix := assetPrefix(a)
	c := tx.Bucket(bRunsByAsset).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := decode(k[len(prefix):])
		if err != nil {
			return err
		}
		if r == nil {
			continue // steps of a run that was never put
		}
		key := timeKey(r.Created, r.ID)
		if bytes.Compare(key, lo) < 0 || hi != nil && bytes.Compare(key, hi) >= 0 {
			continue
		}
		cands = append(cands, cand{key, r})
	}
	slices.SortFunc(cands, func(x, y cand) int { return bytes.Compare(y.key, x.key) })
	for _, cd := range cands {
		if visit(cd.run) {
			break
		}
	}
	return nil
}

// AppendRunLogs stores the lines whose (RunID, Seq) it does not hold yet:
// a line already stored, or repeated within the batch, is skipped.
func (s *Store) AppendRunLogs(ctx context.Context, lines []store.RunLogLine) error {
	return s.write(ctx, store.CheckRunLogs(lines), len(lines), createRunBuckets, func(tx *bolt.Tx) error {
		b := tx.Bucket(bRunLogs)
		kvs := make([]kv, 0, len(lines))
		inBatch := make(map[string]bool, len(lines))
		for i := range lines {
			l := lines[i]
			l.Time = l.Time.UTC()
			key := logKey(l.RunID, l.Seq)
			if inBatch[string(key)] || b.Get(key) != nil {
				continue
			}
			inBatch[string(key)] = true
			val, err := json.Marshal(&l)
			if err != nil {
				return fmt.Errorf("encode log line %d of run %s: %w", l.Seq, l.RunID, err)
			}
			kvs = append(kvs, kv{key, val})
		}
		return putSorted(b, kvs)
	})
}

// RunLogs reads a run's lines after q.AfterSeq by one range scan.
func (s *Store) RunLogs(ctx context.Context, q store.RunLogQuery) ([]store.RunLogLine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.AfterSeq == math.MaxUint64 || badRunKey(q.RunID) {
		return nil, nil
	}
	limit := q.EffectiveLimit()
	var out []store.RunLogLine
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRunLogs)
		if b == nil {
			return nil
		}
		prefix := runPrefix(q.RunID)
		c := b.Cursor()
		for k, v := c.Seek(logKey(q.RunID, q.AfterSeq+1)); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			var l store.RunLogLine
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("decode log line %q: %w", k, err)
			}
			l.Time = l.Time.UTC()
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: run logs of %s: %w", q.RunID, err)
	}
	return out, nil
}

func utcRun(r store.RunRecord) store.RunRecord {
	r.Created, r.Started, r.Ended, r.Updated = r.Created.UTC(), r.Started.UTC(), r.Ended.UTC(), r.Updated.UTC()
	return r
}

func utcStep(s store.StepRecord) store.StepRecord {
	s.Started, s.Ended, s.Updated = s.Started.UTC(), s.Ended.UTC(), s.Updated.UTC()
	return s
}

// write runs fn in one read-write transaction after the checks every
// batch write shares: the batch is valid (checkErr from its Check*
// function), not empty, and ctx is alive; create makes the buckets fn
// needs (they are created on first write, so older files need nothing).
func (s *Store) write(ctx context.Context, checkErr error, n int, create func(*bolt.Tx) error, fn func(*bolt.Tx) error) error {
	if checkErr != nil {
		return fmt.Errorf("embedded: %w", checkErr)
	}
	if n == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := create(tx); err != nil {
			return err
		}
		return fn(tx)
	})
}
