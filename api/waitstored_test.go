package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/app"
)

// TestWaitStored: POST /api/v1/events?wait=stored answers once the store
// has the events, so the history read right after holds every one of
// them (read-your-writes); a wait other than "stored" is a 400 naming it.
func TestWaitStored(t *testing.T) {
	t.Parallel()
	base := serverWith(t, func(*app.Config) {})
	for round := range 5 {
		var body strings.Builder
		for i := range 50 {
			fmt.Fprintf(&body, `{"id":"r%d-%d","kind":"observation","asset":"ryw/t%d"}`+"\n", round, i, i%3)
		}
		r := post(t, base+"/api/v1/events?wait=stored", "application/x-ndjson", body.String())
		if r.status != http.StatusAccepted || r.json(t)["stored"] != true {
			t.Fatalf("POST ?wait=stored = %d %s", r.status, r.body)
		}
		got := get(t, base+"/api/v1/events?kind=observation&limit=1000").json(t)
		if events, _ := got["events"].([]any); len(events) != 50*(round+1) {
			t.Fatalf("round %d: history holds %d events right after ?wait=stored, want %d", round, len(events), 50*(round+1))
		}
	}
	for _, wait := range []string{"durable", "true", "Stored"} {
		r := post(t, base+"/api/v1/events?wait="+wait, "application/json", `{"kind":"observation","asset":"ryw/x"}`)
		if code, field, _ := errorOf(t, r); r.status != http.StatusBadRequest || field != "wait" {
			t.Errorf("wait=%s: %d %s %s, want 400 naming wait", wait, r.status, code, field)
		}
	}
}
