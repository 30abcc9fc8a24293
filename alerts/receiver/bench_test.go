package receiver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/freshet-dev/freshet/alerts/receivertest"
)

// BenchmarkPagerDutyTrigger measures one trigger through the receiver
// (validate, build the event, capture the answer, classify) against the
// baseline of a bare go-pagerduty call with a prebuilt event, both to the
// same local Events API endpoint over keep-alive connections.
func BenchmarkPagerDutyTrigger(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"orders-fresh:raw/orders"}`)
	}))
	defer srv.Close()
	n := receivertest.Sample("orders-fresh:raw/orders")
	ctx := context.Background()

	b.Run("receiver", func(b *testing.B) {
		p, err := NewPagerDuty(PagerDutyConfig{RoutingKeyEnv: routingKeyEnv, Endpoint: srv.URL,
			HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := p.Send(ctx, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-pagerduty", func(b *testing.B) {
		ref, err := NewPagerDuty(PagerDutyConfig{RoutingKeyEnv: routingKeyEnv, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		event := ref.Event(&n) // the same JSON, built once
		c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(srv.URL))
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.ManageEventWithContext(ctx, event); err != nil {
				b.Fatal(err)
			}
		}
	})
}
