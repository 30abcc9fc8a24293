package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

var _ store.Trimmer = (*Store)(nil)

// trimBatch bounds the rows one trim transaction deletes: each holds the
// write lock (and appendMu) for a few milliseconds, so ingest waits at most
// that long behind a trim instead of behind one transaction over millions
// of keys.
const trimBatch = 1000

// trimFields is what a trim reads of a stored event: its group.
type trimFields struct {
	Kind      asset.Kind `json:"kind"`
	Asset     asset.Key  `json:"asset"`
	Partition string     `json:"partition"`
	Check     *struct {
		Name string `json:"name"`
	} `json:"check"`
}

// group is the key under which a trim keeps one event: asset, kind, check
// name, partition (store.Trimmer).
func (f *trimFields) group() string {
	name := ""
	if f.Kind == asset.KindCheckResult && f.Check != nil {
		name = f.Check.Name
	}
	return string(f.Asset) + "\x00" + string(f.Kind) + "\x00" + name + "\x00" + f.Partition
}

// trimChunk bounds the victims one read transaction collects before they
// are deleted: a trim's memory is about 100 bytes a victim, whatever the
// store's size, and the read transaction stays short (a writer that must
// grow the file waits for every open read transaction).
const trimChunk = 20_000

// victim is an event a trim deletes.
type victim struct {
	tk   []byte // time key: the events key, the id after 8 bytes
	kind asset.Kind
}

// TrimEvents removes the events before `before` except the latest of each
// group and each asset's first event and first materialization. It goes
// asset by asset along by_asset: a short read transaction finds the
// victims of the next assets, up to trimChunk, and
// write transactions of at most trimBatch victims delete them, with their
// id and index entries, and lower the summary counts of their assets
// (an asset's summary is rewritten once per transaction that touches it,
// and each touches few assets). Events that arrive during the trim are
// not among the victims, whatever their time: a trim never removes what
// it did not see, so never what could be the latest of its group.
func (s *Store) TrimEvents(ctx context.Context, before time.Time) (store.Trimmed, error) {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	var res store.Trimmed
	cut := timeKey(before, "")
	var from asset.Key // the next asset to read; "" is the first
	for more := true; more; {
		var (
			byAsset map[asset.Key][]victim
			order   []asset.Key
			kept    int64
			err     error
		)
		byAsset, order, kept, from, more, err = s.trimVictims(ctx, from, cut)
		if err != nil {
			return res, fmt.Errorf("embedded: trim events: %w", err)
		}
		res.Kept += kept
		// Batches of whole assets where they fit, split where they do not.
		var batch []assetVictims
		size := 0
		flush := func() error {
			n, err := s.deleteVictims(batch)
			if err == nil {
				for _, av := range batch {
					for _, v := range av.vs {
						res.AddRemoved(av.asset, v.kind, 1)
					}
				}
			}
			res.Rows += n
			batch, size = batch[:0], 0
			return err
		}
		for _, a := range order {
			vs := byAsset[a]
			for len(vs) > 0 {
				if err := ctx.Err(); err != nil {
					return res, err
				}
				take := min(len(vs), trimBatch-size)
				batch = append(batch, assetVictims{a, vs[:take]})
				size += take
				vs = vs[take:]
				if size == trimBatch {
					if err := flush(); err != nil {
						return res, fmt.Errorf("embedded: trim events: %w", err)
					}
				}
			}
		}
		if size > 0 {
			if err := flush(); err != nil {
				return res, fmt.Errorf("embedded: trim events: %w", err)
			}
		}
	}
	return res, nil
}

type assetVictims struct {
	asset asset.Key
	vs    []victim
}

// trimVictims reads, from asset `from` on, the victims of whole assets
// until it holds trimChunk or more, and how many old events it keeps. It
// returns where to go on and whether there is more.
func (s *Store) trimVictims(ctx context.Context, from asset.Key, cut []byte) (map[asset.Key][]victim, []asset.Key, int64, asset.Key, bool, error) {
	out := map[asset.Key][]victim{}
	var (
		order []asset.Key
		kept  int64
		next  asset.Key
		more  bool
		total int
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		evB := tx.Bucket(bEvents)
		sc := tx.Bucket(bSummaries).Cursor()
		c := tx.Bucket(bByAsset).Cursor()
		k, _ := sc.Seek([]byte(from))
		for ; k != nil; k, _ = sc.Next() {
			a := asset.Key(k)
			if total >= trimChunk {
				next, more = a, true
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			prefix := assetPrefix(a)
			lo := append(slices.Clone(prefix), cut...)
			type old struct {
				tk    []byte
				kind  asset.Kind
				group string
			}
			var (
				olds     []old
				latest   = map[string]int{} // group -> index in olds of its latest
				firstMat = -1
			)
			for ik, _ := c.Seek(prefix); ik != nil && bytes.HasPrefix(ik, prefix) && bytes.Compare(ik, lo) < 0; ik, _ = c.Next() {
				tk := ik[len(prefix):]
				raw := evB.Get(tk)
				if raw == nil {
					return fmt.Errorf("index entry %q has no event", tk)
				}
				var f trimFields
				if err := json.Unmarshal(raw, &f); err != nil {
					return fmt.Errorf("decode event %q: %w", tk[8:], err)
				}
				g := f.group()
				latest[g] = len(olds) // ascending: the last one wins
				if firstMat < 0 && f.Kind == asset.KindMaterialization {
					firstMat = len(olds)
				}
				olds = append(olds, old{bytes.Clone(tk), f.Kind, g})
			}
			keep := make(map[int]bool, len(latest)+2)
			for _, i := range latest {
				keep[i] = true
			}
			if len(olds) > 0 {
				keep[0] = true // the first event
			}
			if firstMat >= 0 {
				keep[firstMat] = true
			}
			for i, o := range olds {
				if keep[i] {
					kept++
					continue
				}
				out[a] = append(out[a], victim{o.tk, o.kind})
			}
			if len(out[a]) > 0 {
				order = append(order, a)
				total += len(out[a])
			}
		}
		return nil
	})
	return out, order, kept, next, more, err
}

