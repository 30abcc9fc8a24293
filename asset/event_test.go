package asset_test

import (
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
