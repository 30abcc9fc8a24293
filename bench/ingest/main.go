// Command ingest measures Freshet's ingest path against the raw ClickHouse
// ceiling on the same machine, in one run:
//
//	(a) raw: clickhouse-go PrepareBatch inserts of the same rows (rows/s)
//	(b) end to end: HTTP NDJSON -> decode -> write-ahead log (fsync) ->
//	    ClickHouse, until every event is confirmed stored (events/s)
//	(c) b/a
//	(d) p50/p99 acknowledgement latency at a fixed offered load
//	(e) restart: the catalog and lineage rebuilt from what (b) stored
//
// With --policies every asset has a freshness policy (two
// freshness_policies selections in the server's definitions, one per
// key prefix the events use), so the freshness monitor follows every
// event of (b), as a catalog where every asset has an SLA would.
// --cpuprofile profiles (b) alone. Each of (a) and (b) also prints the CPU
// time used per event by this process and by the ClickHouse server.
//
// Without --store it starts a private clickhouse-server (Debian package,
// see scripts/ensure-clickhouse.sh) on free ports and removes it after.
//
//	go run ./bench/ingest                 # or: make bench-ingest
//	go run ./bench/ingest --policies      # a freshness policy on every asset
//	go run ./bench/ingest --store clickhouse://127.0.0.1:9000/bench --events 2000000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/store/clickhouse"
)