// deleteVictims deletes a batch in one write transaction, holding
// appendMu (so the summary cache stays the committed state), and returns
// how many events it deleted.
func (s *Store) deleteVictims(batch []assetVictims) (int64, error) {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	var (
		n    int64
		sums = map[asset.Key]*summaryRecord{}
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		evB, idB, byB, sumB := tx.Bucket(bEvents), tx.Bucket(bIDs), tx.Bucket(bByAsset), tx.Bucket(bSummaries)
		n = 0
		for _, av := range batch {
			removed := map[asset.Kind]int64{}
			prefix := assetPrefix(av.asset)
			for _, v := range av.vs {
				if err := evB.Delete(v.tk); err != nil {
					return err
				}
				if err := idB.Delete(v.tk[8:]); err != nil {
					return err
				}
				if err := byB.Delete(append(prefix[:len(prefix):len(prefix)], v.tk...)); err != nil {
					return err
				}
				removed[v.kind]++
			}
			r, err := lowerSummary(sumB, av.asset, s.sums[av.asset], removed)
			if err != nil {
				return err
			}
			sums[av.asset] = r
			n += int64(len(av.vs))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for a, r := range sums {
		if _, ok := s.sums[a]; ok {
			s.sums[a] = r // committed: the cache follows, as after an append
		}
	}
	return n, nil
}

// lowerSummary takes removed events off an asset's summary counts and
// returns the new record. The events it names (latest of each kind, first
// time) are never removed. cached, when not nil, is the committed record
// (it is not modified).
func lowerSummary(sumB *bolt.Bucket, a asset.Key, cached *summaryRecord, removed map[asset.Kind]int64) (*summaryRecord, error) {
	var r summaryRecord
	if cached != nil {
		r = *cached
	} else {
		raw := sumB.Get([]byte(a))
		if raw == nil {
			return nil, fmt.Errorf("events of %s have no summary", a)
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("decode summary of %s: %w", a, err)
		}
	}
	r.Counts = maps.Clone(r.Counts)
	for kind, n := range removed {
		if r.Counts[kind] -= n; r.Counts[kind] <= 0 {
			delete(r.Counts, kind)
		}
	}
	val, err := json.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("encode summary of %s: %w", a, err)
	}
	if err := sumB.Put([]byte(a), val); err != nil {
		return nil, err
	}
	return &r, nil
}

// TrimRunLogs removes run output lines older than `before`, in
// transactions of trimBatch lines. Lines are keyed by run, not time: a
// trim reads each run's lines until the first one that is not old, and
// skips the rest of that run.
func (s *Store) TrimRunLogs(ctx context.Context, before time.Time) (store.Trimmed, error) {
	var res store.Trimmed
	var from []byte
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var next []byte
		n := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bRunLogs)
			if b == nil {
				return nil
			}
			var victims [][]byte
			c := b.Cursor()
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
			}
			for scanned := 0; k != nil; k, v = c.Next() {
				// Scanning kept lines costs too: bound both.
				if len(victims) == trimBatch || scanned == 8*trimBatch {
					next = bytes.Clone(k)
					break
				}
				scanned++
				var l struct {
					Time time.Time `json:"time"`
				}
				if err := json.Unmarshal(v, &l); err != nil {
					return fmt.Errorf("decode log line %q: %w", k, err)
				}
				if l.Time.Before(before) {
					victims = append(victims, bytes.Clone(k))
					continue
				}
				// A run's lines come in time order (the executor stamps
				// them as they arrive): the rest of this run is newer.
				// Skipping it makes a pass cost the runs, not their lines;
				// an out-of-order older line stays, never the reverse.
				if len(k) > 9 {
					nextRun := append(bytes.Clone(k[:len(k)-9]), 1)
					if first, _ := c.Seek(nextRun); first == nil {
						break
					}
					c.Prev() // the loop's Next lands on nextRun's first key
				}
			}
			for _, k := range victims {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(victims)
			return nil
		})
		res.Rows += int64(n)
		if err != nil {
			return res, fmt.Errorf("embedded: trim run logs: %w", err)
		}
		if next == nil {
			return res, nil
		}
		from = next
	}
}
