// Command retention measures one retention pass (store.Trimmer.TrimEvents)
// on a store holding -events events spread evenly over the last -months
// months, with the window at -keep months (so about (months-keep)/months
// of them are old), beside baselines measured on the same data in the
// same run:
//
//	(a) trim: TrimEvents(now - keep months), what a pass costs
//	(b) baseline: Summaries(), the store's own full aggregate over every
//	    event (what a start reads); for the embedded store also a raw
//	    bbolt scan of every stored event (keys and values, no decoding)
//	(c) a/b
//	(a') a day later: TrimEvents(cut + 1 day), the steady state of
//	    passes once the backlog is gone (a day of history expires)
//	(d) ingest while it runs: AppendEvents of -ingest-batch new events
//	    every 5 ms, p50 and p99 latency while the trim runs, against the
//	    same loop for 3 s right before it
//
// Each run builds a fresh store (the trim is destructive); figures are
// printed per run and as medians.
//
//	go run ./bench/retention                         # embedded, 1M events, 5 runs
//	go run ./bench/retention -store clickhouse       # a private clickhouse-server (internal/chtest)
//	go run ./bench/retention -events 200000 -runs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/clickhouse"
	"github.com/freshet-dev/freshet/store/embedded"
)

// trimStore is what the bench needs of a store.
type trimStore interface {
	store.Store
	store.Trimmer
}

func main() {
	var (
		kind        = flag.String("store", "embedded", "embedded or clickhouse")
		dsn         = flag.String("dsn", "", "ClickHouse server DSN without a database (default: start a private one)")
		n           = flag.Int("events", 1_000_000, "events in the store")
		assets      = flag.Int("assets", 10_000, "assets the events are spread over")
		months      = flag.Int("months", 13, "months of history")
		keep        = flag.Int("keep", 6, "retention window, in months")
		runs        = flag.Int("runs", 5, "runs (each on a fresh store)")
		ingestBatch = flag.Int("ingest-batch", 100, "events per AppendEvents in the ingest latency loop")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	)
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*kind, *dsn, *n, *assets, *months, *keep, *runs, *ingestBatch); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type result struct {
	trim, summaries, scan time.Duration
	removed, kept         int64
	partitions            int
	before, during        latencies
	steady                time.Duration // a second trim, one day later
	steadyRemoved         int64
}

type latencies struct{ p50, p99 time.Duration }

