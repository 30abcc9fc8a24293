package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receivertest"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
)

// poll is the outbox's safety poll in tests: with the fake clock, it is
// also how soon a sender notices that the clock moved.
const poll = 2 * time.Millisecond

// options are the tests' defaults: the fake clock, a quick poll, a backoff
// without jitter of 1s doubling to 8s.
func options(clk *fakeClock) Options {
	return Options{Logger: quiet(), Now: clk.Now, PollInterval: poll,
		Backoff: Backoff{Initial: time.Second, Max: 8 * time.Second, Jitter: -1}}
}

// openStore opens the embedded store in dir, closed at the end of the test.
func openStore(t *testing.T, dir string) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// run runs o until the returned stop is called (or the test ends) and
// checks that Run returned nil.
func run(t *testing.T, o *Outbox) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually waits (real time, up to 10s) for cond, moving the fake clock
// by step (if not 0) between looks.
func eventually(t *testing.T, what string, clk *fakeClock, step time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		if step > 0 {
			clk.Advance(step)
		}
		time.Sleep(poll)
	}
}

// settle gives the senders many polls to do what they should not.
func settle() { time.Sleep(50 * poll) }

// stored returns the deliveries of the store matching q, oldest first.
func stored(t *testing.T, st store.AlertStore, q store.DeliveryQuery) []store.Delivery {
	t.Helper()
	q.Limit = store.MaxLimit
	var out []store.Delivery
	for {
		page, err := st.Deliveries(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Deliveries...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	slices.Reverse(out)
	return out
}

// one returns the only delivery to receiver of key with status.
func one(t *testing.T, st store.AlertStore, receiver, key string, status alerts.Status) store.Delivery {
	t.Helper()
	var out []store.Delivery
	for _, d := range stored(t, st, store.DeliveryQuery{Receiver: receiver, Key: key}) {
		if d.Status == string(status) {
			out = append(out, d)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d deliveries of %s %s to %s, want 1: %s", len(out), key, status, receiver, briefs(out))
	}
	return out[0]
}

// brief prints a delivery without its notification.
func brief(d store.Delivery) string {
	d.Notification = nil
	return fmt.Sprintf("%+v", d)
}

func briefs(ds []store.Delivery) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(brief(d) + "\n")
	}
	return b.String()
}

func inState(t *testing.T, st store.AlertStore, receiver, key string, status alerts.Status, state string) func() bool {
	return func() bool { return one(t, st, receiver, key, status).State == state }
}

func counter(o *Outbox, receiver, outcome string) int {
	var m dto.Metric
	if err := o.metrics.deliveries.WithLabelValues(receiver, outcome).Write(&m); err != nil {
		panic(err)
	}
	return int(m.GetCounter().GetValue())
}

// exposition gathers the outbox's metrics in a registry of their own and
// returns them in the text format, only the named families if any.
func exposition(t *testing.T, o *Outbox, names ...string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(o.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if len(names) > 0 && !slices.Contains(names, mf.GetName()) {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return text.String()
}

func firing(key string) alerts.Notification { return receivertest.Sample(key) }

func resolved(key string) alerts.Notification {
	n := receivertest.Sample(key)
	return receivertest.Resolve(n, n.StartsAt.Add(time.Hour))
}

func enqueue(t *testing.T, o *Outbox, n alerts.Notification, receivers ...string) {
	t.Helper()
	if err := o.Enqueue(t.Context(), n, receivers, false); err != nil {
		t.Fatal(err)
	}
}

type sent struct{ key, action string }

func pdSent(events []pdEvent) []sent {
	var out []sent
	for _, e := range events {
		out = append(out, sent{e.DedupKey, e.EventAction})
	}
	return out
}

func TestDeliveredOnce(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	run(t, o)
	t0 := clk.Now()
	enqueue(t, o, firing("orders-fresh:raw/orders"), "pd")
	eventually(t, "delivered", clk, 0, inState(t, st, "pd", "orders-fresh:raw/orders", alerts.Firing, store.DeliveryDelivered))

	d := one(t, st, "pd", "orders-fresh:raw/orders", alerts.Firing)
	if d.Attempts != 1 || d.LastCode != 0 || d.LastError != "" || d.LastLatency <= 0 || !d.Created.Equal(t0) || !d.NextAttempt.IsZero() {
		t.Errorf("delivery record %s", brief(d))
	}
	clk.Advance(time.Hour)
	settle()
	requests, _, acc := pd.stats()
	if requests != 1 || !slices.Equal(pdSent(acc), []sent{{"orders-fresh:raw/orders", "trigger"}}) {
		t.Fatalf("%d requests, accepted %v", requests, pdSent(acc))
	}
	if acc[0].Payload.Summary != firing("").Summary {
		t.Errorf("summary %q", acc[0].Payload.Summary)
	}
	if counter(o, "pd", "delivered") != 1 || counter(o, "pd", "retried") != 0 {
		t.Error("counters disagree")
	}
}

func TestRejectedIsNotRetried(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	run(t, o)
	body := `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is invalid"]}`
	pd.fail(400, "", body)
	enqueue(t, o, firing("k"), "pd")
	eventually(t, "rejected", clk, 0, inState(t, st, "pd", "k", alerts.Firing, store.DeliveryRejected))

	d := one(t, st, "pd", "k", alerts.Firing)
	if d.Attempts != 1 || d.LastCode != 400 || !strings.Contains(d.LastError, body) || !d.NextAttempt.IsZero() {
		t.Errorf("delivery record %s", brief(d))
	}
	for range 3 {
		clk.Advance(time.Hour)
		settle()
	}
	if requests, _, _ := pd.stats(); requests != 1 {
		t.Fatalf("%d requests, want 1: a rejection is not retried", requests)
	}
	if counter(o, "pd", "rejected") != 1 {
		t.Error("rejected not counted")
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	run(t, o)
	t0 := clk.Now()
	pd.fail(429, "120", `{"status":"throttled"}`)
	enqueue(t, o, firing("k"), "pd")
	eventually(t, "the first attempt", clk, 0, func() bool { return one(t, st, "pd", "k", alerts.Firing).Attempts == 1 })

	d := one(t, st, "pd", "k", alerts.Firing)
	if d.State != store.DeliveryPending || d.LastCode != 429 || !d.NextAttempt.Equal(t0.Add(120*time.Second)) {
		t.Fatalf("after a 429 with Retry-After: 120: %s", brief(d))
	}
	clk.Advance(119 * time.Second)
	settle()
	if requests, _, _ := pd.stats(); requests != 1 {
		t.Fatalf("%d requests before the Retry-After passed, want 1", requests)
	}
	clk.Advance(time.Second)
	eventually(t, "delivered", clk, 0, inState(t, st, "pd", "k", alerts.Firing, store.DeliveryDelivered))
	if d := one(t, st, "pd", "k", alerts.Firing); d.Attempts != 2 || d.LastCode != 0 {
		t.Errorf("delivery record %s", brief(d))
	}
	if counter(o, "pd", "retried") != 1 || counter(o, "pd", "delivered") != 1 {
		t.Error("counters disagree")
	}
}

// TestDownThenUp: a receiver down for a while then up gets every
// notification exactly once per dedup key and action, each key's trigger
// before its resolve.
func TestDownThenUp(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	run(t, o)
	pd.setDown(500)
	const keys = 10
	for i := range keys {
		enqueue(t, o, firing(fmt.Sprint("key-", i)), "pd")
	}
	for i := range keys {
		enqueue(t, o, resolved(fmt.Sprint("key-", i)), "pd")
	}
	eventually(t, "three failed attempts of each trigger", clk, time.Second, func() bool {
		for i := range keys {
			if one(t, st, "pd", fmt.Sprint("key-", i), alerts.Firing).Attempts < 3 {
				return false
			}
		}
		return true
	})
	for i := range keys {
		if d := one(t, st, "pd", fmt.Sprint("key-", i), alerts.Resolved); d.Attempts != 0 {
			t.Fatalf("a resolve was attempted before its trigger was delivered: %s", brief(d))
		}
	}
	pd.setDown(0)
	eventually(t, "all delivered", clk, time.Second, func() bool {
		return len(stored(t, st, store.DeliveryQuery{States: []string{store.DeliveryDelivered}})) == 2*keys
	})
	settle()
	_, _, acc := pd.stats()
	count := map[sent]int{}
	first := map[sent]int{}
	for i, s := range pdSent(acc) {
		count[s]++
		if _, ok := first[s]; !ok {
			first[s] = i
		}
	}
	for i := range keys {
		k := fmt.Sprint("key-", i)
		trig, res := sent{k, "trigger"}, sent{k, "resolve"}
		if count[trig] != 1 || count[res] != 1 {
			t.Errorf("%s: %d triggers, %d resolves accepted, want 1 each", k, count[trig], count[res])
		}
		if first[trig] > first[res] {
			t.Errorf("%s: resolve accepted before its trigger", k)
		}
	}
	if len(acc) != 2*keys {
		t.Errorf("%d accepted, want %d", len(acc), 2*keys)
	}
	if counter(o, "pd", "delivered") != 2*keys || counter(o, "pd", "retried") < 3*keys || counter(o, "pd", "dropped") != 0 {
		t.Error("counters disagree")
	}
}

func TestResolveWaitsForItsTrigger(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	run(t, o)
	pd.fail(503, "", "busy")
	enqueue(t, o, firing("k"), "pd")
	enqueue(t, o, resolved("k"), "pd")
	enqueue(t, o, firing("other"), "pd") // another key is not held
	eventually(t, "the other key delivered", clk, 0, inState(t, st, "pd", "other", alerts.Firing, store.DeliveryDelivered))
	settle()
	if d := one(t, st, "pd", "k", alerts.Firing); d.Attempts != 1 || d.LastCode != 503 {
		t.Fatalf("trigger %s", brief(d))
	}
	if d := one(t, st, "pd", "k", alerts.Resolved); d.Attempts != 0 || d.State != store.DeliveryPending {
		t.Fatalf("the resolve went before its trigger: %s", brief(d))
	}
	clk.Advance(time.Second)
	eventually(t, "the resolve delivered", clk, 0, inState(t, st, "pd", "k", alerts.Resolved, store.DeliveryDelivered))
	_, _, acc := pd.stats()
	want := []sent{{"other", "trigger"}, {"k", "trigger"}, {"k", "resolve"}}
	if got := pdSent(acc); !slices.Equal(got, want) {
		t.Fatalf("accepted %v, want %v", got, want)
	}
}

func TestSlowReceiverDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	clk, pd, hook, st := newClock(), fakePagerDuty(t), fakeWebhook(t), openStore(t, t.TempDir())
	hook.setHang(true)
	opts := options(clk)
	opts.SendTimeout = time.Minute
	o := New(st, []alerts.Receiver{newWebhook(t, "slow", hook), newPagerDuty(t, "pd", pd)}, opts)
	run(t, o)
	for i := range 3 {
		enqueue(t, o, firing(fmt.Sprint("key-", i)), "slow", "pd")
	}
	pd.wait(t, 3)
	eventually(t, "pd's deliveries recorded", clk, 0, func() bool {
		return len(stored(t, st, store.DeliveryQuery{Receiver: "pd", States: []string{store.DeliveryDelivered}})) == 3
	})
	requests, hanging, _ := hook.stats()
	if requests != 1 || hanging != 1 {
		t.Fatalf("slow receiver: %d requests, %d hanging; want its first still hanging", requests, hanging)
	}
	if n := len(stored(t, st, store.DeliveryQuery{Receiver: "slow", States: []string{store.DeliveryPending}})); n != 3 {
		t.Fatalf("%d pending for the slow receiver, want 3", n)
	}
}

// TestRestart: deliveries acknowledged by one outbox are delivered by the
// next one on the same store directory, exactly once and in order: those
// never tried (the first outbox never ran) and those tried and failing
// (the receiver was down) alike.
func TestRestart(t *testing.T) {
	t.Parallel()
	clk, pd, dir := newClock(), fakePagerDuty(t), t.TempDir()

	// 1. Enqueued, never sent: the process dies before Run.
	st, err := embedded.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	enqueue(t, o, firing("never-tried"), "pd")
	st.Close()

	// 2. Tried while the receiver is down, then the process stops.
	clk.Advance(time.Second)
	pd.setDown(503)
	st, err = embedded.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	o = New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	stop := run(t, o)
	enqueue(t, o, firing("down"), "pd")
	enqueue(t, o, resolved("down"), "pd")
	eventually(t, "failed attempts", clk, 0, func() bool {
		return one(t, st, "pd", "never-tried", alerts.Firing).Attempts >= 1 && one(t, st, "pd", "down", alerts.Firing).Attempts >= 1
	})
	stop()
	if requests, _, acc := pd.stats(); len(acc) != 0 || requests < 2 {
		t.Fatalf("before the restart: %d requests, %d accepted", requests, len(acc))
	}
	st.Close()

	// 3. Restarted with the receiver up.
	pd.setDown(0)
	clk.Advance(time.Second)
	st = openStore(t, dir)
	o = New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	run(t, o)
	eventually(t, "all delivered after the restart", clk, time.Second, func() bool {
		return len(stored(t, st, store.DeliveryQuery{States: []string{store.DeliveryDelivered}})) == 3
	})
	settle()
	_, _, acc := pd.stats()
	got := pdSent(acc)
	slices.SortStableFunc(got, func(a, b sent) int { return strings.Compare(a.key, b.key) })
	want := []sent{{"down", "trigger"}, {"down", "resolve"}, {"never-tried", "trigger"}}
	if !slices.Equal(got, want) {
		t.Fatalf("accepted after the restart %v, want %v (each once, trigger before resolve)", got, want)
	}
}

func TestSilencedIsRecordedNotSent(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	if err := o.Enqueue(t.Context(), firing("k"), []string{"pd"}, true); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	settle()
	d := one(t, st, "pd", "k", alerts.Firing)
	if d.State != store.DeliverySilenced || d.Attempts != 0 {
		t.Fatalf("silenced delivery %s", brief(d))
	}
	if requests, _, _ := pd.stats(); requests != 0 {
		t.Fatalf("%d requests for a silenced notification", requests)
	}
	if counter(o, "pd", "silenced") != 1 {
		t.Error("silenced not counted")
	}
}

func TestRateLimitHoldsBackWithoutDropping(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	opts := options(clk)
	opts.RatePerMinute = map[string]int{"pd": 2} // one every 30s
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, opts)
	run(t, o)
	for i := range 3 {
		enqueue(t, o, firing(fmt.Sprint("key-", i)), "pd")
	}
	delivered := func() int {
		return len(stored(t, st, store.DeliveryQuery{States: []string{store.DeliveryDelivered}}))
	}
	eventually(t, "the first delivered", clk, 0, func() bool { return delivered() == 1 })
	settle()
	clk.Advance(29 * time.Second)
	settle()
	if requests, _, _ := pd.stats(); requests != 1 || delivered() != 1 {
		t.Fatalf("%d requests within 30s at 2 a minute, want 1", requests)
	}
	for _, d := range stored(t, st, store.DeliveryQuery{States: []string{store.DeliveryPending}}) {
		if d.Attempts != 0 {
			t.Fatalf("a rate-limited delivery was attempted: %s", brief(d))
		}
	}
	clk.Advance(time.Second)
	eventually(t, "the second delivered", clk, 0, func() bool { return delivered() == 2 })
	settle()
	if delivered() != 2 {
		t.Fatal("the third went without waiting")
	}
	clk.Advance(30 * time.Second)
	eventually(t, "the third delivered", clk, 0, func() bool { return delivered() == 3 })
	if counter(o, "pd", "dropped") != 0 || counter(o, "pd", "retried") != 0 {
		t.Error("rate limiting dropped or failed something")
	}
}

func TestDroppedAfterRetriesSpent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		tweak func(*Options)
		want  int // attempts
	}{
		{"MaxAttempts", func(o *Options) { o.MaxAttempts = 4 }, 4},
		// Attempts at 0s, 1s, 3s; the next would be at 7s, after MaxAge.
		{"MaxAge", func(o *Options) { o.MaxAge = 5 * time.Second }, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
			pd.setDown(500)
			opts := options(clk)
			c.tweak(&opts)
			o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, opts)
			run(t, o)
			enqueue(t, o, firing("k"), "pd")
			// Move the clock to each next attempt once the last one is
			// recorded, so attempts happen exactly on time.
			for seen := 0; ; {
				eventually(t, "an attempt", clk, 0, func() bool { return one(t, st, "pd", "k", alerts.Firing).Attempts > seen })
				d := one(t, st, "pd", "k", alerts.Firing)
				if d.State != store.DeliveryPending {
					break
				}
				seen = d.Attempts
				clk.Advance(d.NextAttempt.Sub(clk.Now()))
			}
			d := one(t, st, "pd", "k", alerts.Firing)
			if d.Attempts != c.want || d.LastCode != 500 || !strings.Contains(d.LastError, fmt.Sprintf("gave up after %d attempts", c.want)) {
				t.Fatalf("dropped delivery %s", brief(d))
			}
			clk.Advance(time.Hour)
			settle()
			if requests, _, _ := pd.stats(); requests != c.want {
				t.Fatalf("%d requests, want %d", requests, c.want)
			}
			if counter(o, "pd", "dropped") != 1 || counter(o, "pd", "retried") != c.want-1 {
				t.Error("counters disagree")
			}
		})
	}
}

