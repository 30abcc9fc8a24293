package monitor

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
)

// BenchmarkObserveBacklog queues a burst of 100,000 events the way ingest
// hands them to the monitor while a pass runs (batches of 1,000 over 1,000
// assets) and reports the heap the queue holds per event once the batches
// are gone. The events are what the executor reports: a UUID id and run
// id, duration_s and row_count metadata, two upstream assets.
func BenchmarkObserveBacklog(b *testing.B) {
	const n, batch, assets = 100000, 1000, 1000
	keys := make([]asset.Key, assets)
	for i := range keys {
		keys[i] = asset.Key(fmt.Sprintf("marts/table_%04d", i))
	}
	upstream := []asset.Key{"raw/orders", "raw/customers"}
	var perEvent float64
	for b.Loop() {
		m := New(nil, nil, Options{Logger: quiet})
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i += batch {
			events := make([]asset.Event, batch)
			for j := range events {
				k := i + j
				events[j] = asset.Event{ID: asset.NewEventID(), Kind: asset.KindMaterialization, Asset: keys[k%assets],
					Time: t0.Add(time.Duration(k) * time.Millisecond), RunID: asset.NewEventID(), Upstream: upstream,
					Metadata: asset.Metadata{freshness.DurationKey: asset.Float(42.5), asset.RowCountKey: asset.Int(int64(k))}}
			}
			m.Observe(events)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if len(m.pending) != n {
			b.Fatalf("%d events queued, want %d", len(m.pending), n)
		}
		perEvent = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perEvent, "B/queued")
}
