package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMaxEventsPerRequest(t *testing.T) {
	t.Parallel()
	ev := `{"kind":"materialization","asset":"a"}`
	id := func() string { return "x" }
	tests := []struct {
		name, ctype, body string
		ok                bool
	}{
		{"ndjson at the limit, blank lines aside", "application/x-ndjson", strings.Repeat(ev+"\n\n", 3), true},
		{"ndjson over", "application/x-ndjson", strings.Repeat(ev+"\n", 4), false},
		{"array at the limit", "application/json", "[" + strings.Repeat(ev+",", 2) + ev + "]", true},
		{"array over", "application/json", "[" + strings.Repeat(ev+",", 3) + ev + "]", false},
	}
	for _, tc := range tests {
		evs, err := DecodeMax(strings.NewReader(tc.body), tc.ctype, time.Now(), id, 3)
		var verr *ValidationError
		switch {
		case tc.ok && (err != nil || len(evs) != 3):
			t.Errorf("%s: %d events, %v", tc.name, len(evs), err)
		case !tc.ok && (!errors.As(err, &verr) || verr.Code != "too_many_events" || !strings.Contains(verr.Message, "at most 3 events")):
			t.Errorf("%s: %v, want too_many_events", tc.name, err)
		}
	}
}
