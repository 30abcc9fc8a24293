package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/freshet-dev/freshet/store"
)

// Buckets of the alert store (store.AlertStore). Like the run buckets they
// are created by the first write, so a file made before alerts existed
// needs no new schema version, and reads treat a missing bucket as empty.
// The indexes hold no values: each entry names a record by its key, and
// every upsert moves the entries of the record it replaces.
var (
	bDeliveries          = []byte("alert_deliveries")            // id -> Delivery JSON
	bDeliveriesByCreated = []byte("alert_deliveries_by_created") // created(8) id -> nil: Deliveries walks it backwards
	bDeliveriesByKey     = []byte("alert_deliveries_by_key")     // len(key) key created(8) id -> nil: one incident's deliveries
	bDeliveriesDue       = []byte("alert_deliveries_due")        // next attempt(8) id -> nil, pending deliveries only: the work list
	bIncidents           = []byte("alert_incidents")             // key -> Incident JSON
	bIncidentsOpen       = []byte("alert_incidents_open")        // key -> nil, incidents whose EndsAt is zero
	bSilences            = []byte("alert_silences")              // id -> Silence JSON
	alertBuckets         = [][]byte{bDeliveries, bDeliveriesByCreated, bDeliveriesByKey, bDeliveriesDue,
		bIncidents, bIncidentsOpen, bSilences}
)

var _ store.AlertStore = (*Store)(nil)

// createAlertBuckets makes the alert buckets in a write transaction.
func createAlertBuckets(tx *bolt.Tx) error {
	for _, b := range alertBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

// byKeyPrefix is a delivery key's prefix in alert_deliveries_by_key: its
// length, then its bytes, so that no key is a prefix of another's entries
// whatever bytes it holds (the incident key of a delivery is not checked).
func byKeyPrefix(key string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(key))), key...)
}

// dueKey orders the work list by (NextAttempt, ID). A zero NextAttempt
// sorts as the epoch, as on ClickHouse, where it is stored as 0; timeKey
// would take the zero time's UnixNano, which is undefined.
func dueKey(next time.Time, id string) []byte {
	if next.IsZero() {
		next = time.Unix(0, 0)
	}
	return timeKey(next, id)
}

// deliveryIndex returns the index entries of a stored delivery: bucket
// and key. A delivery not pending has no entry in the work list.
func deliveryIndex(d *store.Delivery) [][2][]byte {
	created := timeKey(d.Created, d.ID)
	out := [][2][]byte{
		{bDeliveriesByCreated, created},
		{bDeliveriesByKey, append(byKeyPrefix(d.Key), created...)},
	}
	if d.State == store.DeliveryPending {
		out = append(out, [2][]byte{bDeliveriesDue, dueKey(d.NextAttempt, d.ID)})
	}
	return out
}