func TestEnqueueRefuses(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	bad := firing("k")
	bad.Severity = "page"
	if err := o.Enqueue(t.Context(), bad, []string{"pd"}, false); !errors.Is(err, alerts.ErrInvalid) {
		t.Errorf("invalid notification: %v", err)
	}
	if err := o.Enqueue(t.Context(), firing("k"), []string{"pd", "nope"}, false); err == nil || !strings.Contains(err.Error(), `unknown receiver "nope"`) {
		t.Errorf("unknown receiver: %v", err)
	}
	if err := o.Enqueue(t.Context(), firing("k"), nil, false); err == nil {
		t.Error("no receivers: no error")
	}
	if ds := stored(t, st, store.DeliveryQuery{}); len(ds) != 0 {
		t.Errorf("refused notifications were stored: %s", briefs(ds))
	}
	// A receiver named twice gets one delivery.
	enqueue(t, o, firing("k"), "pd", "pd")
	if ds := stored(t, st, store.DeliveryQuery{}); len(ds) != 1 {
		t.Errorf("%d deliveries, want 1", len(ds))
	}
}

func TestTestSendsFiringThenResolvedUnstored(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	if err := o.Test(t.Context(), "pd"); err != nil {
		t.Fatal(err)
	}
	_, _, acc := pd.stats()
	if len(acc) != 2 || acc[0].EventAction != "trigger" || acc[1].EventAction != "resolve" ||
		acc[0].DedupKey != "freshet-test-20260301T060000Z" || acc[1].DedupKey != acc[0].DedupKey ||
		!strings.Contains(acc[0].Payload.Summary, "test") {
		t.Fatalf("accepted %+v", acc)
	}
	if ds := stored(t, st, store.DeliveryQuery{}); len(ds) != 0 {
		t.Errorf("Test stored deliveries: %s", briefs(ds))
	}

	pd.fail(400, "", `{"status":"invalid event","errors":["'routing_key' is invalid"]}`)
	err := o.Test(t.Context(), "pd")
	var de *alerts.DeliveryError
	if alerts.Classify(err) != alerts.Rejected || !errors.As(err, &de) || de.StatusCode != 400 || !strings.Contains(err.Error(), "routing_key") {
		t.Errorf("a 400: %v", err)
	}
	pd.fail(429, "30", `{"status":"throttled"}`)
	if err := o.Test(t.Context(), "pd"); alerts.Classify(err) != alerts.Retryable || alerts.RetryAfter(err) != 30*time.Second {
		t.Errorf("a 429: %v", err)
	}
	if err := o.Test(t.Context(), "nope"); err == nil {
		t.Error("unknown receiver: no error")
	}
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	clk, st := newClock(), openStore(t, t.TempDir())
	o := New(st, nil, options(clk))
	run(t, o)
	eventually(t, "running", clk, 0, o.running.Load)
	if err := o.Run(t.Context()); err == nil {
		t.Fatal("a second Run: no error")
	}
}