func run(kind, dsn string, n, assets, months, keep, runs, ingestBatch int) error {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if kind == "clickhouse" && dsn == "" {
		inst, err := chtest.Start(ctx)
		if err != nil {
			return err
		}
		defer inst.Stop()
		dsn = inst.DSN()
	}
	now := time.Now().UTC()
	cut := now.AddDate(0, -keep, 0)
	fmt.Printf("store %s, %d events over %d assets and %d months, window %d months (cut %s), ingest batches of %d\n",
		kind, n, assets, months, keep, cut.Format(time.DateOnly), ingestBatch)
	var all []result
	for r := 1; r <= runs; r++ {
		var (
			open func() (trimStore, error)
			dir  string
		)
		switch kind {
		case "embedded":
			var err error
			if dir, err = os.MkdirTemp("", "freshet-bench-retention-"); err != nil {
				return err
			}
			open = func() (trimStore, error) { return embedded.Open(ctx, dir) }
		case "clickhouse":
			db := fmt.Sprintf("%s/bench_retention_%d_%d", dsn, os.Getpid(), r)
			open = func() (trimStore, error) { return clickhouse.Open(ctx, db, clickhouse.WithLogger(quiet)) }
		default:
			return fmt.Errorf("unknown store %q", kind)
		}
		res, err := once(ctx, open, dir, n, assets, months, now, cut, ingestBatch)
		if dir != "" {
			os.RemoveAll(dir)
		}
		if err != nil {
			return err
		}
		all = append(all, res)
		fmt.Printf("run %d: trim %v (removed %d, kept %d old, %d partitions); summaries %v (ratio %.2f)",
			r, res.trim.Round(time.Millisecond), res.removed, res.kept, res.partitions,
			res.summaries.Round(time.Millisecond), ratio(res.trim, res.summaries))
		if res.scan > 0 {
			fmt.Printf("; bbolt scan %v (ratio %.2f)", res.scan.Round(time.Millisecond), ratio(res.trim, res.scan))
		}
		fmt.Printf("; ingest p50/p99 %v/%v before, %v/%v during; a day later: trim %v (removed %d)\n",
			res.before.p50.Round(time.Microsecond), res.before.p99.Round(time.Microsecond),
			res.during.p50.Round(time.Microsecond), res.during.p99.Round(time.Microsecond),
			res.steady.Round(time.Millisecond), res.steadyRemoved)
	}
	med := func(f func(result) float64) float64 {
		v := make([]float64, len(all))
		for i, r := range all {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Printf("median of %d: trim %.0f ms, summaries %.0f ms, trim/summaries %.2f", len(all),
		med(func(r result) float64 { return ms(r.trim) }), med(func(r result) float64 { return ms(r.summaries) }),
		med(func(r result) float64 { return ratio(r.trim, r.summaries) }))
	if all[0].scan > 0 {
		fmt.Printf(", bbolt scan %.0f ms, trim/scan %.2f", med(func(r result) float64 { return ms(r.scan) }),
			med(func(r result) float64 { return ratio(r.trim, r.scan) }))
	}
	fmt.Printf("\n          a day later: trim %.0f ms, trim/summaries %.2f",
		med(func(r result) float64 { return ms(r.steady) }), med(func(r result) float64 { return ratio(r.steady, r.summaries) }))
	fmt.Printf("\n          ingest p50 %.2f ms before, %.2f ms during (x%.2f); p99 %.2f ms before, %.2f ms during (x%.2f)\n",
		med(func(r result) float64 { return ms(r.before.p50) }), med(func(r result) float64 { return ms(r.during.p50) }),
		med(func(r result) float64 { return ratio(r.during.p50, r.before.p50) }),
		med(func(r result) float64 { return ms(r.before.p99) }), med(func(r result) float64 { return ms(r.during.p99) }),
		med(func(r result) float64 { return ratio(r.during.p99, r.before.p99) }))
	return nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// history returns event i of n: assets in turn, times spread evenly over
// the months before now, mostly materializations, with observations and
// check results of three checks among them.
func history(i, n, assets, months int, now time.Time) asset.Event {
	span := now.Sub(now.AddDate(0, -months, 0))
	at := now.Add(-span + time.Duration(float64(span)*float64(i)/float64(n)))
	e := asset.Event{ID: fmt.Sprintf("h%09d", i), Kind: asset.KindMaterialization,
		Asset: asset.Key(fmt.Sprintf("bench/t%05d", i%assets)), Time: at,
		Metadata: asset.Metadata{"row_count": asset.Int(int64(i))}}
	switch i % 10 {
	case 7:
		e.Kind = asset.KindObservation
	case 8, 9:
		e.Kind = asset.KindCheckResult
		e.Check = &asset.CheckResult{Name: fmt.Sprintf("check_%d", i%3), Passed: i%4 != 0, Severity: asset.SeverityWarn}
	}
	return e
}

func once(ctx context.Context, open func() (trimStore, error), dir string, n, assets, months int, now, cut time.Time, ingestBatch int) (result, error) {
	var res result
	st, err := open()
	if err != nil {
		return res, err
	}
	defer func() { st.Close() }()
	const fill = 50_000
	batch := make([]asset.Event, 0, fill)
	for i := 0; i < n; i++ {
		batch = append(batch, history(i, n, assets, months, now))
		if len(batch) == fill || i == n-1 {
			if _, err := st.AppendEvents(ctx, batch); err != nil {
				return res, fmt.Errorf("fill: %w", err)
			}
			batch = batch[:0]
		}
	}
	if dir != "" {
		// The store holds the file's lock: close it for the raw scan.
		st.Close()
		if res.scan, err = scan(dir); err != nil {
			return res, err
		}
		if st, err = open(); err != nil {
			return res, err
		}
	}
	start := time.Now()
	if _, err := st.Summaries(ctx); err != nil {
		return res, err
	}
	res.summaries = time.Since(start)

	seq := 0
	next := func() []asset.Event {
		evs := make([]asset.Event, ingestBatch)
		for j := range evs {
			seq++
			evs[j] = asset.Event{ID: fmt.Sprintf("new%09d", seq), Kind: asset.KindMaterialization,
				Asset: asset.Key(fmt.Sprintf("bench/t%05d", seq%assets)), Time: time.Now().UTC()}
		}
		return evs
	}
	// ingest appends batches, 5 ms apart (a steady stream, not a flood),
	// until stop is closed or, with a nil stop, for d.
	ingest := func(stop <-chan struct{}, d time.Duration) ([]time.Duration, error) {
		var lat []time.Duration
		for begin := time.Now(); ; time.Sleep(5 * time.Millisecond) {
			if stop == nil && time.Since(begin) >= d {
				return lat, nil
			}
			select {
			case <-stop:
				return lat, nil
			default:
			}
			t0 := time.Now()
			if _, err := st.AppendEvents(ctx, next()); err != nil {
				return lat, err
			}
			lat = append(lat, time.Since(t0))
		}
	}
	before, err := ingest(nil, 3*time.Second)
	if err != nil {
		return res, err
	}

	var (
		wg     sync.WaitGroup
		during []time.Duration
		ingErr error
		stop   = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		during, ingErr = ingest(stop, 0)
	}()
	start = time.Now()
	tr, err := st.TrimEvents(ctx, cut)
	res.trim = time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return res, fmt.Errorf("trim: %w", err)
	}
	if ingErr != nil {
		return res, ingErr
	}
	res.removed, res.kept, res.partitions = tr.Rows, tr.Kept, tr.Partitions
	res.before, res.during = pct(before), pct(during)

	// The steady state: a day later, one more day of history expires.
	start = time.Now()
	tr, err = st.TrimEvents(ctx, cut.AddDate(0, 0, 1))
	res.steady = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("trim a day later: %w", err)
	}
	res.steadyRemoved = tr.Rows
	return res, nil
}

func pct(lat []time.Duration) latencies {
	if len(lat) == 0 {
		return latencies{}
	}
	slices.Sort(lat)
	return latencies{p50: lat[len(lat)/2], p99: lat[min(len(lat)-1, len(lat)*99/100)]}
}

// scan reads every key and value of the events bucket in one read
// transaction: bbolt's floor for a pass that must look at every event.
func scan(dir string) (time.Duration, error) {
	db, err := bolt.Open(filepath.Join(dir, embedded.FileName), 0o644, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("open for the scan baseline: %w", err)
	}
	defer db.Close()
	start := time.Now()
	var size int
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("events")).ForEach(func(k, v []byte) error {
			size += len(k) + len(v)
			return nil
		})
	})
	return time.Since(start), err
}