// PutDeliveries upserts deliveries by ID in one transaction: a delivery
// replaces the stored one unless its Updated is older, and the indexes
// follow the stored delivery, so a new state, NextAttempt, Created or Key
// moves it in the work list and the listings.
func (s *Store) PutDeliveries(ctx context.Context, ds []store.Delivery) error {
	return s.write(ctx, store.CheckDeliveries(ds), len(ds), createAlertBuckets, func(tx *bolt.Tx) error {
		b := tx.Bucket(bDeliveries)
		for i := range ds {
			d := utcDelivery(ds[i])
			if raw := b.Get([]byte(d.ID)); raw != nil {
				var old store.Delivery
				if err := json.Unmarshal(raw, &old); err != nil {
					return fmt.Errorf("decode delivery %s: %w", d.ID, err)
				}
				if d.Updated.Before(old.Updated) {
					continue // a newer version is stored
				}
				for _, e := range deliveryIndex(&old) {
					if err := tx.Bucket(e[0]).Delete(e[1]); err != nil {
						return err
					}
				}
			}
			val, err := json.Marshal(&d)
			if err != nil {
				return fmt.Errorf("encode delivery %s: %w", d.ID, err)
			}
			if err := b.Put([]byte(d.ID), val); err != nil {
				return err
			}
			for _, e := range deliveryIndex(&d) {
				if err := tx.Bucket(e[0]).Put(e[1], nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Deliveries pages through deliveries newest Created first. With a Key it
// walks that key's entries of alert_deliveries_by_key, else
// alert_deliveries_by_created, backwards from the cursor; it decodes only
// the deliveries it visits and stops at a full page and one more match.
func (s *Store) Deliveries(ctx context.Context, q store.DeliveryQuery) (store.DeliveryPage, error) {
	var after *store.Position
	if q.Cursor != "" {
		p, err := store.DecodeCursor(q.Cursor)
		if err != nil {
			return store.DeliveryPage{}, err
		}
		after = &p
	}
	limit := q.EffectiveLimit()
	bucket, prefix := bDeliveriesByCreated, []byte(nil)
	if q.Key != "" {
		bucket, prefix = bDeliveriesByKey, byKeyPrefix(q.Key)
	}
	// Entries in [prefix, hi) qualify, hi being the cursor's entry or the
	// end of the prefix.
	var hi []byte
	if after != nil {
		hi = append(slices.Clip(prefix), timeKey(after.Time, after.ID)...)
	}
	var page store.DeliveryPage
	err := s.db.View(func(tx *bolt.Tx) error {
		b, idx := tx.Bucket(bDeliveries), tx.Bucket(bucket)
		if b == nil || idx == nil {
			return nil
		}
		c := idx.Cursor()
		var k []byte
		switch {
		case hi != nil:
			if k, _ = c.Seek(hi); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		case prefix != nil:
			k = seekLastWithPrefix(c, prefix)
		default:
			k, _ = c.Last()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(k) < len(prefix)+8 {
				return fmt.Errorf("index entry %q is too short", k)
			}
			id := k[len(prefix)+8:]
			raw := b.Get(id)
			if raw == nil {
				return fmt.Errorf("index entry %q has no delivery", k)
			}
			var d store.Delivery
			if err := json.Unmarshal(raw, &d); err != nil {
				return fmt.Errorf("decode delivery %s: %w", id, err)
			}
			if len(q.States) > 0 && !slices.Contains(q.States, d.State) || q.Receiver != "" && d.Receiver != q.Receiver {
				continue
			}
			if len(page.Deliveries) == limit {
				last := page.Deliveries[limit-1]
				page.Next = store.EncodeCursor(store.Position{Time: last.Created, ID: last.ID})
				return nil
			}
			page.Deliveries = append(page.Deliveries, utcDelivery(d))
		}
		return nil
	})
	if err != nil {
		return store.DeliveryPage{}, fmt.Errorf("embedded: deliveries: %w", err)
	}
	return page, nil
}

// seekLastWithPrefix positions c on the last key with prefix and returns
// it, or a key before the prefix (or nil) when there is none.
func seekLastWithPrefix(c *bolt.Cursor, prefix []byte) []byte {
	// The first key after every key with prefix is at or after the
	// prefix's successor; no successor (all 0xff) means the bucket's end.
	end := slices.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			end = end[:i+1]
			if k, _ := c.Seek(end); k != nil {
				k, _ = c.Prev()
				return k
			}
			k, _ := c.Last()
			return k
		}
	}
	k, _ := c.Last()
	return k
}

// DueDeliveries reads the work list from its start: every entry of
// alert_deliveries_due is a pending delivery, so it visits only what it
// returns and stops at the first entry after now.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit = store.DueLimit(limit)
	end := dueKey(now, "")[:8] // entries up to this time prefix qualify
	var out []store.Delivery
	err := s.db.View(func(tx *bolt.Tx) error {
		b, due := tx.Bucket(bDeliveries), tx.Bucket(bDeliveriesDue)
		if b == nil || due == nil {
			return nil
		}
		c := due.Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit && bytes.Compare(k[:8], end) <= 0; k, _ = c.Next() {
			raw := b.Get(k[8:])
			if raw == nil {
				return fmt.Errorf("work list entry %q has no delivery", k)
			}
			var d store.Delivery
			if err := json.Unmarshal(raw, &d); err != nil {
				return fmt.Errorf("decode delivery %s: %w", k[8:], err)
			}
			out = append(out, utcDelivery(d))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: due deliveries: %w", err)
	}
	return out, nil
}

// PutIncidents upserts incidents by Key in one transaction, newest Updated
// winning, and keeps alert_incidents_open to the incidents whose stored
// version is open.
func (s *Store) PutIncidents(ctx context.Context, in []store.Incident) error {
	return s.write(ctx, store.CheckIncidents(in), len(in), createAlertBuckets, func(tx *bolt.Tx) error {
		b, open := tx.Bucket(bIncidents), tx.Bucket(bIncidentsOpen)
		for i := range in {
			x := utcIncident(in[i])
			key := []byte(x.Key)
			if raw := b.Get(key); raw != nil {
				var old store.Incident
				if err := json.Unmarshal(raw, &old); err != nil {
					return fmt.Errorf("decode incident %s: %w", x.Key, err)
				}
				if x.Updated.Before(old.Updated) {
					continue
				}
			}
			val, err := json.Marshal(&x)
			if err != nil {
				return fmt.Errorf("encode incident %s: %w", x.Key, err)
			}
			if err := b.Put(key, val); err != nil {
				return err
			}
			if x.EndsAt.IsZero() {
				err = open.Put(key, nil)
			} else {
				err = open.Delete(key)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Incidents reads the open incidents through alert_incidents_open, or all
// of them, and sorts them in memory.
func (s *Store) Incidents(ctx context.Context, open bool) ([]store.Incident, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.Incident
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bIncidents)
		if b == nil {
			return nil
		}
		decode := func(k, v []byte) error {
			var x store.Incident
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("decode incident %s: %w", k, err)
			}
			out = append(out, utcIncident(x))
			return ctx.Err()
		}
		if !open {
			return b.ForEach(decode)
		}
		return tx.Bucket(bIncidentsOpen).ForEach(func(k, _ []byte) error {
			v := b.Get(k)
			if v == nil {
				return fmt.Errorf("open incident %s is not stored", k)
			}
			return decode(k, v)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: incidents: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Incident) int {
		if c := b.StartsAt.Compare(a.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(b.Key, a.Key)
	})
	return out, nil
}

// PutSilences upserts silences by ID in one transaction, newest Updated
// winning.
func (s *Store) PutSilences(ctx context.Context, ss []store.Silence) error {
	return s.write(ctx, store.CheckSilences(ss), len(ss), createAlertBuckets, func(tx *bolt.Tx) error {
		b := tx.Bucket(bSilences)
		for i := range ss {
			x := utcSilence(ss[i])
			if raw := b.Get([]byte(x.ID)); raw != nil {
				var old store.Silence
				if err := json.Unmarshal(raw, &old); err != nil {
					return fmt.Errorf("decode silence %s: %w", x.ID, err)
				}
				if x.Updated.Before(old.Updated) {
					continue
				}
			}
			val, err := json.Marshal(&x)
			if err != nil {
				return fmt.Errorf("encode silence %s: %w", x.ID, err)
			}
			if err := b.Put([]byte(x.ID), val); err != nil {
				return err
			}
		}
		return nil
	})
}

// Silences reads every silence and sorts them in memory: silences are few
// (people make them), and expired ones are listed too.
func (s *Store) Silences(ctx context.Context) ([]store.Silence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.Silence
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSilences)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var x store.Silence
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("decode silence %s: %w", k, err)
			}
			out = append(out, utcSilence(x))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: silences: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Silence) int {
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(b.ID, a.ID))
	})
	return out, nil
}

func utcDelivery(d store.Delivery) store.Delivery {
	d.NextAttempt, d.Created, d.Updated = d.NextAttempt.UTC(), d.Created.UTC(), d.Updated.UTC()
	return d
}

func utcIncident(i store.Incident) store.Incident {
	i.StartsAt, i.EndsAt, i.LastSent, i.Updated = i.StartsAt.UTC(), i.EndsAt.UTC(), i.LastSent.UTC(), i.Updated.UTC()
	return i
}

func utcSilence(s store.Silence) store.Silence {
	s.StartsAt, s.EndsAt, s.Created, s.Updated = s.StartsAt.UTC(), s.EndsAt.UTC(), s.Created.UTC(), s.Updated.UTC()
	return s
}
