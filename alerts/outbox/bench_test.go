package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/receiver"
	"github.com/freshet-dev/freshet/alerts/receivertest"
	"github.com/freshet-dev/freshet/store/embedded"
)

// BenchmarkEnqueueToDelivery measures the time from Enqueue (which returns
// once the embedded store has fsynced the delivery) to the local Events API
// endpoint receiving the trigger, sent by the outbox's PagerDuty sender;
// against the baseline of a bare go-pagerduty ManageEventWithContext call
// with a prebuilt event to the same endpoint, timed to the same moment.
// Both report ns/arrived, the mean time to the server's receipt; the
// outbox also reports ns/enqueued, the part of it Enqueue takes (the
// durable write). Its ns/op leaves out recording the answer, which happens
// after the receipt and is waited for with the timer stopped.
func BenchmarkEnqueueToDelivery(b *testing.B) {
	arrived := make(chan time.Time, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			DedupKey string `json:"dedup_key"`
		}
		err := json.NewDecoder(r.Body).Decode(&e)
		at := time.Now()
		io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, e.DedupKey)
		arrived <- at
	}))
	defer srv.Close()
	ctx := context.Background()
	transport := func() *http.Client {
		return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}

	b.Run("outbox", func(b *testing.B) {
		st, err := embedded.Open(ctx, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		p, err := receiver.NewPagerDuty(receiver.PagerDutyConfig{Name: "pd", RoutingKeyEnv: routingKeyEnv,
			Endpoint: srv.URL, HTTPClient: transport(), Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		o := New(st, []alerts.Receiver{p}, Options{Logger: quiet()})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- o.Run(rctx) }()
		defer func() { cancel(); <-done }()
		l := o.lanes["pd"]
		settled := func() bool {
			o.mu.Lock()
			defer o.mu.Unlock()
			return l.pending == 0
		}
		var total, enqueued time.Duration
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			n := receivertest.Sample(fmt.Sprint("bench-", i))
			start := time.Now()
			if err := o.Enqueue(ctx, n, []string{"pd"}, false); err != nil {
				b.Fatal(err)
			}
			enqueued += time.Since(start)
			total += (<-arrived).Sub(start)
			b.StopTimer()
			for !settled() {
				time.Sleep(20 * time.Microsecond)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/arrived")
		b.ReportMetric(float64(enqueued.Nanoseconds())/float64(b.N), "ns/enqueued")
	})

	b.Run("go-pagerduty", func(b *testing.B) {
		ref, err := receiver.NewPagerDuty(receiver.PagerDutyConfig{RoutingKeyEnv: routingKeyEnv, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		n := receivertest.Sample("bench")
		event := ref.Event(&n) // the same JSON, built once
		c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(srv.URL))
		c.HTTPClient = transport()
		var total time.Duration
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if _, err := c.ManageEventWithContext(ctx, event); err != nil {
				b.Fatal(err)
			}
			total += (<-arrived).Sub(start)
		}
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/arrived")
	})
}