// TestMetrics reads the exposition: counters by outcome, the histogram's
// counts, and the queue gauges under the fake clock.
func TestMetrics(t *testing.T) {
	t.Parallel()
	clk, pd, hook, st := newClock(), fakePagerDuty(t), fakeWebhook(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd), newWebhook(t, "hook", hook)}, options(clk))
	run(t, o)

	pd.fail(500, "", "boom")   // a: retried, then delivered
	hook.fail(400, "", "nope") // b: rejected
	enqueue(t, o, firing("a"), "pd")
	enqueue(t, o, firing("b"), "hook")
	if err := o.Enqueue(t.Context(), firing("c"), []string{"pd", "hook"}, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a retried", clk, 0, func() bool { return one(t, st, "pd", "a", alerts.Firing).Attempts == 1 })
	clk.Advance(time.Second)
	eventually(t, "a and b settled", clk, 0, func() bool {
		return len(stored(t, st, store.DeliveryQuery{States: []string{store.DeliveryDelivered, store.DeliveryRejected}})) == 2
	})
	pd.fail(503, "3600", "maintenance") // d: pending an hour
	enqueue(t, o, firing("d"), "pd")
	eventually(t, "d attempted", clk, 0, func() bool { return one(t, st, "pd", "d", alerts.Firing).Attempts == 1 })
	clk.Advance(90 * time.Second)

	want := `# HELP freshet_alert_deliveries_total Delivery attempts and enqueued deliveries by how they ended: delivered, rejected (never retried), retried (a retryable failure, tried again later), dropped (retries spent), silenced (recorded, not sent).
# TYPE freshet_alert_deliveries_total counter
freshet_alert_deliveries_total{outcome="delivered",receiver="hook"} 0
freshet_alert_deliveries_total{outcome="delivered",receiver="pd"} 1
freshet_alert_deliveries_total{outcome="dropped",receiver="hook"} 0
freshet_alert_deliveries_total{outcome="dropped",receiver="pd"} 0
freshet_alert_deliveries_total{outcome="rejected",receiver="hook"} 1
freshet_alert_deliveries_total{outcome="rejected",receiver="pd"} 0
freshet_alert_deliveries_total{outcome="retried",receiver="hook"} 0
freshet_alert_deliveries_total{outcome="retried",receiver="pd"} 2
freshet_alert_deliveries_total{outcome="silenced",receiver="hook"} 1
freshet_alert_deliveries_total{outcome="silenced",receiver="pd"} 1
# HELP freshet_alert_outbox_oldest_seconds Age of the oldest pending delivery (0 when none is pending).
# TYPE freshet_alert_outbox_oldest_seconds gauge
freshet_alert_outbox_oldest_seconds{receiver="hook"} 0
freshet_alert_outbox_oldest_seconds{receiver="pd"} 90
# HELP freshet_alert_outbox_pending Deliveries waiting to be sent (due, retrying, held behind an earlier one of their key, or rate limited).
# TYPE freshet_alert_outbox_pending gauge
freshet_alert_outbox_pending{receiver="hook"} 0
freshet_alert_outbox_pending{receiver="pd"} 1
`
	if got := exposition(t, o, "freshet_alert_deliveries_total", "freshet_alert_outbox_oldest_seconds", "freshet_alert_outbox_pending"); got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}

	// The histogram, through the text format and its parser.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(strings.NewReader(exposition(t, o)))
	if err != nil {
		t.Fatal(err)
	}
	h := parsed["freshet_alert_delivery_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("freshet_alert_delivery_seconds: %v", h)
	}
	counts := map[string]uint64{}
	for _, m := range h.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "receiver" {
				counts[lp.GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
		if m.GetHistogram().GetSampleSum() < 0 {
			t.Error("negative latency")
		}
	}
	if counts["pd"] != 3 || counts["hook"] != 1 {
		t.Errorf("attempts observed %v, want pd 3 (a twice, d once), hook 1", counts)
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	opts := Options{}
	opts.defaults()
	b := opts.Backoff
	b.Jitter = 0
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 10: 512 * time.Second, 11: 10 * time.Minute, 1000: 10 * time.Minute} {
		if got := b.Delay(failures, 0.99); got != want {
			t.Errorf("Delay(%d) = %s, want %s", failures, got, want)
		}
	}
	b.Jitter = DefaultJitter
	for _, rnd := range []float64{0, 0.5, 0.999} {
		if got := b.Delay(3, rnd); got > 4*time.Second || got < 2*time.Second {
			t.Errorf("Delay(3, %v) = %s, want within [2s, 4s]", rnd, got)
		}
	}
}

