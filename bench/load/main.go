// Command load drives a real freshet binary as hard as it will take
// events, with readers alongside, on each store in turn, and prints in one
// run for each:
//
//	acknowledged events/s vs events/s written to the store over the run,
//	the oldest acknowledged event the store had not confirmed when the
//	load stopped (and the worst seen during the run; the target is under
//	5 s), the time to drain what was left, the history reads' p50/p99
//	latency, the 503s the backpressure answered, and the server's peak
//	RSS (VmHWM, which counts the embedded store's memory-mapped file) and
//	peak anonymous RSS (the heap and stacks, sampled each second).
//
// With -unthrottled-baseline each store is first loaded the same way with
// the backpressure off (--max-unstored-age -1): the same-run baseline for
// the backlog's age.
//
// Writers are closed loops (a new request as soon as the last one is
// answered; after a 503 they wait 100 ms), so the rate is the highest the
// server sustains with its backpressure on. Without -store it runs the
// embedded store and then a private clickhouse-server (Debian package, see
// scripts/ensure-clickhouse.sh).
//
//	go build -o bin/freshet ./cmd/freshet
//	go run ./bench/load -bin bin/freshet -duration 60s
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/internal/freeport"
)

type options struct {
	bin      string
	duration time.Duration
	writers  int
	batch    int
	readers  int
	assets   int
	extra    []string
}

func main() {
	var (
		o      options
		stores = flag.String("store", "embedded,clickhouse", "stores to run, comma separated: embedded, clickhouse (a private server) or a clickhouse:// DSN")
		extra  = flag.String("server-args", "", "extra flags for freshet serve, space separated (e.g. \"--max-unstored-age 1s\")")
		base   = flag.Bool("unthrottled-baseline", false, "load each store with the backpressure off first, as a same-run baseline")
	)
	flag.StringVar(&o.bin, "bin", "bin/freshet", "the freshet binary to measure")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long to load each store")
	flag.IntVar(&o.writers, "writers", 8, "concurrent ingest clients")
	flag.IntVar(&o.batch, "batch", 1000, "events per ingest request (NDJSON)")
	flag.IntVar(&o.readers, "readers", 2, "concurrent history readers")
	flag.IntVar(&o.assets, "assets", 10_000, "assets the events are spread over")
	flag.Parse()
	o.extra = strings.Fields(*extra)
	fmt.Printf("load: %s per store, %d writers x %d-event requests, %d readers, %d assets, binary %s %s\n",
		o.duration, o.writers, o.batch, o.readers, o.assets, o.bin, strings.Join(o.extra, " "))
	for _, st := range strings.Split(*stores, ",") {
		runs := []options{o}
		if *base {
			unthrottled := o
			unthrottled.extra = append(slices.Clone(o.extra), "--max-unstored-age", "-1s")
			runs = []options{unthrottled, o}
		}
		for _, ro := range runs {
			r, err := runStore(strings.TrimSpace(st), ro)
			if err != nil {
				fmt.Fprintln(os.Stderr, "load:", err)
				os.Exit(1)
			}
			if slices.Contains(ro.extra, "-1s") {
				r.store += " (backpressure off)"
			}
			r.print()
		}
	}
}

type result struct {
	store                   string
	acked, stored           float64 // events
	took                    time.Duration
	oldestEnd, oldestMax    float64 // seconds
	drain                   time.Duration
	readP50, readP99        time.Duration
	reads, readErrs         int64
	refused, failed         int64
	peakRSS, peakAnon       int64
	backpressureWaitedCount float64
}

func (r result) print() {
	s := r.took.Seconds()
	fmt.Printf("%s\n%-10s acknowledged %8.0f events/s, stored %8.0f events/s (%.2f of acknowledged) over %s\n",
		r.store, "", r.acked/s, r.stored/s, r.stored/max(r.acked, 1), r.took.Round(time.Second))
	fmt.Printf("%-10s oldest unconfirmed when the load stopped %.1f s (worst during the run %.1f s); drained %s later\n",
		"", r.oldestEnd, r.oldestMax, r.drain.Round(100*time.Millisecond))
	fmt.Printf("%-10s reads: %d, p50 %s, p99 %s, %d failed; ingest: %d answers 503 (backpressure), %d other failures, %.0f acknowledgements waited\n",
		"", r.reads, r.readP50.Round(100*time.Microsecond), r.readP99.Round(100*time.Microsecond), r.readErrs, r.refused, r.failed, r.backpressureWaitedCount)
	fmt.Printf("%-10s peak RSS %d MiB (VmHWM), peak anonymous RSS %d MiB\n", "", r.peakRSS>>20, r.peakAnon>>20)
}

