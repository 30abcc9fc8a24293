// Package receivertest is the conformance suite every alerts.Receiver
// passes: one contract, run against each receiver pointed at a fake of the
// system it talks to (a local server that speaks the real wire protocol).
//
// The contract: a firing and a resolved notification with one Key both
// arrive, in order, with that Key; an invalid notification is rejected and
// nothing is sent; an answer of 400 is rejected with its body kept, 429 is
// retryable with the Retry-After wait, 503 is retryable; an unreachable
// system and a cancelled context are retryable; concurrent Sends all arrive.
package receivertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/asset"
)

// Delivery is what a fake saw of one notification.
type Delivery struct {
	Key    string
	Status alerts.Status
}

// Target is one receiver pointed at a fresh fake.
type Target struct {
	Receiver alerts.Receiver
	// Received waits (up to a few seconds) until the fake has seen at
	// least n notifications and returns all it has seen, in order.
	Received func(t testing.TB, n int) []Delivery
	// Fail makes the fake answer the next delivery with status, the
	// Retry-After header retryAfter (if not empty) and body. Required when
	// the harness says the protocol Answers.
	Fail func(status int, retryAfter, body string)
}

// Harness builds targets for one receiver.
type Harness struct {
	// New returns a receiver pointed at a fresh fake; it is called once per
	// subtest, which may run in parallel.
	New func(t *testing.T) Target
	// Answers is true when the protocol answers each delivery (HTTP), so
	// the suite checks how answers are classified; false for DogStatsD,
	// whose datagrams get none.
	Answers bool
	// Unreachable returns a receiver pointed where nothing listens, or is
	// nil when the transport cannot tell (UDP): then that case is not run.
	Unreachable func(t *testing.T) alerts.Receiver
}

// Sample returns a complete firing notification with the given key.
func Sample(key string) alerts.Notification {
	start := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	return alerts.Notification{
		Key:       key,
		Status:    alerts.Firing,
		Severity:  alerts.Critical,
		Summary:   "raw/orders is 2h15m stale; 3 downstream assets impacted",
		RootCause: asset.MustParseKey("raw/orders"),
		Asset:     asset.MustParseKey("marts/revenue"),
		Impacted:  []asset.Key{"staging/orders", "marts/revenue", "marts/daily_kpis"},
		Group:     "sales",
		Rule:      "orders-fresh",
		Owners:    []string{"team:data-eng", "ana@example.com"},
		Lag:       2*time.Hour + 15*time.Minute,
		Deadline:  start.Add(-15 * time.Minute),
		Links:     map[string]string{"asset": "http://freshet.example/assets/raw%2Forders", "runbook": "https://wiki.example/runbooks/orders"},
		StartsAt:  start,
		Details:   map[string]string{"policy": "max_lag 2h", "reason": "no materialization since 04:00"},
	}
}

