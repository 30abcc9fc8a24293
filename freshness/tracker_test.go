package freshness

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func mat(id string, minutes int) asset.Event {
	return asset.Event{ID: id, Kind: asset.KindMaterialization, Asset: "a", Time: at(minutes)}
}

func withMeta(e asset.Event, m asset.Metadata) asset.Event { e.Metadata = m; return e }

func times(s *AssetState) []int {
	var out []int
	for _, x := range s.Successes() {
		out = append(out, int(x.Time().Sub(t0)/time.Minute))
	}
	return out
}

func TestTrackerApply(t *testing.T) {
	t.Parallel()
	dt := at(-30)
	tests := []struct {
		name    string
		events  []asset.Event
		applied []bool
		check   func(t *testing.T, s *AssetState)
	}{
		{
			name:    "materialization with data_time, upstream and a float duration",
			events:  []asset.Event{{ID: "1", Kind: asset.KindMaterialization, Asset: "a", Time: at(10), DataTime: &dt, Upstream: []asset.Key{"u", "v"}, Metadata: asset.Metadata{DurationKey: asset.Float(90.5)}}},
			applied: []bool{true},
			check: func(t *testing.T, s *AssetState) {
				x, ok := s.Latest()
				if !ok {
					t.Fatal("no latest")
				}
				if got, ok := x.DataTime(); !ok || !got.Equal(dt) {
					t.Errorf("data time %v %v, want %v", got, ok, dt)
				}
				if !slices.Equal(x.Upstream(), []asset.Key{"u", "v"}) {
					t.Errorf("upstream %v", x.Upstream())
				}
				if x.Duration() != 90500*time.Millisecond || s.RunEstimate() != 90500*time.Millisecond {
					t.Errorf("duration %v estimate %v", x.Duration(), s.RunEstimate())
				}
				if x.Observation() {
					t.Error("observation")
				}
			},
		},
		{
			name:    "int duration counts; text, negative, NaN and absurd durations are ignored",
			events:  []asset.Event{withMeta(mat("1", 1), asset.Metadata{DurationKey: asset.Int(60)}), withMeta(mat("2", 2), asset.Metadata{DurationKey: asset.Text("60")}), withMeta(mat("3", 3), asset.Metadata{DurationKey: asset.Float(-1)}), withMeta(mat("4", 4), asset.Metadata{DurationKey: asset.Float(math.NaN())}), withMeta(mat("5", 5), asset.Metadata{DurationKey: asset.Float(1e12)})},
			applied: []bool{true, true, true, true, true},
			check: func(t *testing.T, s *AssetState) {
				if got := s.RunDurations(); !slices.Equal(got, []time.Duration{time.Minute}) {
					t.Errorf("durations %v", got)
				}
			},
		},
		{
			name:    "an empty upstream list means the graph's parents",
			events:  []asset.Event{{Kind: asset.KindMaterialization, Asset: "a", Time: at(1), Upstream: []asset.Key{}}},
			applied: []bool{true},
			check: func(t *testing.T, s *AssetState) {
				if x, _ := s.Latest(); x.Upstream() != nil {
					t.Errorf("upstream %v, want nil", x.Upstream())
				}
			},
		},
		{
			name:    "observation is a success without duration or upstream",
			events:  []asset.Event{{ID: "o", Kind: asset.KindObservation, Asset: "a", Time: at(5), Upstream: []asset.Key{"u"}, Metadata: asset.Metadata{DurationKey: asset.Int(60)}}},
			applied: []bool{true},
			check: func(t *testing.T, s *AssetState) {
				x, _ := s.Latest()
				if !x.Observation() || x.Duration() != 0 || x.Upstream() != nil {
					t.Errorf("got %+v", x)
				}
				if !s.LastObservation().Equal(at(5)) {
					t.Errorf("last observation %v", s.LastObservation())
				}
			},
		},
		{
			name:    "failures move the last failure forward only and keep the successes",
			events:  []asset.Event{mat("m", 1), {Kind: asset.KindMaterializationFailed, Asset: "a", Time: at(10)}, {Kind: asset.KindMaterializationFailed, Asset: "a", Time: at(5)}},
			applied: []bool{true, true, false},
			check: func(t *testing.T, s *AssetState) {
				if !s.LastFailure().Equal(at(10)) || len(s.Successes()) != 1 {
					t.Errorf("last failure %v, successes %d", s.LastFailure(), len(s.Successes()))
				}
			},
		},
		{
			name:    "other kinds move only the first-seen time; incomplete events change nothing",
			events:  []asset.Event{{Kind: asset.KindCheckResult, Asset: "a", Time: at(1)}, {Kind: asset.KindRunStarted, Asset: "a", Time: at(1)}, {Kind: asset.KindMaterialization, Asset: "a"}, {Kind: asset.KindMaterialization, Time: at(1)}},
			applied: []bool{true, false, false, false},
		},
		{
			name:    "a replayed id is applied once",
			events:  []asset.Event{mat("x", 1), mat("x", 1), mat("x", 7)},
			applied: []bool{true, false, false},
			check: func(t *testing.T, s *AssetState) {
				if got := times(s); !slices.Equal(got, []int{1}) {
					t.Errorf("history %v", got)
				}
			},
		},
		{
			name:    "out-of-order events are kept in time order",
			events:  []asset.Event{mat("1", 30), mat("2", 10), mat("3", 20), mat("4", 40)},
			applied: []bool{true, true, true, true},
			check: func(t *testing.T, s *AssetState) {
				if got := times(s); !slices.Equal(got, []int{10, 20, 30, 40}) {
					t.Errorf("history %v", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := NewTracker()
			for i, e := range tc.events {
				if got := tr.Apply(e); got != tc.applied[i] {
					t.Errorf("Apply(event %d) = %v, want %v", i, got, tc.applied[i])
				}
			}
			if tc.check != nil {
				s := tr.State("a")
				if s == nil {
					t.Fatal("no state")
				}
				tc.check(t, s)
			}
		})
	}
}

func TestTrackerHistoryIsBounded(t *testing.T) {
	t.Parallel()
	tr := NewTracker()
	for i := range HistoryLen + 4 {
		if !tr.Apply(mat("", 10*(i+1))) {
			t.Fatalf("event %d not applied", i)
		}
	}
	s := tr.State("a")
	got := times(s)
	if len(got) != HistoryLen || got[0] != 50 || got[len(got)-1] != 10*(HistoryLen+4) {
		t.Fatalf("history %v: want the last %d", got, HistoryLen)
	}
	// Older than everything kept: the store answers for it.
	tr.Apply(mat("", 1))
	if got := times(s); got[0] != 50 || s.Complete() {
		t.Errorf("an event older than a full history was kept (%v) or the window claims completeness", got)
	}
	// Inside the window: kept, the oldest goes.
	if !tr.Apply(mat("", 55)) {
		t.Fatal("an event inside the window was not applied")
	}
	if got := times(s); len(got) != HistoryLen || got[0] != 55 {
		t.Errorf("history %v", got)
	}
}

func TestRunEstimateIsTheNearestRankMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		durations []float64
		want      time.Duration
	}{
		{nil, 0},
		{[]float64{60}, time.Minute},
		{[]float64{600, 600, 5400}, 10 * time.Minute},
		{[]float64{40, 10, 30, 20}, 20 * time.Second},
		{[]float64{10, 20, 30, 40, 50}, 30 * time.Second},
	}
	for _, tc := range tests {
		tr := NewTracker()
		for i, d := range tc.durations {
			tr.Apply(withMeta(mat("", i), asset.Metadata{DurationKey: asset.Float(d)}))
		}
		tr.Apply(mat("", 100)) // no duration: does not count
		if got := tr.State("a").RunEstimate(); got != tc.want {
			t.Errorf("durations %v: estimate %v, want %v", tc.durations, got, tc.want)
		}
	}
}

