package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// summaryRecord is a store.Summary as kept on disk. It is updated on every
// append, so loading the catalog reads one record per asset however long
// the history is.
type summaryRecord struct {
	LastMaterialization *asset.Event            `json:"last_materialization,omitempty"`
	LastFailure         *asset.Event            `json:"last_failure,omitempty"`
	LastObservation     *asset.Event            `json:"last_observation,omitempty"`
	LastChecks          map[string]*asset.Event `json:"last_checks,omitempty"`
	LastFreshness       *asset.Event            `json:"last_freshness,omitempty"`
	LastPolicyChange    *asset.Event            `json:"last_policy_change,omitempty"`
	Counts              map[asset.Kind]int64    `json:"counts"`
	FirstTime           time.Time               `json:"first_time"`
	LastTime            time.Time               `json:"last_time"`
}

// keepLatest replaces *slot with e when e is later.
func keepLatest(slot **asset.Event, e *asset.Event) {
	if *slot == nil || e.After(*slot) {
		cp := *e
		*slot = &cp
	}
}

// maxCachedSummaries bounds the decoded summaries kept between appends
// (about a kilobyte each); beyond it some are dropped and read again.
const maxCachedSummaries = 20_000

// updateSummaries folds the touched assets' events into their summaries
// and returns the new records, for the cache once the transaction has
// committed. cached records are never modified: a failed transaction
// leaves the cache as committed.
func updateSummaries(b *bolt.Bucket, touched map[asset.Key][]*asset.Event, cached map[asset.Key]*summaryRecord) (map[asset.Key]*summaryRecord, error) {
	out := make(map[asset.Key]*summaryRecord, len(touched))
	// In key order, as putSorted: each Get and Put lands next to the last
	// one instead of splitting pages all over the bucket.
	for _, a := range slices.Sorted(maps.Keys(touched)) {
		events := touched[a]
		var r summaryRecord
		if c, ok := cached[a]; ok {
			r = *c
			r.Counts = maps.Clone(c.Counts)
			r.LastChecks = maps.Clone(c.LastChecks) // the events in it are replaced, never changed
		} else if raw := b.Get([]byte(a)); raw != nil {
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, fmt.Errorf("decode summary of %s: %w", a, err)
			}
		}
		if r.Counts == nil {
			r.Counts = map[asset.Kind]int64{}
		}
		for _, e := range events {
			r.Counts[e.Kind]++
			if r.FirstTime.IsZero() || e.Time.Before(r.FirstTime) {
				r.FirstTime = e.Time
			}
			if e.Time.After(r.LastTime) {
				r.LastTime = e.Time
			}
			switch e.Kind {
			case asset.KindMaterialization:
				keepLatest(&r.LastMaterialization, e)
			case asset.KindMaterializationFailed:
				keepLatest(&r.LastFailure, e)
			case asset.KindObservation:
				keepLatest(&r.LastObservation, e)
			case asset.KindFreshnessChanged:
				keepLatest(&r.LastFreshness, e)
			case asset.KindPolicyChanged:
				keepLatest(&r.LastPolicyChange, e)
			case asset.KindCheckResult:
				if e.Check == nil {
					continue
				}
				if r.LastChecks == nil {
					r.LastChecks = map[string]*asset.Event{}
				}
				slot := r.LastChecks[e.Check.Name]
				keepLatest(&slot, e)
				r.LastChecks[e.Check.Name] = slot
			}
		}
		val, err := json.Marshal(&r)
		if err != nil {
			return nil, fmt.Errorf("encode summary of %s: %w", a, err)
		}
		if err := b.Put([]byte(a), val); err != nil {
			return nil, err
		}
		out[a] = &r
	}
	return out, nil
}

// cacheSummaries installs committed records, dropping arbitrary older ones
// to stay within maxCachedSummaries.
func cacheSummaries(cache, committed map[asset.Key]*summaryRecord) {
	for k := range cache {
		if len(cache)+len(committed) <= maxCachedSummaries {
			break
		}
		if _, ok := committed[k]; !ok {
			delete(cache, k)
		}
	}
	for k, r := range committed {
		if len(cache) >= maxCachedSummaries {
			if _, ok := cache[k]; !ok {
				continue
			}
		}
		cache[k] = r
	}
}

// Summaries returns one summary per asset with events, in key order.
func (s *Store) Summaries(ctx context.Context) ([]store.Summary, error) {
	var out []store.Summary
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bSummaries).ForEach(func(k, v []byte) error {
			var r summaryRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode summary of %q: %w", k, err)
			}
			sum := store.Summary{
				Asset:               asset.Key(k),
				LastMaterialization: utc(r.LastMaterialization),
				LastFailure:         utc(r.LastFailure),
				LastObservation:     utc(r.LastObservation),
				LastFreshness:       utc(r.LastFreshness),
				LastPolicyChange:    utc(r.LastPolicyChange),
				Counts:              r.Counts,
				FirstTime:           r.FirstTime.UTC(),
				LastTime:            r.LastTime.UTC(),
			}
			for _, e := range r.LastChecks {
				sum.LastChecks = append(sum.LastChecks, *utc(e))
			}
			slices.SortFunc(sum.LastChecks, func(a, b asset.Event) int { return strings.Compare(a.Check.Name, b.Check.Name) })
			out = append(out, sum)
			return nil
		})
	})
	return out, err
}

func utc(e *asset.Event) *asset.Event {
	if e != nil {
		e.Time = e.Time.UTC()
		if e.DataTime != nil {
			t := e.DataTime.UTC()
			e.DataTime = &t
		}
	}
	return e
}
