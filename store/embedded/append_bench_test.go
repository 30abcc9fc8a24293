package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/freshet-dev/freshet/asset"
)

// benchBatch is ingest's writer's load: fresh ids, materializations with
// a run, an upstream and metadata, spread over 10,000 assets.
func benchBatch(n, batch int, t0 time.Time) []asset.Event {
	events := make([]asset.Event, batch)
	for i := range events {
		a := (n*batch + i*31) % 10_000
		events[i] = asset.Event{ID: fmt.Sprintf("b%d-%d", n, i), Kind: asset.KindMaterialization,
			Asset:    asset.Key(fmt.Sprintf("w/schema%d/table%05d", a%10, a)),
			Time:     t0.Add(time.Duration(n*batch+i) * time.Microsecond),
			RunID:    fmt.Sprintf("run-%d", n),
			Upstream: []asset.Key{asset.Key(fmt.Sprintf("raw/source%03d", a%500))},
			Metadata: asset.Metadata{"row_count": asset.Int(int64(i)), "uri": asset.URL("s3://lake/t/" + fmt.Sprint(a))}}
	}
	return events
}

// cpuTime is the process's user and system CPU time so far. Per event it
// compares implementations on a busy machine, where events/s mostly
// measures the neighbours; it counts the GC's work too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, events int, cpu0 time.Duration) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(events), "cpu-µs/event")
}

// BenchmarkSustainedAppend writes 10,000-event batches (the writer's
// default batch for this store) into one growing store. The same-run
// baseline, raw-bbolt, is the floor of this layout: the same event
// records, id and per-asset index entries put sorted in one transaction
// per batch, without the duplicate check, the summaries or the edges;
// AppendEvents-no-summary-cache is the store as it was before it kept
// decoded summaries between batches. Compare events/s, or CPU per event
// on a busy machine, median of several runs (a loop of -count 1 runs
// interleaves them):
//
//	for i in 1 2 3 4 5; do go test -run X -bench SustainedAppend -benchtime 40x ./store/embedded; done
func BenchmarkSustainedAppend(b *testing.B) {
	const batch = 10_000
	t0 := time.Now().UTC().Add(-time.Hour)
	ctx := context.Background()
	b.Run("raw-bbolt", func(b *testing.B) {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o644, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.ResetTimer()
		cpu0 := cpuTime()
		for n := range b.N {
			b.StopTimer()
			events := benchBatch(n, batch, t0)
			b.StartTimer()
			err := db.Update(func(tx *bolt.Tx) error {
				var evs, ids, by []kv
				for i := range events {
					e := &events[i]
					tk := timeKey(e.Time, e.ID)
					val, err := json.Marshal(e)
					if err != nil {
						return err
					}
					evs = append(evs, kv{tk, val})
					ids = append(ids, kv{[]byte(e.ID), tk})
					by = append(by, kv{append(assetPrefix(e.Asset), tk...), nil})
				}
				for name, kvs := range map[string][]kv{"events": evs, "ids": ids, "by_asset": by} {
					bk, err := tx.CreateBucketIfNotExists([]byte(name))
					if err != nil {
						return err
					}
					if err := putSorted(bk, kvs); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, b.N*batch, cpu0)
	})
	for _, cached := range []bool{false, true} {
		name := "AppendEvents"
		if !cached {
			name += "-no-summary-cache" // how it was before the cache
		}
		b.Run(name, func(b *testing.B) { appendBatches(ctx, b, cached, batch, t0) })
	}
}

func appendBatches(ctx context.Context, b *testing.B, cached bool, batch int, t0 time.Time) {
	{
		st, err := Open(ctx, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		if !cached {
			st.sums = nil
		}
		b.ResetTimer()
		cpu0 := cpuTime()
		for n := range b.N {
			b.StopTimer()
			events := benchBatch(n, batch, t0)
			b.StartTimer()
			if _, err := st.AppendEvents(ctx, events); err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, b.N*batch, cpu0)
	}
}