func TestTrackerSetMaterializable(t *testing.T) {
	t.Parallel()
	tr := NewTracker()
	if !tr.SetMaterializable("a", true) || tr.SetMaterializable("a", true) || !tr.State("a").Materializable() {
		t.Error("first set should change, second should not")
	}
	if !tr.SetMaterializable("a", false) || tr.State("a").Materializable() {
		t.Error("unset should change")
	}
	if tr.Len() != 1 || tr.State("b") != nil {
		t.Errorf("len %d", tr.Len())
	}
}

// TestTrackerKeepsFirstMaterialization: a window that held the asset's
// whole history still knows its first materialization once it is full and
// loses its oldest entries, so an UNKNOWN asset's grace needs no store
// query; a later-arriving earlier materialization moves it back. A window
// that was never complete does not claim to know.
func TestTrackerKeepsFirstMaterialization(t *testing.T) {
	t.Parallel()
	obs := func(minutes int) asset.Event {
		dt := at(minutes)
		return asset.Event{Kind: asset.KindObservation, Asset: "a", Time: at(minutes), DataTime: &dt}
	}
	for _, c := range []struct {
		name   string
		events []asset.Event
		want   int // minutes
	}{
		{"in order", nil, 10},
		{"observations first", []asset.Event{obs(2), obs(3)}, 10},
		{"an older one out of the window's order", []asset.Event{mat("", 5)}, 5},
	} {
		tr := NewTracker()
		for _, e := range c.events[:min(len(c.events), 2)] {
			if e.Kind == asset.KindObservation {
				tr.Apply(e)
			}
		}
		for i := range HistoryLen + 4 {
			tr.Apply(mat("", 10*(i+1)))
		}
		for _, e := range c.events {
			if e.Kind == asset.KindMaterialization {
				tr.Apply(e)
			}
		}
		s := tr.State("a")
		if s.Complete() {
			t.Fatalf("%s: the window claims completeness", c.name)
		}
		got, ok := s.firstMaterialization()
		if !ok || got != at(c.want).UnixNano() {
			t.Errorf("%s: first materialization %v (known %v), want minute %d", c.name, time.Unix(0, got).UTC(), ok, c.want)
		}
	}
	// Seeded truncated: memory never held the whole history.
	tr := NewTracker()
	tr.Apply(mat("", 100))
	tr.Truncate("a", at(100))
	for i := range HistoryLen + 4 {
		tr.Apply(mat("", 100+10*(i+1)))
	}
	if got, ok := tr.State("a").firstMaterialization(); ok {
		t.Errorf("a truncated window claims the first materialization %v", time.Unix(0, got).UTC())
	}
}
