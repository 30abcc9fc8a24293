package catalog

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// benchCatalog holds n assets in 50 groups, each with a materialization.
func benchCatalog(n int) *Catalog {
	c := New()
	events := make([]asset.Event, n)
	specs := make([]asset.Spec, n)
	for i := range n {
		k := asset.Key(fmt.Sprintf("g%02d/asset%07d", i%50, i))
		specs[i] = asset.Spec{Key: k, Group: fmt.Sprintf("g%02d", i%50), Origin: asset.OriginDeclared}
		events[i] = asset.Event{ID: fmt.Sprint(i), Kind: asset.KindMaterialization, Asset: k, Time: t0.Add(time.Duration(i) * time.Second)}
	}
	c.SetSpecs(specs)
	c.Apply(events)
	return c
}

// BenchmarkListPage: GET /api/v1/assets?limit=1000, the first and the
// fiftieth page, at 10k and 100k assets. A page should cost the same at
// both sizes. "scan" is the baseline: what a page cost when List filtered
// and sorted the whole catalog for every page.
func BenchmarkListPage(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		c := benchCatalog(n)
		keys := c.Keys()
		for _, page := range []int{1, 50} {
			after := asset.Key("")
			if idx := (page - 1) * 1000; idx > 0 && idx <= len(keys) {
				after = keys[idx-1]
			}
			b.Run(fmt.Sprintf("assets=%d/page=%d", n, page), func(b *testing.B) {
				for b.Loop() {
					if got, _ := c.List(Filter{After: after, Limit: 1000}); len(got) != 1000 {
						b.Fatalf("page of %d", len(got))
					}
				}
			})
			b.Run(fmt.Sprintf("scan/assets=%d/page=%d", n, page), func(b *testing.B) {
				for b.Loop() {
					if got := scanPage(c, after, 1000); len(got) != 1000 {
						b.Fatalf("page of %d", len(got))
					}
				}
			})
		}
	}
}

// scanPage is the former List: every entry filtered, all matches sorted.
func scanPage(c *Catalog, after asset.Key, limit int) []Asset {
	c.mu.RLock()
	defer c.mu.RUnlock()
	matched := make([]*entry, 0, len(c.entries))
	for k, e := range c.entries {
		if after == "" || k > after {
			matched = append(matched, e)
		}
	}
	slices.SortFunc(matched, func(x, y *entry) int {
		switch {
		case x.spec.Key < y.spec.Key:
			return -1
		case x.spec.Key > y.spec.Key:
			return 1
		}
		return 0
	})
	out := make([]Asset, 0, limit)
	for _, e := range matched[:limit] {
		out = append(out, e.view())
	}
	return out
}

// BenchmarkUnknown: the asset limits' check of a 1,000-event batch of
// known assets, each with two upstreams, in a catalog of 100k assets: what
// it adds to an ingest request, next to decoding the same batch
// (ingest.BenchmarkDecodeNDJSON, about 6.5 ms on the reference machine).
func BenchmarkUnknown(b *testing.B) {
	c := benchCatalog(100_000)
	keys := c.Keys()
	batch := make([]asset.Event, 1000)
	for i := range batch {
		batch[i] = asset.Event{Asset: keys[i*97%len(keys)], Upstream: []asset.Key{keys[i*13%len(keys)], keys[i*31%len(keys)]}}
	}
	for b.Loop() {
		if n := len(c.Unknown(batch)); n != 0 {
			b.Fatalf("%d unknown", n)
		}
	}
}

// BenchmarkApplyStored is what ingest asks of the catalog per event: Apply
// when a batch is acknowledged, Stored when the store took it (all new),
// in 1,000-event batches over 10,000 assets with an upstream each.
// "baseline" is the floor of exact pending counts, in the same run: one
// map insert and one delete per event id.
func BenchmarkApplyStored(b *testing.B) {
	const batch, assets = 1000, 10_000
	batches := make([][]asset.Event, 50)
	for j := range batches {
		batches[j] = make([]asset.Event, batch)
		for i := range batches[j] {
			n := j*batch + i
			batches[j][i] = asset.Event{ID: fmt.Sprintf("ev-%08d", n), Kind: asset.KindMaterialization,
				Asset:    asset.Key(fmt.Sprintf("warehouse/schema%d/table%05d", n%assets%10, n%assets)),
				Upstream: []asset.Key{asset.Key(fmt.Sprintf("raw/source%03d", n%500))},
				Time:     t0.Add(time.Duration(n) * time.Millisecond)}
		}
	}
	b.Run("catalog", func(b *testing.B) {
		c := New()
		j := 0
		for b.Loop() {
			evs := batches[j%len(batches)]
			c.Apply(evs)
			c.Stored(evs, evs)
			j++
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("baseline", func(b *testing.B) {
		pending := map[string]asset.Key{}
		j := 0
		for b.Loop() {
			evs := batches[j%len(batches)]
			for i := range evs {
				pending[evs[i].ID] = evs[i].Asset
			}
			for i := range evs {
				delete(pending, evs[i].ID)
			}
			j++
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	})
}
