package catalog

import (
	"fmt"
	"slices"
	"syscall"
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
		cpu0 := cpuTime(b)
		for b.Loop() {
			evs := batches[j%len(batches)]
			c.Apply(evs)
			c.Stored(evs, evs)
			j++
		}
		report(b, batch, cpu0)
	})
	b.Run("baseline", func(b *testing.B) {
		pending := map[string]asset.Key{}
		j := 0
		cpu0 := cpuTime(b)
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
		report(b, batch, cpu0)
	})
}

// BenchmarkApplyStoredBacklog is BenchmarkApplyStored shaped as on a busy
// server: 50 requests of 1,000 new events are acknowledged (Apply) before
// the writer stores them as one 50,000-event batch (Stored, with copies of
// the events as the pipeline collects them), so tens of thousands of ids
// are pending; every round's events are later than the last round's, so
// each becomes its asset's latest. "baseline": the same 50,000 ids
// inserted into a map, then deleted. One op is one round (50,000 events).
// Besides events/s (wall time) it reports the process's CPU time per
// event (cpu-ns/event, garbage collection included), which a busy
// machine disturbs less.
func BenchmarkApplyStoredBacklog(b *testing.B) {
	const requests, batch, assets = 50, 1000, 10_000
	reqs := make([][]asset.Event, requests)
	for j := range reqs {
		reqs[j] = make([]asset.Event, batch)
		for i := range reqs[j] {
			n := j*batch + i
			reqs[j][i] = asset.Event{ID: fmt.Sprintf("ev-%08d", n), Kind: asset.KindMaterialization,
				Asset:    asset.Key(fmt.Sprintf("warehouse/schema%d/table%05d", n%assets%10, n%assets)),
				Upstream: []asset.Key{asset.Key(fmt.Sprintf("raw/source%03d", n%500))},
				Time:     t0.Add(time.Duration(n) * time.Millisecond)}
		}
	}
	stored := make([]asset.Event, 0, requests*batch)
	// nextRound moves every event a round later (both sides pay for it;
	// it is a small part of a round).
	nextRound := func() {
		for _, r := range reqs {
			for i := range r {
				r[i].Time = r[i].Time.Add(time.Duration(requests*batch) * time.Millisecond)
			}
		}
	}
	b.Run("catalog", func(b *testing.B) {
		c := New()
		cpu0 := cpuTime(b)
		for b.Loop() {
			stored = stored[:0]
			for _, r := range reqs {
				c.Apply(r)
				stored = append(stored, r...)
			}
			c.Stored(stored, stored)
			nextRound()
		}
		report(b, requests*batch, cpu0)
	})
	b.Run("baseline", func(b *testing.B) {
		pending := map[string]asset.Key{}
		cpu0 := cpuTime(b)
		for b.Loop() {
			stored = stored[:0]
			for _, r := range reqs {
				for i := range r {
					pending[r[i].ID] = r[i].Asset
				}
				stored = append(stored, r...)
			}
			for i := range stored {
				delete(pending, stored[i].ID)
			}
			nextRound()
		}
		report(b, requests*batch, cpu0)
	})
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report gives events/s and the CPU time per event since cpu0.
func report(b *testing.B, perOp int, cpu0 time.Duration) {
	events := float64(b.N * perOp)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpuTime(b)-cpu0)/events, "cpu-ns/event")
}
