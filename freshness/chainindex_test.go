package freshness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// TestChainIndexMatchesLinearWalk checks the chain index (chainJump)
// against the link-by-link walk it stands for: for every asset of random
// worlds (layered lineage with stale roots, cycles, upstream lists naming
// assets the graph does not link, histories longer than the window,
// incremental passes with fetches) and of a line longer than
// maxChainLinks, every threshold around every link's data time gives the
// same last stale link, cost and count.
func TestChainIndexMatchesLinearWalk(t *testing.T) {
	t.Parallel()
	jumped := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 3))
		w := layeredWorld(rng)
		tr := NewTracker()
		for k, ok := range w.matz {
			tr.SetMaterializable(k, ok)
		}
		policies := map[asset.Key]asset.FreshnessPolicy{}
		for _, k := range w.keys {
			policies[k] = w.policy
		}
		e, err := NewEvaluator(w, policies)
		if err != nil {
			t.Fatal(err)
		}
		log := &eventLog{}
		var changed []asset.Key
		now := w.now.Add(-24 * time.Hour)
		e.EvaluateAll(nil, now, tr)
		for i, ev := range w.events {
			log.add(ev)
			if seed%3 == 1 && i%4 == 0 {
				continue // only the store has it: later data times fetch it
			}
			changed = tr.ApplyTo(ev, changed)
			if i%7 == 6 || i == len(w.events)-1 {
				now = now.Add(time.Hour)
				res := e.Reevaluate(nil, now, tr, changed)
				if _, _, _, err := e.Settle(context.Background(), res, now, tr, log, 8); err != nil {
					t.Fatal(err)
				}
				changed = changed[:0]
				jumped += checkChainIndex(t, e, fmt.Sprintf("seed %d event %d", seed, i), 1)
			}
		}
		e.EvaluateAll(nil, w.now, tr)
		jumped += checkChainIndex(t, e, fmt.Sprintf("seed %d full pass", seed), 1)
	}
	e, tr, err := deepStaleChain(1100)
	if err != nil {
		t.Fatal(err)
	}
	e.EvaluateAll(nil, t0.Add(48*time.Hour), tr)
	jumped += checkChainIndex(t, e, "deep stale chain", 37)
	t.Logf("%d walks answered by the index", jumped)
	if jumped < 10000 {
		t.Errorf("the index answered only %d walks: the test does not exercise it", jumped)
	}
}

// checkChainIndex compares jump with linear for every every-th asset
// resolved in the evaluator's current state (and those around the end of
// the index, at maxChainLinks links), and returns how many walks jump
// answered.
func checkChainIndex(t *testing.T, e *Evaluator, what string, every int32) int {
	t.Helper()
	jumped := 0
	c := &e.chain
	for i := range int32(len(e.keys)) {
		if m := &e.memo[i]; m.gen != e.gen || m.phase != 2 {
			continue
		}
		if d := e.jumps[i].depth; i%every != 0 && (d < maxChainLinks-1 || d > maxChainLinks+2) {
			continue
		}
		c.reset(i)
		ats := []int64{math.MinInt64, math.MaxInt64}
		for l := 0; c.extend(l); l++ {
			if m := &e.memo[c.links[l]]; m.hasCur() && (l < 8 || l%101 == 0) {
				ats = append(ats, m.cur-1, m.cur, m.cur+1)
			}
		}
		if n := len(c.links); n > 0 { // and the end of the chain
			if m := &e.memo[c.links[n-1]]; m.hasCur() {
				ats = append(ats, m.cur-1, m.cur, m.cur+1)
			}
		}
		indexed := e.jumps[i].depth > 0 && e.jumps[i].depth-1 <= maxChainLinks
		for _, at := range ats {
			for _, inclusive := range []bool{false, true} {
				var got, want Status
				ok, cost, count, done := c.jump(at, inclusive, &got)
				if done != indexed {
					t.Fatalf("%s: %s: jump done %v, index depth %d", what, e.keys[i], done, e.jumps[i].depth)
				}
				if !done {
					continue
				}
				jumped++
				wok, wcost, wcount := c.linear(at, inclusive, &want)
				if ok != wok || cost != wcost || count != wcount || got != want {
					t.Fatalf("%s: %s at %d inclusive %v: index says %v %s cost %v count %d, links say %v %s cost %v count %d",
						what, e.keys[i], at, inclusive, ok, got.Key, cost, count, wok, want.Key, wcost, wcount)
				}
			}
		}
	}
	return jumped
}

// layeredWorld is a random lineage of a few layers in which some roots
// stopped long ago, so that chains are long and many links share a data
// time, with the property test's kinds of history, cycles, and upstream
// lists that name any asset.
func layeredWorld(rng *rand.Rand) *refWorld {
	layers, width := 2+rng.IntN(6), 1+rng.IntN(6)
	w := &refWorld{parents: map[asset.Key][]asset.Key{}, matz: map[asset.Key]bool{},
		policy: asset.FreshnessPolicy{MaxLag: time.Duration(1+rng.IntN(6)) * time.Hour}}
	w.policy.WarnAfter = w.policy.MaxLag / 2
	key := func(l, p int) asset.Key { return asset.Key(fmt.Sprintf("l%d/%d", l, p)) }
	for l := range layers {
		for p := range width {
			k := key(l, p)
			w.keys = append(w.keys, k)
			if l == 0 {
				continue
			}
			for range 1 + rng.IntN(3) {
				if u := key(rng.IntN(l), rng.IntN(width)); !slices.Contains(w.parents[k], u) {
					w.parents[k] = append(w.parents[k], u)
				}
			}
		}
	}
	if rng.IntN(3) == 0 { // a cycle or two
		for range 1 + rng.IntN(2) {
			a, b := w.keys[rng.IntN(len(w.keys))], w.keys[rng.IntN(len(w.keys))]
			if !slices.Contains(w.parents[a], b) {
				w.parents[a] = append(w.parents[a], b)
			}
		}
	}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	id := 0
	for _, k := range w.keys {
		w.matz[k] = rng.IntN(2) == 0
		var l int
		fmt.Sscanf(string(k), "l%d/", &l)
		stopped := l == 0 && rng.IntN(3) == 0
		for h := range rng.IntN(20) {
			id++
			at := base.Add(time.Duration(h)*time.Hour + time.Duration(l)*5*time.Minute + time.Duration(rng.IntN(4))*time.Minute)
			if stopped {
				at = at.Add(-30 * 24 * time.Hour)
			}
			e := asset.Event{ID: fmt.Sprintf("e%d", id), Asset: k, Kind: asset.KindMaterialization, Time: at}
			switch r := rng.IntN(20); {
			case r < 1:
				e.Kind = asset.KindObservation
			case r < 2:
				dt := at.Add(-time.Duration(rng.IntN(300)) * time.Minute)
				e.DataTime = &dt
			case r < 4:
				for range 1 + rng.IntN(2) {
					e.Upstream = append(e.Upstream, w.keys[rng.IntN(len(w.keys))])
				}
			}
			if e.Kind == asset.KindMaterialization && rng.IntN(2) == 0 {
				e.Metadata = asset.Metadata{DurationKey: asset.Int(int64(60 * rng.IntN(10)))}
			}
			w.events = append(w.events, e)
		}
	}
	rng.Shuffle(len(w.events), func(i, j int) { w.events[i], w.events[j] = w.events[j], w.events[i] })
	w.now = base.Add(24*time.Hour + time.Duration(rng.IntN(48*60))*time.Minute)
	return w
}