func TestRateBucket(t *testing.T) {
	t.Parallel()
	l := newLane(fakeName("r"), 4) // one every 15s
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if l.limit.take(t0) != 0 {
		t.Fatal("the first attempt waits")
	}
	if w := l.limit.take(t0.Add(5 * time.Second)); w != 10*time.Second {
		t.Fatalf("wait %s, want 10s", w)
	}
	if l.limit.take(t0.Add(15*time.Second)) != 0 {
		t.Fatal("no token after 15s")
	}
}

type fakeName string

func (f fakeName) Name() string                                    { return string(f) }
func (f fakeName) Send(context.Context, alerts.Notification) error { return nil }

// storedPending writes n pending deliveries to pd straight into the store,
// as an earlier process (or another writer) left them.
func storedPending(t *testing.T, st store.AlertStore, clk *fakeClock, prefix string, n int) {
	t.Helper()
	ds := make([]store.Delivery, n)
	for i := range ds {
		nf := firing(fmt.Sprintf("%s-%04d", prefix, i))
		raw, err := json.Marshal(nf)
		if err != nil {
			t.Fatal(err)
		}
		at := clk.Now().Add(time.Duration(i) * time.Millisecond)
		ds[i] = store.Delivery{ID: fmt.Sprintf("%s-%04d", prefix, i), Receiver: "pd", Key: nf.Key, Status: string(nf.Status),
			Notification: raw, State: store.DeliveryPending, NextAttempt: at, Created: at, Updated: at}
	}
	if err := st.PutDeliveries(t.Context(), ds); err != nil {
		t.Fatal(err)
	}
}

