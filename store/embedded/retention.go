package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
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
const trimBatch = 2000

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

// firsts are the keys under which an event may be its asset's first:
// first event, first materialization.
func (f *trimFields) firsts() []string {
	if f.Kind == asset.KindMaterialization {
		return []string{string(f.Asset), string(f.Asset) + "\x00"}
	}
	return []string{string(f.Asset)}
}

// TrimEvents removes the events before `before` except the latest of each
// group and each asset's first event and first materialization, in two
// phases. The first reads (without blocking writers) which event of each
// group is the latest before the cut, and which are the firsts. The second deletes,
// in transactions of trimBatch events, every event before the cut that
// precedes its group's kept one, with its id and per-asset index entries,
// and lowers the asset's summary counts. An event of a group the first
// phase did not see, or newer than the kept one (it arrived during the
// trim with an old time), is left for the next trim: a trim never removes
// what could be the latest of its group.
func (s *Store) TrimEvents(ctx context.Context, before time.Time) (store.Trimmed, error) {
	var res store.Trimmed
	cut := timeKey(before, "")
	keep := map[string][]byte{}  // group -> time key of the event kept
	first := map[string][]byte{} // asset, and asset 0 for its materializations -> time key of the first
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		n := 0
		for k, v := c.First(); k != nil && bytes.Compare(k, cut) < 0; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var f trimFields
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode event %q: %w", k[8:], err)
			}
			tk := bytes.Clone(k)
			keep[f.group()] = tk // ascending: the last one wins
			for _, fk := range f.firsts() {
				if _, ok := first[fk]; !ok {
					first[fk] = tk
				}
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("embedded: trim events: %w", err)
	}
	// keep maps a group to its kept event; pinned holds every kept event,
	// the groups' and the first ones.
	pinned := make(map[string]bool, len(keep)+len(first))
	for _, tk := range keep {
		pinned[string(tk)] = true
	}
	for _, tk := range first {
		pinned[string(tk)] = true
	}
	res.Kept = int64(len(pinned))
	var from []byte // resume key: the first key not yet looked at
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n, next, err := s.trimEventBatch(from, cut, keep, pinned)
		res.Rows += n
		if err != nil {
			return res, fmt.Errorf("embedded: trim events: %w", err)
		}
		if next == nil {
			return res, nil
		}
		from = next
	}
}

// trimEventBatch deletes up to trimBatch events in [from, cut) that
// precede their group's kept event, in one transaction, and returns how
// many it deleted and where the next batch starts (nil: done).
func (s *Store) trimEventBatch(from, cut []byte, keep map[string][]byte, pinned map[string]bool) (int64, []byte, error) {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	var (
		deleted int64
		next    []byte
		touched map[asset.Key]bool
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		evB, idB, byB, sumB := tx.Bucket(bEvents), tx.Bucket(bIDs), tx.Bucket(bByAsset), tx.Bucket(bSummaries)
		type victim struct {
			tk    []byte
			asset asset.Key
			kind  asset.Kind
		}
		var victims []victim
		c := evB.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for ; k != nil && bytes.Compare(k, cut) < 0; k, v = c.Next() {
			if len(victims) == trimBatch {
				next = bytes.Clone(k)
				break
			}
			var f trimFields
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode event %q: %w", k[8:], err)
			}
			if kept, ok := keep[f.group()]; !ok || bytes.Compare(k, kept) >= 0 || pinned[string(k)] {
				continue
			}
			victims = append(victims, victim{bytes.Clone(k), f.Asset, f.Kind})
		}
		counts := map[asset.Key]map[asset.Kind]int64{}
		for _, x := range victims {
			if err := evB.Delete(x.tk); err != nil {
				return err
			}
			if err := idB.Delete(x.tk[8:]); err != nil {
				return err
			}
			if err := byB.Delete(append(assetPrefix(x.asset), x.tk...)); err != nil {
				return err
			}
			if counts[x.asset] == nil {
				counts[x.asset] = map[asset.Kind]int64{}
			}
			counts[x.asset][x.kind]++
		}
		deleted = int64(len(victims))
		touched = make(map[asset.Key]bool, len(counts))
		for a, byKind := range counts {
			if err := lowerSummary(sumB, a, byKind); err != nil {
				return err
			}
			touched[a] = true
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	// The cached records are the old ones: the next append reads the
	// lowered ones from the bucket.
	for a := range touched {
		delete(s.sums, a)
	}
	return deleted, next, nil
}

// lowerSummary takes removed events off an asset's summary counts. The
// events it names (latest of each kind, first time) are never removed.
func lowerSummary(sumB *bolt.Bucket, a asset.Key, removed map[asset.Kind]int64) error {
	raw := sumB.Get([]byte(a))
	if raw == nil {
		return fmt.Errorf("events of %s have no summary", a)
	}
	var r summaryRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("decode summary of %s: %w", a, err)
	}
	r.Counts = maps.Clone(r.Counts)
	for kind, n := range removed {
		if r.Counts[kind] -= n; r.Counts[kind] <= 0 {
			delete(r.Counts, kind)
		}
	}
	val, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("encode summary of %s: %w", a, err)
	}
	return sumB.Put([]byte(a), val)
}

// TrimRunLogs removes run output lines older than `before`, in
// transactions of trimBatch lines. Lines are keyed by run, not time, so
// a trim reads every line's time once.
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
