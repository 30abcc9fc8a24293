package freshness

import (
	"fmt"
	"slices"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

// TestApplyChangesReportsEachAssetOnce: ApplyChanges leaves the tracker as
// ApplyChange one event at a time does, reports the same assets, each once
// per call, and reports again in the next call.
func TestApplyChangesReportsEachAssetOnce(t *testing.T) {
	t.Parallel()
	ev := func(id string, kind asset.Kind, k asset.Key, min int, run string) asset.Event {
		return asset.Event{ID: id, Kind: kind, Asset: k, Time: at(min), RunID: run}
	}
	mat, fail := asset.KindMaterialization, asset.KindMaterializationFailed
	started, succeeded := asset.KindRunStarted, asset.KindRunSucceeded
	tests := []struct {
		name   string
		rounds [][]asset.Event
	}{
		{"several successes of one asset", [][]asset.Event{{ev("1", mat, "a", 1, ""), ev("2", mat, "a", 2, ""), ev("3", mat, "a", 3, "")}}},
		{"a replay changes nothing", [][]asset.Event{{ev("1", mat, "a", 1, "")}, {ev("1", mat, "a", 1, "")}}},
		{"the next call reports again", [][]asset.Event{{ev("1", mat, "a", 1, ""), ev("2", mat, "b", 1, "")}, {ev("3", mat, "a", 2, ""), ev("4", mat, "a", 3, "")}}},
		{"a run's end reports every asset it had in flight", [][]asset.Event{
			{ev("1", started, "a", 1, "r"), ev("2", started, "b", 1, "r"), ev("3", started, "c", 1, "r2")},
			{ev("4", mat, "a", 2, "r"), ev("5", succeeded, "job", 3, "r"), ev("6", fail, "c", 3, "r2"), ev("7", mat, "b", 4, "")},
		}},
		{"no asset or no time", [][]asset.Event{{{ID: "1", Kind: mat, Time: at(1)}, {ID: "2", Kind: mat, Asset: "a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			one, all := NewTracker(), NewTracker()
			for r, events := range tt.rounds {
				var want []asset.Key
				cs := make([]Change, len(events))
				for i := range events {
					cs[i] = NewChange(&events[i])
					for _, k := range one.ApplyChange(&cs[i], nil) {
						if !slices.Contains(want, k) {
							want = append(want, k)
						}
					}
				}
				got := all.ApplyChanges(cs, nil)
				states := all.Reported()
				if len(states) != len(got) {
					t.Fatalf("round %d: %d states reported for %d assets", r, len(states), len(got))
				}
				for i, k := range got {
					if states[i] != all.State(k) {
						t.Errorf("round %d: state %d is not %s's", r, i, k)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("round %d: reported %v, want %v (each once)", r, got, want)
				}
			}
			if a, b := dump(one), dump(all); a != b {
				t.Errorf("states differ:\nApplyChange  %s\nApplyChanges %s", a, b)
			}
		})
	}
}

// dump prints a tracker's states without ApplyChanges's rounds.
func dump(tr *Tracker) string {
	keys := make([]string, 0, len(tr.states))
	for k := range tr.states {
		keys = append(keys, string(k))
	}
	slices.Sort(keys)
	out := ""
	for _, k := range keys {
		s := *tr.states[asset.Key(k)]
		s.round = 0
		out += fmt.Sprintf("%s: %+v\n", k, s)
	}
	return out + fmt.Sprint(tr.runs)
}
