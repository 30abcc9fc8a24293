package catalog

import (
	"maps"
	"testing"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// TestCountsFollowTheStore: counts are the store's plus what is pending,
// whatever mix of new events, retries, crash replays and dead letters a
// batch holds; once every batch is through Stored they equal the store's.
func TestCountsFollowTheStore(t *testing.T) {
	t.Parallel()
	mat := func(id string) asset.Event { return ev(id, asset.KindMaterialization, "a", 1) }
	obs := func(id string) asset.Event { return ev(id, asset.KindObservation, "a", 2) }
	type step struct {
		apply  []asset.Event                      // acknowledged (catalog.Apply)
		stored []asset.Event                      // the batch the writer stored
		added  []asset.Event                      // what the store said was new
		forget map[asset.Key]map[asset.Kind]int64 // what retention removed (catalog.Forget)
		want   map[asset.Kind]int64
	}
	M, O := asset.KindMaterialization, asset.KindObservation
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"new events count once, pending then stored", []step{
			{apply: []asset.Event{mat("n1"), obs("n2")}, want: map[asset.Kind]int64{M: 3, O: 1}},
			{stored: []asset.Event{mat("n1"), obs("n2")}, added: []asset.Event{mat("n1"), obs("n2")}, want: map[asset.Kind]int64{M: 3, O: 1}},
		}},
		{"a retry while pending is not counted", []step{
			{apply: []asset.Event{mat("r1"), mat("r1")}, want: map[asset.Kind]int64{M: 3}},
			{apply: []asset.Event{mat("r1")}, want: map[asset.Kind]int64{M: 3}},
			{stored: []asset.Event{mat("r1"), mat("r1"), mat("r1")}, added: []asset.Event{mat("r1")}, want: map[asset.Kind]int64{M: 3}},
		}},
		{"a crash replay of stored events counts zero", []step{
			// s1 and s2 reached the store before the crash (they are in
			// the loaded counts); the WAL replays them.
			{apply: []asset.Event{mat("s1"), mat("s2")}, want: map[asset.Kind]int64{M: 4}},
			{stored: []asset.Event{mat("s1"), mat("s2")}, added: nil, want: map[asset.Kind]int64{M: 2}},
		}},
		{"a retry of a stored id is pending, then gone", []step{
			{apply: []asset.Event{mat("x")}, want: map[asset.Kind]int64{M: 3}},
			{stored: []asset.Event{mat("x")}, added: []asset.Event{mat("x")}, want: map[asset.Kind]int64{M: 3}},
			{apply: []asset.Event{mat("x")}, want: map[asset.Kind]int64{M: 4}},
			{stored: []asset.Event{mat("x")}, added: nil, want: map[asset.Kind]int64{M: 3}},
		}},
		{"a dead letter leaves the count", []step{
			{apply: []asset.Event{mat("p"), mat("q")}, want: map[asset.Kind]int64{M: 4}},
			{stored: []asset.Event{mat("p"), mat("q")}, added: []asset.Event{mat("q")}, want: map[asset.Kind]int64{M: 3}},
		}},
		{"retention lowers the stored part, whatever is pending", []step{
			{apply: []asset.Event{mat("n1")}, want: map[asset.Kind]int64{M: 3}},
			{forget: map[asset.Key]map[asset.Kind]int64{"a": {M: 1}, "gone": {M: 5}}, want: map[asset.Kind]int64{M: 2}},
			{stored: []asset.Event{mat("n1")}, added: []asset.Event{mat("n1")}, want: map[asset.Kind]int64{M: 2}},
			{forget: map[asset.Key]map[asset.Kind]int64{"a": {M: 9, O: 1}}, want: map[asset.Kind]int64{}},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cat := New()
			cat.Load(nil, []store.Summary{{Asset: "a", Counts: map[asset.Kind]int64{M: 2}}}, nil)
			for i, s := range c.steps {
				if s.apply != nil {
					cat.Apply(s.apply)
				}
				if s.stored != nil {
					cat.Stored(s.stored, s.added)
				}
				if s.forget != nil {
					cat.Forget(s.forget)
				}
				got, _ := cat.Get("a")
				if !maps.Equal(got.Counts, s.want) {
					t.Fatalf("step %d: counts = %v, want %v", i, got.Counts, s.want)
				}
			}
		})
	}
}
