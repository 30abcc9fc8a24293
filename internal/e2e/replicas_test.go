package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/internal/freeport"
	"github.com/freshet-dev/freshet/internal/kubetest"
)

// TestReplicasOneLeader: three freshet servers share one ClickHouse and
// elect a leader through a real ZooKeeper. Each ingests; every catalog
// shows every server's events. Exactly one leads: it alone runs the
// automated materializations and pages. The leader is killed with
// SIGKILL: another takes over, no run is launched twice, the incident is
// not paged again, and its recovery is one resolve, sent by the new leader.
// Once with the election through ZooKeeper, once through a Kubernetes
// Lease on a real kube-apiserver.
func TestReplicasOneLeader(t *testing.T) {
	for _, election := range []string{"zookeeper", "lease"} {
		t.Run(election, func(t *testing.T) { replicasOneLeader(t, election) })
	}
}

func replicasOneLeader(t *testing.T, election string) {
	const (
		keyEnv     = "FRESHET_E2E_PD_ROUTING_KEY"
		routingKey = "R0UT1NGKEYREPLICAS00000000000000"
		wantKey    = "freshet/sla/raw/orders"
		timeout    = 4 * time.Second // --election-timeout
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var electionArgs []string
	switch election {
	case "zookeeper":
		zk, err := chtest.StartZooKeeper(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer zk.Stop()
		electionArgs = []string{"--zookeeper", zk.Addr() + "/e2e"}
	case "lease":
		electionArgs = []string{"--lease", "default/freshet-e2e", "--lease-kubeconfig", kubetest.Shared(t).Kubeconfig}
	}
	ch, err := chtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Stop()
	dsn := ch.DSN() + "/replicas"

	pd := newPagerDuty(routingKey)
	defer pd.Close()
	pd.up.Store(true)
	dir := t.TempDir()
	launches := filepath.Join(dir, "launches")
	defs := filepath.Join(dir, "freshet.yaml")
	if err := os.WriteFile(defs, []byte(fmt.Sprintf(`
alerts:
  receivers:
    - name: oncall
      type: pagerduty
      pagerduty: {routing_key_env: %s, endpoint: %q}
  rules:
    - name: sla
      when: [freshness_fail]
      select: {keys: [raw/orders]}
      receivers: [oncall]
automation: {enabled: true, cooldown: 1s}
assets:
  - key: raw/orders
    freshness: {max_lag: 1h}
  - key: job/tick
    materialize: {argv: [sh, -c, 'echo "$FRESHET_RUN_ID $FRESHET_ASSET" >> %s']}
    freshness: {max_lag: 2s}
`, keyEnv, pd.URL, launches)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{keyEnv + "=" + routingKey}
	var servers []*server
	for i := range 3 {
		addr, err := freeport.Addr()
		if err != nil {
			t.Fatal(err)
		}
		sdir := filepath.Join(dir, fmt.Sprintf("s%d", i))
		s := &server{t: t, addr: addr, logPath: sdir + ".log",
			args: []string{"serve", "--config", defs, "--store", dsn, "--data-dir", sdir, "--addr", addr, "--log-level", "info",
				"--name", fmt.Sprintf("s%d", i), "--advertise-url", "http://" + addr,
				"--election-timeout", timeout.String(), "--follow-overlap", "5s"}}
		s.args = append(s.args, electionArgs...)
		servers = append(servers, s)
	}
	t.Cleanup(func() {
		for _, s := range servers {
			if s.cmd != nil {
				s.cmd.Process.Kill()
				s.cmd.Wait()
			}
			if b, _ := os.ReadFile(s.logPath); strings.Contains(string(b), "WARNING: DATA RACE") {
				t.Errorf("the race detector reported a data race in %s: see its log", s.logPath)
			}
			if t.Failed() {
				b, _ := os.ReadFile(s.logPath)
				if len(b) > 5000 {
					b = b[len(b)-5000:]
				}
				t.Logf("%s log tail:\n%s", s.args[slices.Index(s.args, "--name")+1], b)
			}
		}
	})
	for _, s := range servers {
		s.startWith(env)
	}

	// Exactly one leads, at every sample, for the whole test.
	var leaders atomic.Value // []int: who says it leads, at the last sample
	var twoLeaders atomic.Value
	var sampling sync.WaitGroup
	sctx, stopSampling := context.WithCancel(ctx)
	sampling.Add(1)
	go func() {
		defer sampling.Done()
		for sctx.Err() == nil {
			var who []int
			for i, s := range servers { // a killed one does not answer
				if v, err := s.metric("freshet_leader"); err == nil && v == 1 {
					who = append(who, i)
				}
			}
			leaders.Store(who)
			if len(who) > 1 {
				twoLeaders.Store(fmt.Sprint(who))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	defer func() { stopSampling(); sampling.Wait() }()
	leader := func() int {
		who, _ := leaders.Load().([]int)
		if len(who) != 1 {
			return -1
		}
		return who[0]
	}
	waitUntil(t, "one leader", time.Minute, func() bool { return leader() >= 0 })
	first := leader()
	t.Logf("replicas: s%d leads", first)
	var followers []*server
	for i, s := range servers {
		if i != first {
			followers = append(followers, s)
		}
	}

	// Every server ingests; every catalog shows all of it.
	for i, s := range servers {
		var b strings.Builder
		for n := range 50 {
			fmt.Fprintf(&b, `{"kind":"materialization","asset":"shared/s%d/a%d","upstream":["shared/root"]}`+"\n", i, n%10)
		}
		if a := call(t, http.MethodPost, s.url("/api/v1/events"), "application/x-ndjson", []byte(b.String())); a.status != http.StatusAccepted {
			t.Fatalf("POST events to s%d = %d %s", i, a.status, a.body)
		}
	}
	// raw/orders goes FAIL: materialized 3h ago, max_lag 1h; reported to a follower.
	postEvent(t, followers[0], fmt.Sprintf(`{"kind":"materialization","asset":"raw/orders","time":%q}`,
		time.Now().UTC().Add(-3*time.Hour).Format(time.RFC3339)))
	sharedCounts := func(s *server) map[string]int64 {
		out := map[string]int64{}
		for k, n := range s.catalogCounts() {
			if strings.HasPrefix(k, "shared/") || k == "raw/orders" {
				out[k] = n
			}
		}
		return out
	}
	agreed := time.Now()
	waitUntil(t, "every catalog to show every server's events", time.Minute, func() bool {
		want := sharedCounts(servers[0])
		if len(want) != 31 { // 30 assets with 5 events each, raw/orders
			return false
		}
		for _, s := range servers[1:] {
			if countsDiff(want, sharedCounts(s)) != "" {
				return false
			}
		}
		return true
	})
	t.Logf("replicas: the three catalogs agree %v after the last post", time.Since(agreed).Round(time.Millisecond))
	for k, n := range sharedCounts(servers[2]) {
		if k != "raw/orders" && n != 5 { // raw/orders has the leader's freshness changes too
			t.Fatalf("%s counted %d events", k, n)
		}
	}

	waitUntil(t, "the page for raw/orders", time.Minute, func() bool { n, _, _ := pd.counts(wantKey); return n > 0 })
	waitUntil(t, "runs of job/tick", time.Minute, func() bool { return len(readLaunches(t, launches)) >= 2 })
	// A follower forwards the leader's routes: its runs list is the leader's.
	// (503 no_leader only while it knows no leader: retried, and counted.)
	var runsAnswer answer
	retries := 0
	waitUntil(t, "a follower's forwarded runs list", 30*time.Second, func() bool {
		runsAnswer = call(t, http.MethodGet, followers[1].url("/api/v1/runs?limit=5"), "", nil)
		if runsAnswer.status == http.StatusServiceUnavailable && strings.Contains(runsAnswer.body, "no_leader") {
			retries++
			return false
		}
		return true
	})
	var page struct{ Runs []runJSON }
	if err := json.Unmarshal([]byte(runsAnswer.body), &page); runsAnswer.status != http.StatusOK || err != nil || len(page.Runs) == 0 {
		t.Fatalf("a follower's GET /api/v1/runs (forwarded to the leader) = %d %s", runsAnswer.status, runsAnswer.body)
	}
	t.Logf("replicas: a follower forwarded GET /api/v1/runs to the leader (%d runs listed; %d answers no_leader before)", len(page.Runs), retries)

	// Load on every server from here until after the failover.
	var loaders []*loader
	lctx, stopLoad := context.WithCancel(ctx)
	var loading sync.WaitGroup
	for _, s := range servers {
		l := &loader{url: s.url("/api/v1/events"), rate: 1000, batch: 100, retryEvery: 7, acked: map[string]bool{}}
		loaders = append(loaders, l)
		loading.Add(1)
		go func() { defer loading.Done(); l.run(lctx, 2) }()
	}
	defer func() { stopLoad(); loading.Wait() }()
	waitUntil(t, "load on every server", time.Minute, func() bool {
		for _, l := range loaders {
			if l.ackedCount() == 0 {
				return false
			}
		}
		return true
	})

	// The leader dies.
	killed := time.Now()
	servers[first].kill9()
	waitUntil(t, "a new leader", time.Minute, func() bool { l := leader(); return l >= 0 && l != first })
	failover := time.Since(killed)
	second := leader()
	t.Logf("failover: s%d leads %v after s%d was killed (election timeout %v)", second, failover.Round(time.Millisecond), first, timeout)
	before := len(readLaunches(t, launches))
	waitUntil(t, "runs by the new leader", time.Minute, func() bool { return len(readLaunches(t, launches)) >= before+2 })

	// The incident was paged once; its recovery, reported to a follower of
	// the new leader, is one resolve.
	var other *server
	for i, s := range servers {
		if i != first && i != second {
			other = s
		}
	}
	postEvent(t, other, `{"kind":"materialization","asset":"raw/orders"}`)
	waitUntil(t, "the resolve", time.Minute, func() bool { _, r, _ := pd.counts(wantKey); return r > 0 })
	time.Sleep(3 * time.Second) // more passes and outbox polls: nothing more
	stopLoad()
	loading.Wait()

	// The killed server restarts on its data directory: it replays what it
	// acknowledged before the kill into the store, and follows. Then the
	// store holds every acknowledged event once, and every catalog counts
	// what the store holds.
	servers[first].startWith(env)
	for _, s := range servers {
		s.drained(2 * time.Minute)
	}
	all := &loader{acked: map[string]bool{}}
	for _, l := range loaders {
		maps.Copy(all.acked, l.acked)
		all.posts.Add(l.posts.Load())
		all.failures.Add(l.failures.Load())
	}
	perAsset := verify(t, dsn, all)
	loadCounts := func(s *server) map[string]int64 {
		out := map[string]int64{}
		for k, n := range s.catalogCounts() {
			if strings.HasPrefix(k, "load/") {
				out[k] = n
			}
		}
		return out
	}
	wantLoad := map[string]int64{}
	for k, n := range perAsset {
		if strings.HasPrefix(k, "load/") {
			wantLoad[k] = n
		}
	}
	for i, s := range servers {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			diff := countsDiff(wantLoad, loadCounts(s))
			if diff == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("s%d's catalog does not count what the store holds: %s", i, diff)
			}
		}
	}
	t.Logf("replicas: after the restart of s%d, the three catalogs count the %d stored load events", first, len(all.acked))
	// The metrics docs/operations.md lists under "Several servers".
	for i, s := range servers {
		for _, name := range []string{"freshet_leader", "freshet_follow_events_total", "freshet_follow_own_events_total", "freshet_follow_lag_seconds"} {
			v, err := s.metric(name)
			if err != nil {
				t.Fatalf("s%d: %v", i, err)
			}
			// (The restarted server counts from its restart.)
			if i != first && (name == "freshet_follow_events_total" || name == "freshet_follow_own_events_total") && v == 0 {
				t.Errorf("s%d: %s is 0 after every server ingested", i, name)
			}
		}
	}
	stopSampling()
	sampling.Wait()
	n, r, accepted := pd.counts(wantKey)
	if n != 1 || r != 1 {
		t.Fatalf("PagerDuty accepted %d triggers and %d resolves of %s, want 1 and 1: %s", n, r, wantKey, accepted)
	}
	if two, ok := twoLeaders.Load().(string); ok {
		t.Fatalf("two servers said they led at once: %s", two)
	}
	ids := readLaunches(t, launches)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("run %s launched twice: %v", id, ids)
		}
		seen[id] = true
	}
	t.Logf("replicas: %d runs of job/tick, each launched once; PagerDuty: 1 trigger, 1 resolve", len(ids))
}

// readLaunches returns the run ids the step wrote, one per launch.
func readLaunches(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if id, _, ok := strings.Cut(line, " "); ok {
			ids = append(ids, id)
		}
	}
	return ids
}
