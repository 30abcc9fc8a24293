package asset_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func TestNewEventID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 1000; i++ {
		id := asset.NewEventID()
		if seen[id] || len(id) != 36 {
			t.Fatalf("id %q repeated or malformed", id)
		}
		if id < prev {
			t.Fatalf("UUIDv7 ids should sort by time: %s < %s", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestLater(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		name    string
		a, b    asset.Event
		aAfterB bool
	}{
		{"later time", asset.Event{ID: "a", Time: t0.Add(1)}, asset.Event{ID: "b", Time: t0}, true},
		{"earlier time", asset.Event{ID: "z", Time: t0}, asset.Event{ID: "a", Time: t0.Add(1)}, false},
		{"tie, greater id", asset.Event{ID: "b", Time: t0}, asset.Event{ID: "a", Time: t0}, true},
		{"tie, smaller id", asset.Event{ID: "a", Time: t0}, asset.Event{ID: "b", Time: t0}, false},
		{"same event", asset.Event{ID: "a", Time: t0}, asset.Event{ID: "a", Time: t0.In(time.FixedZone("x", 3600))}, false},
	} {
		if got := c.a.After(&c.b); got != c.aAfterB {
			t.Errorf("%s: After = %v, want %v", c.name, got, c.aAfterB)
		}
	}
}

// TestDurationsInJSONAreStrings: every duration a spec carries is written
// as a string people can read; nanoseconds from older stored specs still
// read back.
func TestDurationsInJSONAreStrings(t *testing.T) {
	t.Parallel()
	s := asset.Spec{Key: "m", Freshness: &asset.FreshnessPolicy{MaxLag: 2 * time.Hour, WarnAfter: 90 * time.Minute},
		Materialize: &asset.MaterializeSpec{Argv: []string{"make"}, Timeout: 30 * time.Minute, Retries: 2}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"timeout":"30m"`, `"max_lag":"2h"`, `"warn_after":"1h30m"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back asset.Spec
	if err := json.Unmarshal(b, &back); err != nil || back.Materialize.Timeout != 30*time.Minute || back.Materialize.Retries != 2 {
		t.Errorf("round trip = %+v, %v", back.Materialize, err)
	}
	var old asset.MaterializeSpec
	if err := json.Unmarshal([]byte(`{"argv":["make"],"timeout":1800000000000}`), &old); err != nil || old.Timeout != 30*time.Minute {
		t.Errorf("nanoseconds = %+v, %v", old, err)
	}
	cron, err := json.Marshal(asset.FreshnessPolicy{Cron: "0 7 * * *"})
	if err != nil || strings.Contains(string(cron), "max_lag") {
		t.Errorf("a cron policy without max_lag writes %s (%v)", cron, err)
	}
}
