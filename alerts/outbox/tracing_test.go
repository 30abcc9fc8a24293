package outbox

import (
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/store"
)

// TestDeliverySpans: each attempt is an alert.deliver span that says
// which receiver, key and attempt, and how it went.
func TestDeliverySpans(t *testing.T) {
	t.Parallel()
	clk, pd, st := newClock(), fakePagerDuty(t), openStore(t, t.TempDir())
	rec := tracetest.NewSpanRecorder()
	opts := options(clk)
	opts.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	o := New(st, []alerts.Receiver{newPagerDuty(t, "pd", pd)}, opts)
	run(t, o)
	pd.fail(400, "", `{"status":"invalid event"}`)
	enqueue(t, o, firing("refused"), "pd")
	eventually(t, "rejected", clk, 0, inState(t, st, "pd", "refused", alerts.Firing, store.DeliveryRejected))
	enqueue(t, o, firing("taken"), "pd")
	eventually(t, "delivered", clk, 0, inState(t, st, "pd", "taken", alerts.Firing, store.DeliveryDelivered))

	var got []string
	for _, s := range rec.Ended() {
		if s.Name() != "alert.deliver" {
			continue
		}
		a := map[string]string{}
		for _, kv := range s.Attributes() {
			a[string(kv.Key)] = kv.Value.String()
		}
		got = append(got, a["freshet.alert.receiver"]+" "+a["freshet.alert.key"]+" "+a["freshet.alert.attempt"]+" "+
			a["freshet.alert.outcome"]+" "+a["http.response.status_code"]+" "+s.Status().Code.String())
	}
	want := "pd refused 1 rejected 400 Error|pd taken 1 delivered  Unset"
	if strings.Join(got, "|") != want {
		t.Errorf("spans:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}
