// Command scale measures what Freshet costs at catalog scale, against the
// real binary (its RSS is the process's own) and a private ClickHouse:
//
//	(a) steady state: a server that ingested the whole history over HTTP,
//	    then idled: RSS
//	(b) restart on that data: time to /readyz, time to the first freshness
//	    snapshot, RSS once settled, and (b)/(a)
//	(c) GET /api/v1/assets?limit=1000, first and fiftieth page (the last
//	    when there are fewer; median of -pages requests), which must not
//	    grow with the catalog: run it with -assets 10000 and -assets 100000
//	    and compare
//
// The graph: -assets assets under s/, each built from up to three earlier
// ones (about 3 edges an asset, reported through events), -events
// materializations spread over the last two days, and one selection policy
// (max_lag 1d on key_prefix s) that puts an SLA on every asset.
//
//	go build -o bin/freshet ./cmd/freshet
//	go run ./bench/scale -bin bin/freshet -assets 100000 -events 2000000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/internal/freeport"
)

func main() {
	var (
		bin    = flag.String("bin", "bin/freshet", "the freshet binary to measure")
		assets = flag.Int("assets", 100_000, "assets in the graph")
		events = flag.Int("events", 2_000_000, "materializations in the history")
		pages  = flag.Int("pages", 15, "requests per page measurement (the median is printed)")
		logLvl = flag.String("log-level", "warn", "the servers' --log-level")
		pprofA = flag.String("pprof-addr", "", "pass --pprof-addr to the steady-state server and hold it -hold after measuring, to take profiles")
		hold   = flag.Duration("hold", 0, "with -pprof-addr: how long to keep the steady-state server up after measuring")
	)
	flag.Parse()
	if err := run(*bin, *assets, *events, *pages, *logLvl, *pprofA, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(bin string, nAssets, nEvents, pages int, logLevel, pprofAddr string, hold time.Duration) error {
	ctx := context.Background()
	inst, err := chtest.Start(ctx)
	if err != nil {
		return err
	}
	defer inst.Stop()
	dir, err := os.MkdirTemp("", "freshet-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "freshet.yaml")
	if err := os.WriteFile(cfg, []byte("freshness_policies:\n  - select: {key_prefix: s}\n    max_lag: 1d\n"), 0o644); err != nil {
		return err
	}
	dsn := inst.DSN() + "/scale"
	fmt.Printf("graph: %d assets, history: %d events; ClickHouse store\n", nAssets, nEvents)

	// (a) steady state.
	srv, err := start(bin, cfg, dsn, filepath.Join(dir, "data"), logLevel, pprofAddr)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := ingest(srv, nAssets, nEvents); err != nil {
		srv.stop()
		return err
	}
	if err := srv.waitMetric("freshet_wal_unconfirmed_records", 0, 10*time.Minute); err != nil {
		srv.stop()
		return err
	}
	fmt.Printf("ingested and stored in %s\n", time.Since(t0).Round(100*time.Millisecond))
	if err := srv.waitSnapshot(fmt.Sprintf("s%%2F%07d", nAssets-1), 5*time.Minute); err != nil {
		srv.stop()
		return err
	}
	// Let the monitor record the states of that pass: a restart should
	// find them, as it would in production.
	if err := srv.waitMetric("freshet_wal_unconfirmed_records", 0, 5*time.Minute); err != nil {
		srv.stop()
		return err
	}
	steady := srv.settledRSS()
	heap, _ := srv.metric("go_memstats_heap_inuse_bytes")
	fmt.Printf("(a) steady state RSS: %d MiB (Go heap in use %d MiB)\n", steady>>20, int64(heap)>>20)
	if pprofAddr != "" && hold > 0 {
		fmt.Printf("holding the steady-state server for %s: go tool pprof http://%s/debug/pprof/heap\n", hold, pprofAddr)
		time.Sleep(hold)
	}
	first, later, page, err := srv.pageTimes(pages)
	if err != nil {
		srv.stop()
		return err
	}
	fmt.Printf("(c) GET /api/v1/assets?limit=1000 at %d assets: first page %s, page %d %s (medians of %d)\n",
		nAssets, first.Round(10*time.Microsecond), page, later.Round(10*time.Microsecond), pages)
	srv.stop()

	// (b) restart on the same data.
	t1 := time.Now()
	srv, err = start(bin, cfg, dsn, filepath.Join(dir, "data"), "info", "") // its start-up log says what took how long
	if err != nil {
		return err
	}
	defer srv.stop()
	ready := time.Since(t1)
	if err := srv.waitSnapshot(fmt.Sprintf("s%%2F%07d", nAssets-1), 5*time.Minute); err != nil {
		return err
	}
	evaluated := time.Since(t1)
	rss := srv.settledRSS()
	heapAfter, _ := srv.metric("go_memstats_heap_inuse_bytes")
	fmt.Printf("(b) restart: /readyz after %s, first freshness snapshot after %s, RSS %d MiB = %.2fx steady state (Go heap in use %d MiB = %.2fx)\n",
		ready.Round(10*time.Millisecond), evaluated.Round(10*time.Millisecond), rss>>20, float64(rss)/float64(steady),
		int64(heapAfter)>>20, heapAfter/max(heap, 1))
	return nil
}

type server struct {
	cmd  *exec.Cmd
	base string
}

func start(bin, cfg, dsn, dataDir, logLevel, pprofAddr string) (*server, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	// The graph is created as fast as it can be posted: lift the limits
	// on catalog growth (docs/security.md), which would stop it at 10,000
	// new assets a minute.
	args := []string{"serve", "--config", cfg, "--store", dsn, "--data-dir", dataDir, "--addr", addr, "--log-level", logLevel,
		"--max-new-assets-per-minute", "0", "--max-assets", "0"}
	if pprofAddr != "" {
		args = append(args, "--pprof-addr", pprofAddr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s not ready after 10 minutes", bin)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

// ingest posts the history as NDJSON, 5,000 events a request: each asset
// s/NNNNNNN built from up to three earlier assets, times over two days.
func ingest(s *server, nAssets, nEvents int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	key := func(i int) string { return fmt.Sprintf("s/%07d", i) }
	parents := make([][]string, nAssets)
	for i := 1; i < nAssets; i++ {
		for range min(i, 3) {
			if p := key(rng.IntN(i)); !slices.Contains(parents[i], p) {
				parents[i] = append(parents[i], p)
			}
		}
	}
	now := time.Now().UTC()
	client := &http.Client{Timeout: time.Minute}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	flush := func() error {
		if buf.Len() == 0 {
			return nil
		}
		resp, err := client.Post(s.base+"/api/v1/events", "application/x-ndjson", bytes.NewReader(buf.Bytes()))
		if err != nil {
			return err
		}
		var answer bytes.Buffer
		answer.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST events: %s: %s", resp.Status, answer.Bytes())
		}
		buf.Reset()
		return nil
	}
	// No ids: the server assigns them, as for most producers.
	type event struct {
		Kind     asset.Kind     `json:"kind"`
		Asset    string         `json:"asset"`
		Time     time.Time      `json:"time"`
		Upstream []string       `json:"upstream,omitempty"`
		Metadata map[string]int `json:"metadata"`
	}
	for i := range nEvents {
		a := i % nAssets
		e := event{Kind: asset.KindMaterialization, Asset: key(a), Upstream: parents[a],
			Time:     now.Add(-48 * time.Hour).Add(time.Duration(i) * (48 * time.Hour / time.Duration(nEvents))),
			Metadata: map[string]int{"row_count": i}}
		if err := enc.Encode(&e); err != nil {
			return err
		}
		if (i+1)%5000 == 0 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (s *server) metric(name string) (float64, bool) {
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

func (s *server) waitMetric(name string, want float64, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if v, ok := s.metric(name); ok && v == want {
			return nil
		}
	}
	return fmt.Errorf("%s did not reach %v within %s", name, want, timeout)
}

// waitSnapshot waits until the freshness monitor has published a state
// for the asset (escaped for a path), the last one ingested.
func (s *server) waitSnapshot(escapedKey string, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var body struct {
			Result *struct {
				State string `json:"state"`
			} `json:"result"`
		}
		if _, err := s.get("/api/v1/assets/"+escapedKey+"/freshness", &body); err == nil && body.Result != nil {
			return nil
		}
	}
	return fmt.Errorf("no freshness snapshot within %s", timeout)
}

// settledRSS is the process's resident set after the Go runtime had a few
// seconds to return freed memory.
func (s *server) settledRSS() int64 {
	time.Sleep(5 * time.Second)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// pageTimes returns the median time of the first page of GET
// /api/v1/assets?limit=1000 and of the fiftieth (or the last, when there
// are fewer), reached by following cursors, and that page's number.
func (s *server) pageTimes(n int) (first, later time.Duration, page int, err error) {
	cursor, page := "", 1
	for page < 50 {
		var p struct {
			Next string `json:"next_cursor"`
		}
		if _, err := s.get("/api/v1/assets?limit=1000&cursor="+cursor, &p); err != nil {
			return 0, 0, 0, err
		}
		if p.Next == "" {
			break
		}
		cursor, page = p.Next, page+1
	}
	med := func(path string) (time.Duration, error) {
		var ts []time.Duration
		for range n {
			d, err := s.get(path, nil)
			if err != nil {
				return 0, err
			}
			ts = append(ts, d)
		}
		slices.Sort(ts)
		return ts[len(ts)/2], nil
	}
	if first, err = med("/api/v1/assets?limit=1000"); err != nil {
		return 0, 0, 0, err
	}
	later, err = med("/api/v1/assets?limit=1000&cursor=" + cursor)
	return first, later, page, err
}

func (s *server) get(path string, into any) (time.Duration, error) {
	start := time.Now()
	resp, err := http.Get(s.base + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return 0, err
	}
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if into != nil {
		return took, json.Unmarshal(b.Bytes(), into)
	}
	return took, nil
}