func pending(o *Outbox, receiver string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lanes[receiver].pending
}

// TestLoadsEveryPending: more pending deliveries than one read of the
// store's work list returns are all read on start.
func TestLoadsEveryPending(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	storedPending(t, st, clk, "old", store.MaxLimit+1)
	clk.Advance(time.Hour)
	opts := options(clk)
	opts.RatePerMinute = map[string]int{"pd": 1} // the clock stands still: one is sent
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, opts)
	run(t, o)
	eventually(t, "the first delivered", clk, 0, func() bool { _, _, acc := pd.stats(); return len(acc) == 1 })
	eventually(t, "recorded", clk, 0, func() bool { return pending(o, "pd") == store.MaxLimit })
	if _, _, acc := pd.stats(); acc[0].DedupKey != "old-0000" {
		t.Errorf("sent %s first, want the oldest", acc[0].DedupKey)
	}
}

// TestPollFindsForeignDeliveries: a due delivery another writer put in the
// store is found by the safety poll and sent.
func TestPollFindsForeignDeliveries(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, options(clk))
	run(t, o)
	// Once this is delivered, the start-up read of the store is over.
	enqueue(t, o, firing("first"), "pd")
	eventually(t, "the first delivered", clk, 0, inState(t, st, "pd", "first", alerts.Firing, store.DeliveryDelivered))
	storedPending(t, st, clk, "foreign", 1)
	eventually(t, "delivered", clk, 0, inState(t, st, "pd", "foreign-0000", alerts.Firing, store.DeliveryDelivered))
	settle()
	if requests, _, _ := pd.stats(); requests != 2 {
		t.Fatalf("%d requests, want 2", requests)
	}
}