func main() {
	var (
		dsn         = flag.String("store", "", "ClickHouse DSN; empty starts a private server")
		n           = flag.Int("events", 1_000_000, "events for the throughput runs")
		batch       = flag.Int("batch", 1000, "events per HTTP request (NDJSON) in the throughput run")
		concurrency = flag.Int("concurrency", 8, "concurrent HTTP clients in the throughput run")
		rate        = flag.Int("rate", 5000, "offered load for the latency run, events/s")
		latBatch    = flag.Int("latency-batch", 50, "events per request in the latency run")
		latFor      = flag.Duration("latency-for", 20*time.Second, "length of the latency run")
		policies    = flag.Bool("policies", false, "put a freshness policy on every asset (the monitor then follows every event)")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the end-to-end run (b) to this file")
	)
	flag.Parse()
	if err := run(*dsn, *n, *batch, *concurrency, *rate, *latBatch, *latFor, *policies, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// policyDefs gives every asset of genEvents (warehouse/... and their
// raw/... upstreams) a freshness policy. The lag is generous: the point is
// the monitor's work per event, not alerts.
const policyDefs = `freshness_policies:
  - select: {key_prefix: warehouse}
    max_lag: 1d
  - select: {key_prefix: raw}
    max_lag: 1d
`

func run(dsn string, n, batch, concurrency, rate, latBatch int, latFor time.Duration, policies bool, cpuProfile string) error {
	ctx := context.Background()
	serverPid := 0
	if dsn == "" {
		inst, err := chtest.Start(ctx)
		if err != nil {
			return err
		}
		defer inst.Stop()
		dsn = inst.DSN() + "/bench"
		serverPid = inst.Pid()
	}
	events := genEvents(n, "tp")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// (a) raw ceiling.
	st, err := clickhouse.Open(ctx, dsn, clickhouse.WithLogger(quiet))
	if err != nil {
		return err
	}
	rawCPU := startCPU(serverPid)
	rawTook, err := st.InsertBaseline(ctx, events, clickhouse.DefaultBatchRows)
	_, rawServerCPU := rawCPU.perEvent(n)
	st.Close()
	if err != nil {
		return err
	}
	raw := float64(n) / rawTook.Seconds()
	// The HTTP run needs only the encoded bodies. Dropping the million
	// decoded events (maps, strings) keeps the harness from inflating the
	// server's garbage collection work, which scans every live pointer.
	bodies := ndjsonBatches(events, batch)
	events = nil
	runtime.GC()

	// (b) end to end through a real Freshet on a loopback socket.
	dir, err := os.MkdirTemp("", "freshet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The events name 10,500 assets, all new within the first seconds:
	// lift the limits on catalog growth (docs/security.md), which are
	// not what this measures.
	cfg := app.Config{Store: dsn, DataDir: dir, Logger: quiet, MaxAssets: -1, NewAssetsPerMinute: -1}
	if policies {
		if cfg.Definitions, err = config.Parse("freshet.yaml", []byte(policyDefs)); err != nil {
			return err
		}
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go a.Serve(sctx, ln)
	url := "http://" + ln.Addr().String() + "/api/v1/events"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile() // on errors; the run stops it after (b)
	}
	countersBefore, err := serverCounters(ctx, dsn)
	if err != nil {
		return err
	}
	e2eCPU := startCPU(serverPid)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, concurrency)
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(bodies); i = int(next.Add(1)) - 1 {
				if _, err := post(client, url, bodies[i]); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	acked := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	if err := a.Drain(ctx); err != nil {
		return err
	}
	e2eTook := time.Since(start)
	e2e := float64(n) / e2eTook.Seconds()
	e2eSelfCPU, e2eServerCPU := e2eCPU.perEvent(n)
	pprof.StopCPUProfile()
	writes, err := storeWrites(client, "http://"+ln.Addr().String()+"/metrics")
	if err != nil {
		return err
	}
	countersAfter, err := serverCounters(ctx, dsn)
	if err != nil {
		return err
	}

	// (e) restart: rebuild the catalog and lineage from what (b) stored,
	// with the store's aggregate queries.
	stop()
	if err := a.Close(); err != nil {
		return err
	}
	reopen := time.Now()
	if a, err = app.Open(ctx, cfg); err != nil {
		return err
	}
	rebuild := time.Since(reopen)
	assets := a.Catalog().Len()
	defer a.Close()
	if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return err
	}
	sctx, stop = context.WithCancel(ctx)
	defer stop()
	go a.Serve(sctx, ln)
	url = "http://" + ln.Addr().String() + "/api/v1/events"

	// (d) latency at a fixed offered load (open loop: requests go out on
	// schedule whether or not earlier ones have returned).
	latEvents := genEvents(rate*int(latFor.Seconds())+latBatch, "lat")
	latBodies := ndjsonBatches(latEvents, latBatch)
	interval := time.Duration(float64(time.Second) * float64(latBatch) / float64(rate))
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	tick := time.NewTicker(interval)
	deadline := time.Now().Add(latFor)
	var lwg sync.WaitGroup
	for i := 0; time.Now().Before(deadline) && i < len(latBodies); i++ {
		<-tick.C
		lwg.Add(1)
		go func(body []byte) {
			defer lwg.Done()
			took, err := post(client, url, body)
			if err != nil {
				fmt.Fprintln(os.Stderr, "latency run:", err)
				return
			}
			mu.Lock()
			lats = append(lats, took)
			mu.Unlock()
		}(latBodies[i])
	}
	tick.Stop()
	lwg.Wait()
	slices.Sort(lats)
	pct := func(p float64) time.Duration { return lats[min(len(lats)-1, int(p*float64(len(lats))))] }

	withPolicies := "no freshness policies"
	if policies {
		withPolicies = "a freshness policy on every asset"
	}
	fmt.Printf("ClickHouse %s, %d events, GOMAXPROCS %d, %s\n", dsn, n, runtimeProcs(), withPolicies)
	fmt.Printf("(a) raw clickhouse-go PrepareBatch, %d rows/insert:   %9.0f rows/s   (%s; server CPU %s/row)\n",
		clickhouse.DefaultBatchRows, raw, rawTook.Round(time.Millisecond), rawServerCPU)
	fmt.Printf("(b) HTTP NDJSON -> WAL (fsync) -> ClickHouse:          %9.0f events/s (%s; acknowledged in %s; %d clients x %d-event requests; CPU/event: bench process %s, server %s)\n",
		e2e, e2eTook.Round(time.Millisecond), acked.Round(time.Millisecond), concurrency, batch, e2eSelfCPU, e2eServerCPU)
	fmt.Printf("    %s\n", writes)
	fmt.Printf("    ClickHouse server during (b): %s\n", counterDelta(countersBefore, countersAfter))
	fmt.Printf("(c) b/a:                                               %9.2f\n", e2e/raw)
	fmt.Printf("(d) ack latency at %d events/s (%d-event requests, %d requests): p50 %s  p99 %s\n",
		rate, latBatch, len(lats), pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond))
	fmt.Printf("(e) restart: catalog + lineage rebuilt from %d events over %d assets in %s\n", n, assets, rebuild.Round(time.Millisecond))
	return nil
}

func post(c *http.Client, url string, body []byte) (time.Duration, error) {
	start := time.Now()
	resp, err := c.Post(url, "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("POST answered %d", resp.StatusCode)
	}
	return time.Since(start), nil
}

// genEvents makes realistic client events: materializations with row
// counts, a URL and an upstream, over 10,000 assets.
func genEvents(n int, prefix string) []asset.Event {
	t0 := time.Now().UTC().Add(-time.Hour)
	out := make([]asset.Event, n)
	for i := range out {
		a := i % 10_000
		out[i] = asset.Event{
			ID: fmt.Sprintf("%s-%08d", prefix, i), Kind: asset.KindMaterialization,
			Asset:    asset.Key(fmt.Sprintf("warehouse/schema%d/table%05d", a%10, a)),
			Time:     t0.Add(time.Duration(i) * time.Microsecond),
			RunID:    fmt.Sprintf("run-%d", i/100),
			Upstream: []asset.Key{asset.Key(fmt.Sprintf("raw/source%03d", a%500))},
			Metadata: asset.Metadata{"row_count": asset.Int(int64(i)), "uri": asset.URL("s3://lake/t/" + fmt.Sprint(a))},
		}
	}
	return out
}

func ndjsonBatches(events []asset.Event, size int) [][]byte {
	var out [][]byte
	for i := 0; i < len(events); i += size {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for j := i; j < min(i+size, len(events)); j++ {
			if err := enc.Encode(&events[j]); err != nil {
				panic(err)
			}
		}
		out = append(out, buf.Bytes())
	}
	return out
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// storeWrites summarises the server's store writes and backpressure from
// its /metrics: how many inserts (b) took and how long clients waited.
func storeWrites(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	v := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, val, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(name, "#") {
			f, err := strconv.ParseFloat(val, 64)
			if err == nil {
				v[name] = f
			}
		}
	}
	batches := v["freshet_store_batch_events_count"]
	return fmt.Sprintf("store writes: %.0f batches of %.0f events on average, %.1f s writing; backpressure waits %.1f s in total; "+
		"freshness passes: %.0f, %.2f s",
		batches, v["freshet_store_batch_events_sum"]/max(batches, 1), v["freshet_store_write_seconds_sum"],
		v["freshet_ingest_backpressure_wait_seconds_sum"],
		v["freshet_freshness_evaluation_seconds_count"], v["freshet_freshness_evaluation_seconds_sum"]), nil
}
