package emit_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/openlineage"
	"github.com/freshet-dev/freshet/openlineage/emit"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
)

type discard struct{}

func (discard) Submit(context.Context, []asset.Event) error { return nil }

func sh(script string) *asset.MaterializeSpec {
	return &asset.MaterializeSpec{Argv: []string{"sh", "-c", script}}
}

func upstreamOf(specs []asset.Spec) func(asset.Key) []asset.Key {
	deps := map[asset.Key][]asset.Key{}
	for _, s := range specs {
		deps[s.Key] = s.Deps
	}
	return func(k asset.Key) []asset.Key { return deps[k] }
}

// rig is a real runs service (embedded store, processes started by the
// local launcher) whose updates go to an emitter that POSTs to c.
func rig(t *testing.T, c *consumer, specs []asset.Spec) (*runs.Service, *emit.Emitter) {
	t.Helper()
	st, err := embedded.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	em, err := emit.New(emit.Options{URL: c.srv.URL, Namespace: "freshet-test", APIKey: "k3y",
		Upstream: upstreamOf(specs), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	em.Start()
	svc := runs.New(runs.Options{Store: st, Events: discard{}, Launcher: &executor.LocalLauncher{Grace: time.Second},
		Limits: executor.Limits{MaxConcurrent: 4}, Owner: "test", FlushEvery: 20 * time.Millisecond, Notify: em.Notify})
	svc.SetSpecs(specs)
	ctx, cancel := context.WithCancel(context.Background())
	svc.Start(ctx)
	t.Cleanup(func() {
		cancel()
		<-svc.Done()
		em.Close()
		st.Close()
	})
	return svc, em
}

func waitRun(t *testing.T, svc *runs.Service, id string) store.RunRecord {
	t.Helper()
	var rec store.RunRecord
	waitFor(t, "run "+id+" to end", func() bool {
		r, _, err := svc.Get(context.Background(), id)
		rec = r
		return err == nil && executor.RunStatus(r.Status).Done()
	})
	return rec
}

const orders = asset.Key("ol/postgres:%2F%2Fshop-db:5432/shop.public.orders")

// TestRunsEmitEvents runs a chain whose second step fails and whose
// third is skipped, and checks what the consumer received: a START and an
// end per step that started, named and linked as documented, each valid
// against the official schema and accepted by Freshet's own decoder.
func TestRunsEmitEvents(t *testing.T) {
	t.Parallel()
	c := newConsumer(t)
	specs := []asset.Spec{
		{Key: orders},
		{Key: "marts/orders_daily", Deps: []asset.Key{orders}, Materialize: sh("true")},
		{Key: "marts/report", Deps: []asset.Key{"marts/orders_daily"}, Materialize: sh("echo boom >&2; exit 3")},
		{Key: "marts/never", Deps: []asset.Key{"marts/report"}, Materialize: sh("true")},
	}
	svc, _ := rig(t, c, specs)
	rec, err := svc.Launch(context.Background(), runs.LaunchRequest{Selection: []string{"+marts/never"}})
	if err != nil {
		t.Fatal(err)
	}
	waitRun(t, svc, rec.ID)
	// run START + END, 2 steps x (START + END); the skipped step sends none.
	waitFor(t, "6 events", func() bool { return len(c.raw()) >= 6 })

	got := c.events(t)
	var lines []string
	for _, ev := range got {
		lines = append(lines, ev.EventType+" "+ev.Job.Namespace+"/"+ev.Job.Name)
	}
	slices.Sort(lines)
	want := []string{
		"COMPLETE freshet-test/marts/orders_daily",
		"FAIL freshet-test/freshet_run",
		"FAIL freshet-test/marts/report",
		"START freshet-test/freshet_run",
		"START freshet-test/marts/orders_daily",
		"START freshet-test/marts/report",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, b := range c.raw() {
		checkEvent(t, b)
	}
	c.mu.Lock()
	if c.reqPath != "/api/v1/lineage" || c.auth[0] != "Bearer k3y" {
		t.Errorf("posted to %s with Authorization %q", c.reqPath, c.auth[0])
	}
	c.mu.Unlock()

	runID := ""
	for _, ev := range got {
		if ev.Job.Name == emit.RunJob {
			runID = ev.Run.RunID
			if ev.Run.RunID != rec.ID || len(ev.Inputs)+len(ev.Outputs) != 0 {
				t.Errorf("the Freshet run's event: %+v", ev)
			}
		}
	}
	for _, ev := range got {
		if ev.Job.Name == emit.RunJob {
			continue
		}
		key := asset.Key(ev.Job.Name)
		if ev.Run.RunID != emit.StepRunID(rec.ID, key) {
			t.Errorf("%s: run id %s", key, ev.Run.RunID)
		}
		p := ev.Run.Facets.Parent
		if p == nil || p.Run.RunID != runID || p.Job.Name != emit.RunJob || p.Job.Namespace != "freshet-test" {
			t.Errorf("%s: parent %+v", key, p)
		}
		if len(ev.Outputs) != 1 || ev.Outputs[0] != (emit.Dataset{Namespace: "freshet://freshet-test", Name: string(key)}) {
			t.Errorf("%s: outputs %+v", key, ev.Outputs)
		}
		switch key {
		case "marts/orders_daily":
			// An ol/ key is the dataset it was made from.
			if len(ev.Inputs) != 1 || ev.Inputs[0] != (emit.Dataset{Namespace: "postgres://shop-db:5432", Name: "shop.public.orders"}) {
				t.Errorf("inputs %+v", ev.Inputs)
			}
		case "marts/report":
			if ev.EventType == emit.Fail && (ev.Run.Facets.ErrorMessage == nil || !strings.Contains(ev.Run.Facets.ErrorMessage.Message, "3")) {
				t.Errorf("FAIL without the exit status: %+v", ev.Run.Facets.ErrorMessage)
			}
		}
	}
	// What Freshet makes of its own events: the same keys and edges.
	for _, b := range c.raw() {
		evs, err := openlineage.Decode(b, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Asset == "ol/freshet:%2F%2Ffreshet-test/marts/orders_daily" && !slices.Equal(e.Upstream, []asset.Key{orders}) {
				t.Errorf("decoded upstream %v", e.Upstream)
			}
		}
	}
}

// TestCancelEmitsAbort: a canceled step ends with ABORT, the run too.
func TestCancelEmitsAbort(t *testing.T) {
	t.Parallel()
	c := newConsumer(t)
	svc, _ := rig(t, c, []asset.Spec{{Key: "slow", Materialize: sh("sleep 60")}})
	rec, err := svc.Launch(context.Background(), runs.LaunchRequest{Selection: []string{"slow"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the step's START", func() bool { return len(c.raw()) >= 2 })
	if _, err := svc.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	waitRun(t, svc, rec.ID)
	waitFor(t, "4 events", func() bool { return len(c.raw()) >= 4 })
	var types []string
	for _, ev := range c.events(t) {
		types = append(types, ev.EventType+" "+ev.Job.Name)
	}
	slices.Sort(types)
	if want := []string{"ABORT freshet_run", "ABORT slow", "START freshet_run", "START slow"}; !slices.Equal(types, want) {
		t.Errorf("got %v, want %v", types, want)
	}
	for _, b := range c.raw() {
		checkEvent(t, b)
	}
}

func step(run string, key asset.Key, status executor.StepStatus, reason string) runs.Update {
	now := time.Now()
	return runs.Update{Step: &store.StepRecord{RunID: run, Asset: key, Status: string(status), Started: now, Ended: now, Reason: reason}}
}

const runA = "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"

// TestDelivery: retried through 5xx, 429 and 408; a 4xx is dropped as
// rejected; events keep their order.
func TestDelivery(t *testing.T) {
	t.Parallel()
	c := newConsumer(t)
	c.failNext(503, 429, 408, 500)
	em, err := emit.New(emit.Options{URL: c.srv.URL + "/base/", Endpoint: "/ol/events", MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	em.Start()
	defer em.Close()
	em.Notify(step(runA, "a", executor.StepStarted, ""))
	em.Notify(step(runA, "a", executor.StepSuccess, ""))
	waitFor(t, "2 events", func() bool { return len(c.raw()) == 2 })
	got := c.events(t)
	if got[0].EventType != emit.Start || got[1].EventType != emit.Complete {
		t.Errorf("order: %s, %s", got[0].EventType, got[1].EventType)
	}
	c.mu.Lock()
	path := c.reqPath
	c.mu.Unlock()
	if path != "/base/ol/events" {
		t.Errorf("posted to %s", path)
	}
	c.failNext(400)
	em.Notify(step(runA, "b", executor.StepStarted, ""))
	waitFor(t, "the rejection counted", func() bool { return metric(t, em, "rejected") == 1 })
	if n := testutil.ToFloat64(em.Collectors()[1]); n != 4 {
		t.Errorf("retries %v, want 4", n)
	}
}

// TestGivesUp: a consumer that never answers well costs MaxAttempts
// POSTs, then the event is dropped and counted.
func TestGivesUp(t *testing.T) {
	t.Parallel()
	c := newConsumer(t)
	c.failNext(502, 502, 502, 502)
	em, err := emit.New(emit.Options{URL: c.srv.URL, MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	em.Start()
	defer em.Close()
	em.Notify(step(runA, "a", executor.StepStarted, ""))
	waitFor(t, "gave_up", func() bool { return metric(t, em, "gave_up") == 1 })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tries != 3 {
		t.Errorf("%d POSTs, want 3", c.tries)
	}
}

// TestQueueFullDrops: with the consumer stuck, Notify still returns at
// once; what the queue cannot hold is dropped and counted; Close gives up
// on the rest after its drain time.
func TestQueueFullDrops(t *testing.T) {
	t.Parallel()
	c := newConsumer(t)
	hold := make(chan struct{})
	c.mu.Lock()
	c.hold = hold
	c.mu.Unlock()
	em, err := emit.New(emit.Options{URL: c.srv.URL, QueueSize: 4, Drain: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	em.Start()
	const n = 50
	for i := range n {
		em.Notify(step(runA, asset.Key(fmt.Sprintf("a%d", i)), executor.StepStarted, ""))
	}
	// At most the queue plus the one being sent are kept.
	if d := metric(t, em, "queue_full"); d < n-5 {
		t.Errorf("dropped %v of %d with a queue of 4", d, n)
	}
	em.Close()
	close(hold)
	total := metric(t, em, "queue_full") + metric(t, em, "shutdown") + testutil.ToFloat64(em.Collectors()[0])
	if total != n {
		t.Errorf("sent and dropped add up to %v, want %d", total, n)
	}
	em.Notify(step(runA, "late", executor.StepStarted, "")) // after Close: ignored, no panic
}

func metric(t *testing.T, em *emit.Emitter, reason string) float64 {
	t.Helper()
	return testutil.ToFloat64(em.Collectors()[2].(*prometheus.CounterVec).WithLabelValues(reason))
}

func TestNewRefusesNoURL(t *testing.T) {
	t.Parallel()
	if _, err := emit.New(emit.Options{}); err == nil {
		t.Error("no error without a url")
	}
}

// TestCloseWithoutStart: Close returns, counting what was queued.
func TestCloseWithoutStart(t *testing.T) {
	t.Parallel()
	em, err := emit.New(emit.Options{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	em.Notify(step(runA, "a", executor.StepStarted, ""))
	em.Close()
	em.Start() // after Close: nothing
	if n := metric(t, em, "shutdown"); n != 1 {
		t.Errorf("shutdown drops %v, want 1", n)
	}
}