// Resolve returns n resolved at end.
func Resolve(n alerts.Notification, end time.Time) alerts.Notification {
	n.Status = alerts.Resolved
	n.EndsAt = end
	return n
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := t.Context()
	t.Run("Name", func(t *testing.T) {
		t.Parallel()
		if h.New(t).Receiver.Name() == "" {
			t.Fatal("empty Name")
		}
	})
	t.Run("FiringThenResolved", func(t *testing.T) {
		t.Parallel()
		tg := h.New(t)
		n := Sample("orders-fresh:raw/orders")
		mustDeliver(t, tg.Receiver.Send(ctx, n))
		mustDeliver(t, tg.Receiver.Send(ctx, Resolve(n, n.StartsAt.Add(3*time.Hour))))
		got := tg.Received(t, 2)
		want := []Delivery{{n.Key, alerts.Firing}, {n.Key, alerts.Resolved}}
		if !slices.Equal(got, want) {
			t.Fatalf("received %v, want %v", got, want)
		}
	})
	t.Run("InvalidIsRejectedUnsent", func(t *testing.T) {
		t.Parallel()
		tg := h.New(t)
		for _, bad := range []func(*alerts.Notification){
			func(n *alerts.Notification) { n.Key = "" },
			func(n *alerts.Notification) { n.Severity = "page" },
			func(n *alerts.Notification) { n.Status = "open" },
			func(n *alerts.Notification) { n.Summary = "" },
		} {
			n := Sample("invalid")
			bad(&n)
			err := tg.Receiver.Send(ctx, n)
			if alerts.Classify(err) != alerts.Rejected || !errors.Is(err, alerts.ErrInvalid) {
				t.Fatalf("invalid notification: got %v (%s), want rejected ErrInvalid", err, alerts.Classify(err))
			}
		}
		mustDeliver(t, tg.Receiver.Send(ctx, Sample("valid")))
		if got := tg.Received(t, 1); len(got) != 1 || got[0].Key != "valid" {
			t.Fatalf("received %v, want only the valid notification", got)
		}
	})
	answers := []struct {
		name       string
		status     int
		retryAfter string        // the header, as written
		dateIn     time.Duration // instead: an HTTP date this far ahead, written at answer time
		body       string
		outcome    alerts.Outcome
		wait       time.Duration
	}{
		{"400IsRejectedWithBody", 400, "", 0, `{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is invalid"]}`, alerts.Rejected, 0},
		{"404IsRejected", 404, "", 0, "no such route", alerts.Rejected, 0},
		{"429IsRetryableAfter", 429, "7", 0, `{"status":"throttled"}`, alerts.Retryable, 7 * time.Second},
		{"503IsRetryable", 503, "", 0, "upstream unavailable", alerts.Retryable, 0},
		{"500WithRetryAfterDate", 500, "", 90 * time.Second, "boom", alerts.Retryable, 90 * time.Second},
	}
	for _, a := range answers {
		if !h.Answers {
			break // nothing to classify
		}
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			tg := h.New(t)
			if tg.Fail == nil {
				t.Fatal("the harness says the protocol answers, but its target has no Fail")
			}
			retryAfter, written := a.retryAfter, time.Now()
			if a.dateIn > 0 {
				retryAfter = written.Add(a.dateIn).UTC().Format(http.TimeFormat)
			}
			tg.Fail(a.status, retryAfter, a.body)
			err := tg.Receiver.Send(ctx, Sample("k"))
			var de *alerts.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *alerts.DeliveryError", err)
			}
			if de.Outcome != a.outcome || de.StatusCode != a.status {
				t.Fatalf("got %s HTTP %d (%v), want %s HTTP %d", de.Outcome, de.StatusCode, err, a.outcome, a.status)
			}
			if de.Body != a.body {
				t.Fatalf("body %q, want %q", de.Body, a.body)
			}
			// A date has whole seconds, and time passed since it was
			// written: the wait may be that much shorter, never longer.
			slack := time.Duration(0)
			if a.dateIn > 0 {
				slack = time.Since(written) + time.Second
			}
			if got := alerts.RetryAfter(err); got > a.wait || got < a.wait-slack {
				t.Fatalf("RetryAfter %s, want %s (less at most %s)", got, a.wait, slack)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(a.status)) {
				t.Fatalf("error %q does not name the status", err)
			}
			// The fake answers normally again.
			mustDeliver(t, tg.Receiver.Send(ctx, Sample("after")))
		})
	}
	if h.Unreachable != nil {
		t.Run("UnreachableIsRetryable", func(t *testing.T) {
			t.Parallel()
			err := h.Unreachable(t).Send(ctx, Sample("k"))
			if err == nil || alerts.Classify(err) != alerts.Retryable {
				t.Fatalf("got %v, want retryable", err)
			}
		})
	}
	t.Run("CancelledIsNotDelivered", func(t *testing.T) {
		t.Parallel()
		tg := h.New(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := tg.Receiver.Send(cctx, Sample("k"))
		if err == nil || alerts.Classify(err) != alerts.Retryable || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want retryable context.Canceled", err)
		}
	})
	t.Run("ConcurrentSends", func(t *testing.T) {
		t.Parallel()
		tg := h.New(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = tg.Receiver.Send(ctx, Sample(fmt.Sprintf("key-%d", i))) })
		}
		wg.Wait()
		for _, err := range errs {
			mustDeliver(t, err)
		}
		var keys []string
		for _, d := range tg.Received(t, n) {
			keys = append(keys, d.Key)
		}
		slices.Sort(keys)
		if len(keys) != n || keys[0] != "key-0" || keys[n-1] != fmt.Sprintf("key-%d", n-1) || len(slices.Compact(keys)) != n {
			t.Fatalf("received keys %v, want key-0..key-%d once each", keys, n-1)
		}
	})
}

func mustDeliver(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("send: %v (%s)", err, alerts.Classify(err))
	}
}
