package api

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

type fakeSet struct{ n int }

func (f *fakeSet) Len() int                             { return f.n }
func (f *fakeSet) Unknown(ev []asset.Event) []asset.Key { return nil }

func keys(n int) []asset.Key {
	out := make([]asset.Key, n)
	for i := range out {
		out[i] = asset.Key("k/" + string(rune('a'+i%26)))
	}
	return out
}

// TestAssetGate: the rate refills with time, a failed request gives its
// share back, and admitted requests count against the cap until their
// assets are in the catalog.
func TestAssetGate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	set := &fakeSet{n: 70}
	g := newAssetGate(set, 100, 10, func() time.Time { return now })
	status := func(err error) int {
		var e *Error
		if !errors.As(err, &e) {
			return 0
		}
		return e.Status
	}
	steps := []struct {
		name     string
		advance  time.Duration
		n        int
		fail     bool // the ingester fails: the rate is not charged
		want     int  // 0: admitted
		inCatalg bool // the assets reach the catalog
	}{
		{"a burst of a minute's worth", 0, 10, false, 0, true}, // 80
		{"then nothing", 0, 1, false, http.StatusTooManyRequests, false},
		{"6s refill one", 6 * time.Second, 1, true, 0, false},
		{"a failure gave it back", 0, 1, false, 0, true}, // 81
		{"more than a minute's worth", time.Hour, 11, false, http.StatusTooManyRequests, false},
		{"a minute's worth", 0, 10, false, 0, true}, // 91
		{"the cap counts the catalog", time.Hour, 10, false, http.StatusForbidden, false},
		{"up to the cap", 0, 9, false, 0, true}, // 100
		{"at the cap", time.Hour, 1, false, http.StatusForbidden, false},
		{"nothing new always passes", 0, 0, false, 0, false},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		release, err := g.admit(keys(s.n))
		if got := status(err); got != s.want {
			t.Fatalf("%s: status %d (%v), want %d", s.name, got, err, s.want)
		}
		if err != nil {
			continue
		}
		if s.inCatalg {
			set.n += s.n
		}
		release(s.fail)
	}
	if g.reserved != 0 {
		t.Errorf("reserved = %d after every request ended", g.reserved)
	}
	// While admitted requests are in flight their assets count.
	g = newAssetGate(&fakeSet{n: 0}, 2, -1, time.Now)
	r1, err := g.admit(keys(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.admit(keys(1)); status(err) != http.StatusForbidden {
		t.Errorf("in-flight reservations not counted: %v", err)
	}
	r1(true)
	if r2, err := g.admit(keys(1)); err != nil {
		t.Errorf("a failed request still holds its reservation: %v", err)
	} else {
		r2(false)
	}
	if newAssetGate(&fakeSet{}, -1, -1, time.Now) != nil || newAssetGate(nil, 0, 0, time.Now) != nil {
		t.Error("a gate with no limits (or no catalog) should be nil")
	}
}