func runStore(name string, o options) (result, error) {
	res := result{store: name}
	dsn := name
	ctx := context.Background()
	if name == "clickhouse" {
		inst, err := chtest.Start(ctx)
		if err != nil {
			return res, err
		}
		defer inst.Stop()
		dsn = inst.DSN() + "/load"
	}
	dir, err := os.MkdirTemp("", "freshet-load-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	srv, err := start(o.bin, dsn, filepath.Join(dir, "data"), o.extra)
	if err != nil {
		return res, err
	}
	defer srv.stop()

	lctx, stop := context.WithTimeout(ctx, o.duration)
	defer stop()
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: o.writers + o.readers}}
	var (
		acked, refused, failed atomic.Int64
		wg                     sync.WaitGroup
		lmu                    sync.Mutex
		lats                   []time.Duration
		reads, readErrs        atomic.Int64
	)
	storedAt0, _ := srv.metric("freshet_store_batch_events_sum")
	start := time.Now()
	for w := range o.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for n := 0; lctx.Err() == nil; n++ {
				buf = body(buf[:0], w, n, o.batch, o.assets)
				resp, err := client.Post(srv.base+"/api/v1/events", "application/x-ndjson", bytes.NewReader(buf))
				if err != nil {
					if lctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusAccepted:
					if lctx.Err() == nil {
						acked.Add(int64(o.batch))
					}
				case http.StatusServiceUnavailable:
					refused.Add(1)
					time.Sleep(100 * time.Millisecond)
				default:
					failed.Add(1)
				}
			}
		}()
	}
	for r := range o.readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; lctx.Err() == nil; n++ {
				a := (n*7919 + r) % o.assets
				path := fmt.Sprintf("/api/v1/events?asset=%s&limit=100", assetKey(a))
				if n%2 == 1 {
					path = fmt.Sprintf("/api/v1/assets/%s/events?limit=100", strings.ReplaceAll(assetKey(a), "/", "%2F"))
				}
				t0 := time.Now()
				resp, err := client.Get(srv.base + path)
				if err != nil {
					readErrs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				took := time.Since(t0)
				reads.Add(1)
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
					readErrs.Add(1)
					continue
				}
				lmu.Lock()
				lats = append(lats, took)
				lmu.Unlock()
			}
		}()
	}
	// The worst backlog age, sampled each second while the load runs.
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			if v, err := srv.metric("freshet_wal_oldest_unconfirmed_age_seconds"); err == nil {
				res.oldestMax = max(res.oldestMax, v)
			}
			res.peakAnon = max(res.peakAnon, srv.status("RssAnon:"))
		}
	}()
	<-lctx.Done()
	res.took = time.Since(start)
	res.oldestEnd, _ = srv.metric("freshet_wal_oldest_unconfirmed_age_seconds")
	res.oldestMax = max(res.oldestMax, res.oldestEnd)
	storedEnd, _ := srv.metric("freshet_store_batch_events_sum")
	drainStart := time.Now() // writers still waiting for an answer add to it, as clients would
	wg.Wait()
	<-done
	for {
		if v, err := srv.metric("freshet_wal_unconfirmed_records"); err == nil && v == 0 {
			break
		}
		if time.Since(drainStart) > 10*time.Minute {
			return res, errors.New("backlog not drained in 10 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.drain = time.Since(drainStart)
	res.acked, res.stored = float64(acked.Load()), storedEnd-storedAt0
	res.refused, res.failed = refused.Load(), failed.Load()
	res.reads, res.readErrs = reads.Load(), readErrs.Load()
	res.backpressureWaitedCount, _ = srv.metric("freshet_ingest_backpressure_wait_seconds_count")
	slices.Sort(lats)
	if len(lats) > 0 {
		res.readP50, res.readP99 = lats[len(lats)/2], lats[min(len(lats)-1, len(lats)*99/100)]
	}
	res.peakRSS = srv.status("VmHWM:")
	return res, nil
}

func assetKey(a int) string { return fmt.Sprintf("load/schema%d/table%05d", a%10, a) }

// body appends one NDJSON request of batch materializations with fresh ids.
func body(buf []byte, worker, n, batch, assets int) []byte {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range batch {
		a := (n*batch + i*31 + worker) % assets
		buf = append(buf, `{"id":"w`...)
		buf = strconv.AppendInt(buf, int64(worker), 10)
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(n), 10)
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `","kind":"materialization","asset":"`...)
		buf = append(buf, assetKey(a)...)
		buf = append(buf, `","time":"`...)
		buf = append(buf, now...)
		buf = append(buf, `","upstream":["raw/source`...)
		buf = strconv.AppendInt(buf, int64(a%500), 10)
		buf = append(buf, `"],"metadata":{"row_count":`...)
		buf = strconv.AppendInt(buf, int64(n*batch+i), 10)
		buf = append(buf, "}}\n"...)
	}
	return buf
}

type server struct {
	cmd  *exec.Cmd
	base string
	done chan struct{} // closed when the process exited
}

func start(bin, dsn, dataDir string, extra []string) (*server, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--store", dsn, "--data-dir", dataDir, "--addr", addr, "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not ready after 2 minutes", bin)
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s exited: %v", bin, cmd.ProcessState)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
}

// metric reads one unlabelled sample from /metrics.
func (s *server) metric(name string) (float64, error) {
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("metric %s not exposed", name)
}

// status reads a kB figure from /proc/PID/status (VmHWM: peak RSS).
func (s *server) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
