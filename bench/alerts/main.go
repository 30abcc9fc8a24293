// Command alerts measures how long a page takes: from the event that makes
// an asset FAIL to the PagerDuty request arriving, through the whole
// product, beside a bare go-pagerduty call to the same endpoint, in one run:
//
//	(a) Freshet: POST /api/v1/events (write-ahead log, fsync) -> catalog and
//	    freshness monitor (its next event-driven pass) -> alert engine ->
//	    outbox (stored, fsync) -> PagerDuty receiver -> the local endpoint
//	(b) baseline: pagerduty.ManageEventWithContext of a trigger to the same
//	    endpoint, from just before the call to the endpoint's receipt
//	(c) a/b of the p50s
//
// Freshet runs in this process (app.Open and Serve on a loopback listener,
// the embedded store in a temporary directory) with the monitor's defaults,
// as `freshet serve` has them: the figure is what users get. The local
// endpoint speaks the Events API v2 (202 with the dedup key) and notes when
// each request arrives.
//
// Each trial of (a) turns one asset, bench/orders, from healthy to FAIL
// with one event and waits for the page, then back with another and waits
// for the resolve: every trial is a fresh incident. Trials of (a) and (b)
// alternate (a, b, a, b ...), each after a pause of 150 ms (more than the
// monitor's 100 ms coalescing) plus a random part up to -gap, so that each
// event finds the server idle (with -gap 15s, at any moment of the
// monitor's 15 s cycle of full passes). The
// recovery event goes out as soon as the page arrives, just after a
// monitor pass: its time to the resolve is what an event that comes while
// the monitor is busy (a steady stream of events) waits, coalescing
// included. The cause (-cause):
//
//	freshness   a materialization whose data_time is 3h old, on an asset
//	            with max_lag 1h: FAIL, rule when: [freshness_fail];
//	            recovery: a materialization with current data
//	check       a check_result failing an error-severity check, rule
//	            when: [check_failed]; recovery: a passing result
//
//	go run ./bench/alerts -trials 200
//	go run ./bench/alerts -cause check -trials 20 -gap 15s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/freshet-dev/freshet/alerts/engine"
	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
)

const (
	routingKeyEnv = "FRESHET_BENCH_PD_ROUTING_KEY"
	routingKey    = "R0UT1NGKEYBENCH00000000000000000"
	rule          = "page"
)

func main() {
	var (
		trials  = flag.Int("trials", 200, "incidents opened through Freshet, and as many baseline calls")
		cause   = flag.String("cause", "freshness", "the event that makes the asset FAIL: freshness or check")
		gap     = flag.Duration("gap", 100*time.Millisecond, "each pause is 150ms plus a random time up to this")
		timeout = flag.Duration("timeout", time.Minute, "longest wait for one page or resolve")
		logLvl  = flag.String("log-level", "warn", "the in-process server's log level: debug, info, warn or error")
	)
	flag.Parse()
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLvl)); err != nil {
		fail(fmt.Errorf("-log-level: %w", err))
	}
	if *cause != "freshness" && *cause != "check" {
		fail(fmt.Errorf("-cause %q: use freshness or check", *cause))
	}
	if *trials < 1 {
		fail(errors.New("-trials must be at least 1"))
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(*trials, *cause, *gap, *timeout, log); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "alerts bench:", err)
	os.Exit(1)
}

// arrival is one request the endpoint accepted.
type arrival struct {
	at     time.Time
	key    string
	action string
}

// endpoint speaks the PagerDuty Events API v2 on a loopback port.
type endpoint struct {
	url      string
	arrivals chan arrival
	srv      *http.Server
}

func newEndpoint() (*endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ep := &endpoint{url: "http://" + ln.Addr().String(), arrivals: make(chan arrival, 1024)}
	ep.srv = &http.Server{Handler: http.HandlerFunc(ep.serve), ReadHeaderTimeout: 10 * time.Second}
	go ep.srv.Serve(ln)
	return ep, nil
}

