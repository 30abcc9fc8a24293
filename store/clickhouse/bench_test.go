package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// genEvents makes n events over the given number of assets, shaped like
// client traffic: mostly materializations with metadata and upstreams,
// some observations and check results.
func genEvents(n, assets, seed int) []asset.Event {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]asset.Event, n)
	for i := range out {
		a := i % assets
		e := asset.Event{
			ID:    fmt.Sprintf("ev-%d-%08d", seed, i),
			Asset: asset.Key(fmt.Sprintf("warehouse/schema%d/table%05d", a%10, a)),
			Time:  t0.Add(time.Duration(i) * 997 * time.Millisecond),
			RunID: fmt.Sprintf("run-%d", i/100),
		}
		switch i % 10 {
		case 0, 1:
			e.Kind = asset.KindObservation
			e.Metadata = asset.Metadata{"row_count": asset.Int(int64(i))}
		case 2:
			e.Kind = asset.KindCheckResult
			e.Check = &asset.CheckResult{Name: fmt.Sprintf("check_%d", i%3), Passed: i%7 != 0, Severity: asset.SeverityWarn}
		case 3:
			e.Kind = asset.KindMaterializationFailed
		default:
			e.Kind = asset.KindMaterialization
			e.Upstream = []asset.Key{asset.Key(fmt.Sprintf("raw/source%03d", a%500))}
			e.Metadata = asset.Metadata{"row_count": asset.Int(int64(i)), "path": asset.URL("s3://lake/t/" + e.ID)}
			dt := e.Time.Add(-time.Hour)
			e.DataTime = &dt
		}
		out[i] = e
	}
	return out
}

// loadEvents appends events in batches of batch and returns how long it took.
func loadEvents(tb testing.TB, st *Store, events []asset.Event, batch int) time.Duration {
	tb.Helper()
	start := time.Now()
	for i := 0; i < len(events); i += batch {
		if _, err := st.AppendEvents(context.Background(), events[i:min(i+batch, len(events))]); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkAppend compares Store.AppendEvents of 50,000-event batches with
// the baseline: clickhouse-go's PrepareBatch with row-at-a-time Append of
// the same rows, converted beforehand, into an identical table. Every
// iteration of the store gets fresh ids (the store looks ids up and would
// skip a batch it holds); ids are renamed outside the timer.
func BenchmarkAppend(b *testing.B) {
	const n = 50_000
	events := genEvents(n, 10_000, 1)
	b.Run("store", func(b *testing.B) {
		st, _ := openStore(b)
		b.ReportAllocs()
		batch := slices.Clone(events)
		iter := 0
		for b.Loop() {
			b.StopTimer()
			iter++
			for i := range batch {
				batch[i].ID = fmt.Sprintf("%s-%d", events[i].ID, iter)
			}
			b.StartTimer()
			added, err := st.AppendEvents(context.Background(), batch)
			if err != nil {
				b.Fatal(err)
			}
			if len(added) != n {
				b.Fatalf("added %d of %d fresh events", len(added), n)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("baseline", func(b *testing.B) {
		st, _ := openStore(b)
		ctx := context.Background()
		ddl := initialTables(st.schema)[0]
		ddl = strings.Replace(ddl, st.schema.table("events"), st.schema.table("events_baseline"), 1)
		if err := st.conn.Exec(ctx, ddl); err != nil {
			b.Fatal(err)
		}
		insert := "INSERT INTO " + st.schema.table("events_baseline") + " (" + insertEventCols + ")"
		rows := make([][]any, n)
		for i, e := range events {
			r, err := eventRow(e)
			if err != nil {
				b.Fatal(err)
			}
			rows[i] = r
		}
		b.ReportAllocs()
		for b.Loop() {
			batch, err := st.conn.PrepareBatch(ctx, insert)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rows {
				if err := batch.Append(r...); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkSummaries1M loads 1,000,000 events over 10,000 assets (and
// reports how long that took) and then times Summaries.
func BenchmarkSummaries1M(b *testing.B) {
	st, _ := openStore(b)
	events := genEvents(1_000_000, 10_000, 2)
	load := loadEvents(b, st, events, DefaultBatchRows)
	var sums []store.Summary
	for b.Loop() {
		var err error
		if sums, err = st.Summaries(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(load.Seconds(), "load-s") // after the loop, which resets metrics
	if len(sums) != 10_000 {
		b.Fatalf("%d summaries, want 10000", len(sums))
	}
	for _, q := range []store.EventQuery{{}, {Asset: events[5].Asset}, {Asset: events[5].Asset, Ascending: true}} {
		start := time.Now()
		if _, err := st.Events(context.Background(), q); err != nil {
			b.Fatal(err)
		}
		b.Logf("Events(%+v): %v", q, time.Since(start))
	}
	start := time.Now()
	edges, err := st.ObservedEdges(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("ObservedEdges: %d edges in %v", len(edges), time.Since(start))
}
