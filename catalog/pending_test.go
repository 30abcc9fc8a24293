package catalog

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

// TestPendingSet drives the set and a Go map with the same operations and
// compares every answer. The shapes are the ways ids reach it: stored in
// claim order (the usual), out of order, with retries, with ids that stay
// pending while the rest drain (the log compacts), and cleared by Load.
func TestPendingSet(t *testing.T) {
	t.Parallel()
	kinds := []asset.Kind{asset.KindMaterialization, asset.KindObservation, asset.KindRunStarted}
	tests := []struct {
		name     string
		ids      int     // distinct ids
		rounds   int     // claim a batch, then take some of the pending
		batch    int     // ids claimed per round
		retry    float64 // share of claims that repeat an earlier id
		shuffle  bool    // take in random order rather than claim order
		keep     float64 // share of ids never taken (until the end)
		clearAt  int     // round after which the set is cleared; -1: never
		takeMiss float64 // share of takes of ids never claimed
	}{
		{name: "all new, in order", ids: 100_000, rounds: 40, batch: 2000, clearAt: -1},
		{name: "retries and replays", ids: 5_000, rounds: 40, batch: 1000, retry: 0.3, takeMiss: 0.1, clearAt: -1},
		{name: "out of order", ids: 50_000, rounds: 30, batch: 3000, shuffle: true, clearAt: -1},
		{name: "some stay pending", ids: 200_000, rounds: 60, batch: 3000, keep: 0.01, clearAt: -1},
		{name: "cleared", ids: 50_000, rounds: 20, batch: 2500, retry: 0.1, shuffle: true, clearAt: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(1, uint64(len(tt.name))))
			entries := make([]*entry, 10)
			for i := range entries {
				entries[i] = newEntry(discovered(asset.Key(fmt.Sprint("a", i))))
			}
			s, model := newPendingSet(), map[string]counted{}
			var order []string // claimed ids not taken yet, in claim order (may hold taken ones)
			next := 0
			id := func() string {
				if next > 0 && r.Float64() < tt.retry {
					return fmt.Sprintf("ev-%d", r.IntN(next))
				}
				next++
				return fmt.Sprintf("ev-%d", (next-1)%tt.ids)
			}
			take := func(id string) {
				got, gok := s.take(id)
				want, wok := model[id]
				if gok != wok || got != want {
					t.Fatalf("take(%s) = %v %v, want %v %v", id, got, gok, want, wok)
				}
				delete(model, id)
			}
			for round := range tt.rounds {
				for range tt.batch {
					id := id()
					c := counted{entries[r.IntN(len(entries))], kinds[r.IntN(len(kinds))]}
					p := s.claim(id)
					if _, ok := model[id]; ok != (p == nil) {
						t.Fatalf("claim(%s) = %v, pending %v", id, p, ok)
					}
					if p != nil {
						*p = c
						model[id] = c
						order = append(order, id)
					}
				}
				if tt.shuffle {
					r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				}
				var kept []string
				for _, id := range order[:len(order)*3/4] {
					if r.Float64() < tt.keep {
						kept = append(kept, id)
						continue
					}
					take(id)
					if r.Float64() < tt.takeMiss {
						take(fmt.Sprint("never-", r.Int()))
					}
				}
				order = append(kept, order[len(order)*3/4:]...)
				if s.len() != len(model) {
					t.Fatalf("round %d: len %d, want %d", round, s.len(), len(model))
				}
				if round == tt.clearAt {
					s.clear()
					clear(model)
					order = order[:0]
				}
			}
			for id := range model {
				take(id)
			}
			if s.len() != 0 || s.head != s.tail {
				t.Fatalf("after taking all: len %d, log %d", s.len(), s.tail-s.head)
			}
		})
	}
}