func (ep *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		http.Error(w, `{"status":"invalid event","message":"no such route"}`, http.StatusNotFound)
		return
	}
	var ev struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
	}
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.RoutingKey == "" || ev.EventAction == "" || ev.DedupKey == "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"status":"invalid event","message":"Event object is invalid","errors":["bad body"]}`)
		return
	}
	ep.arrivals <- arrival{at: at, key: ev.DedupKey, action: ev.EventAction}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev.DedupKey)
}

// await returns when the request (key, action) arrived. Anything else that
// arrives meanwhile is an error: each trial expects exactly one request.
func (ep *endpoint) await(key, action string, timeout time.Duration) (time.Time, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case a := <-ep.arrivals:
			if a.key == key && a.action == action {
				return a.at, nil
			}
			return time.Time{}, fmt.Errorf("waiting for the %s of %s, the endpoint got a %s of %s", action, key, a.action, a.key)
		case <-t.C:
			return time.Time{}, fmt.Errorf("no %s of %s within %s", action, key, timeout)
		}
	}
}

func definitions(cause, endpointURL string) (*config.File, error) {
	when, policy := "freshness_fail", "\n    freshness: {max_lag: 1h}"
	if cause == "check" {
		when, policy = "check_failed", ""
	}
	yaml := fmt.Sprintf(`alerts:
  receivers:
    - name: oncall
      type: pagerduty
      pagerduty: {routing_key_env: %s, endpoint: %q}
  rules:
    - name: %s
      when: [%s]
      receivers: [oncall]
assets:
  - key: %s%s
`, routingKeyEnv, endpointURL, rule, when, orders, policy)
	return config.Parse("bench-alerts.yaml", []byte(yaml))
}

// orders is the one asset every trial turns FAIL and back.
const orders asset.Key = "bench/orders"

// events returns the event that makes the asset FAIL and the one that
// makes it recover, for cause.
func events(cause string) (failing, passing func() string) {
	if cause == "check" {
		check := func(passed bool) func() string {
			return func() string {
				return fmt.Sprintf(`{"kind":"check_result","asset":%q,"check":{"name":"unique_order_id","passed":%t,"severity":"error"}}`, orders, passed)
			}
		}
		return check(false), check(true)
	}
	return func() string {
			return fmt.Sprintf(`{"kind":"materialization","asset":%q,"data_time":%q}`, orders, time.Now().UTC().Add(-3*time.Hour).Format(time.RFC3339Nano))
		}, func() string {
			return fmt.Sprintf(`{"kind":"materialization","asset":%q}`, orders)
		}
}

func run(trials int, cause string, gap, timeout time.Duration, log *slog.Logger) error {
	ctx := context.Background()
	ep, err := newEndpoint()
	if err != nil {
		return err
	}
	defer ep.srv.Close()
	os.Setenv(routingKeyEnv, routingKey)
	defs, err := definitions(cause, ep.url)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "freshet-bench-alerts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	// Monitor options left zero: the defaults, as `freshet serve` runs.
	a, err := app.Open(ctx, app.Config{DataDir: dir, Definitions: defs, Logger: log, ServerURL: base})
	if err != nil {
		return err
	}
	defer a.Close()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go a.Serve(sctx, ln)
	client := &http.Client{Timeout: 30 * time.Second}
	if err := waitReady(client, base); err != nil {
		return err
	}
	// The asset starts healthy: materialized now, no check failed.
	if _, err := post(client, base, fmt.Sprintf(`{"kind":"materialization","asset":%q}`, orders)); err != nil {
		return err
	}
	failing, passing := events(cause)
	dedup := engine.Key(rule, orders)
	pd := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(ep.url))
	pause := func() { time.Sleep(150*time.Millisecond + rand.N(gap+1)) }
	var page, resolve, acked, bare []time.Duration
	started := time.Now()
	for i := range trials {
		// (a) one event opens an incident; another closes it.
		pause()
		t0 := time.Now()
		ack, err := post(client, base, failing())
		if err != nil {
			return fmt.Errorf("trial %d: %w", i, err)
		}
		at, err := ep.await(dedup, "trigger", timeout)
		if err != nil {
			return fmt.Errorf("trial %d: %w", i, err)
		}
		page, acked = append(page, at.Sub(t0)), append(acked, ack)
		t1 := time.Now()
		if _, err := post(client, base, passing()); err != nil {
			return fmt.Errorf("trial %d: %w", i, err)
		}
		if at, err = ep.await(dedup, "resolve", timeout); err != nil {
			return fmt.Errorf("trial %d: %w", i, err)
		}
		resolve = append(resolve, at.Sub(t1))

		// (b) the same endpoint, called directly.
		pause()
		bkey := fmt.Sprintf("baseline/%d", i)
		t0 = time.Now()
		if _, err := pd.ManageEventWithContext(ctx, baselineEvent(bkey)); err != nil {
			return fmt.Errorf("baseline %d: %w", i, err)
		}
		if at, err = ep.await(bkey, "trigger", timeout); err != nil {
			return fmt.Errorf("baseline %d: %w", i, err)
		}
		bare = append(bare, at.Sub(t0))
	}
	// Nothing more may arrive: a second page for an incident is a bug.
	select {
	case a := <-ep.arrivals:
		return fmt.Errorf("after the last trial the endpoint got a %s of %s", a.action, a.key)
	case <-time.After(2 * time.Second):
	}

	fmt.Printf("%d trials, cause %s, a b a b ... in %s; GOMAXPROCS %d; embedded store; monitor defaults (coalesce 100ms, full pass every 15s)\n",
		trials, cause, time.Since(started).Round(time.Second), runtime.GOMAXPROCS(0))
	row := func(label string, ds []time.Duration) { fmt.Printf("%-58s %s\n", label, stats(ds)) }
	fmt.Printf("%-58s %10s%10s%10s%10s\n", "", "p50", "p90", "p99", "max")
	row("(a) event -> page at the endpoint, through Freshet", page)
	row("    of which POST /api/v1/events answered (WAL fsync)", acked)
	row("    recovery event just after a pass -> resolve", resolve)
	row("(b) bare go-pagerduty ManageEventWithContext", bare)
	verdict := "within"
	if pct(page, 0.99) > time.Second {
		verdict = "OVER"
	}
	fmt.Printf("(c) a/b of the p50s: %.1fx; p99 of (a) %s, %s the 1 s target\n",
		float64(pct(page, 0.50))/float64(pct(bare, 0.50)), round(pct(page, 0.99)), verdict)
	return nil
}

// baselineEvent is a trigger like the ones Freshet sends, built by hand.
func baselineEvent(key string) *pagerduty.V2Event {
	return &pagerduty.V2Event{RoutingKey: routingKey, Action: "trigger", DedupKey: key, Client: "Freshet",
		Payload: &pagerduty.V2Payload{
			Summary: "bench/t0000 is FAIL: 3h0m0s since the last materialization, max_lag 1h", Source: "bench",
			Severity: "error", Component: "bench/t0000", Class: rule, Timestamp: time.Now().UTC().Format(time.RFC3339),
			Details: map[string]any{"key": key, "root_cause": "bench/t0000", "rule": rule, "lag_seconds": 10800},
		}}
}

func post(c *http.Client, base, body string) (time.Duration, error) {
	start := time.Now()
	resp, err := c.Post(base+"/api/v1/events", "application/x-ndjson", strings.NewReader(body+"\n"))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("POST /api/v1/events answered %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return time.Since(start), nil
}

func waitReady(c *http.Client, base string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := c.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("the server was not ready within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pct is the nearest-rank percentile p of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func stats(ds []time.Duration) string {
	var b strings.Builder
	for _, p := range []float64{0.50, 0.90, 0.99, 1} {
		fmt.Fprintf(&b, "%10s", round(pct(ds, p)))
	}
	return b.String()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
