package monitor

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/lineage"
)

// shortcutRig is a monitor driven pass by pass on raw/a -> marts/b, with
// raw/c beside them; every pass checks the published latest successes
// against the tracker read from scratch (what publish did for every
// result before it kept them across passes).
type shortcutRig struct {
	t     *testing.T
	m     *Monitor
	idx   *lineage.Index
	clock *clock
}

func newShortcutRig(t *testing.T) *shortcutRig {
	idx := lineage.NewIndex()
	idx.Observe([]asset.Key{"raw/a", "marts/b", "raw/c"}, []asset.Edge{{Upstream: "raw/a", Downstream: "marts/b"}})
	clk := &clock{now: t0}
	m := New(idx, nopRecorder{}, Options{Logger: quiet, Now: clk.Now, Seed: func(asset.Key) []asset.Event { return nil }})
	return &shortcutRig{t: t, m: m, idx: idx, clock: clk}
}

func (r *shortcutRig) pass(full bool) *freshness.Snapshot {
	r.t.Helper()
	r.clock.now = r.clock.now.Add(time.Minute)
	r.m.evaluate(context.Background(), full)
	snap := r.m.Snapshot()
	want := map[asset.Key]time.Time{}
	for k := range snap.Results {
		if st := r.m.tracker.State(k); st != nil {
			if s, ok := st.Latest(); ok {
				want[k] = s.Time()
			}
		}
	}
	if !maps.Equal(snap.LastSuccess, want) {
		r.t.Fatalf("published latest successes %v, the tracker's %v", snap.LastSuccess, want)
	}
	return snap
}

func (r *shortcutRig) specs(groupB string, keys ...asset.Key) {
	var specs []asset.Spec
	for _, k := range keys {
		g := "raw"
		if k == "marts/b" {
			g = groupB
		}
		specs = append(specs, asset.Spec{Key: k, Group: g, Freshness: maxLag(time.Hour)})
	}
	r.m.SetSpecs(specs)
}

// TestPassShortcuts: what a pass no longer does for events that cannot
// need it, and that it still does when they can.
func TestPassShortcuts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(r *shortcutRig)
	}{
		{"latest success moves with each success, in incremental and full passes", func(r *shortcutRig) {
			r.specs("marts", "raw/a", "marts/b")
			r.pass(true)
			for i, full := range []bool{false, false, true, false} {
				at := r.clock.now
				r.m.Observe([]asset.Event{mat(string(rune('a'+i)), "raw/a", at)})
				snap := r.pass(full)
				if got := snap.LastSuccess["raw/a"]; !got.Equal(at) {
					t.Fatalf("pass %d: raw/a's latest success %v, want %v", i, got, at)
				}
				if _, ok := snap.LastSuccess["marts/b"]; ok {
					t.Fatalf("pass %d: marts/b has a latest success without any", i)
				}
			}
			r.m.Observe([]asset.Event{mat("b1", "marts/b", r.clock.now)})
			if snap := r.pass(false); snap.Results["marts/b"].State != freshness.Pass {
				t.Fatalf("marts/b: %+v, want PASS", snap.Results["marts/b"])
			}
		}},
		{"an asset that gets a policy gets a latest success and a first-seen time once", func(r *shortcutRig) {
			r.specs("marts", "raw/a")
			r.pass(true)
			r.m.Observe([]asset.Event{mat("c1", "raw/c", t0)}) // not relevant yet: followed whole
			r.specs("marts", "raw/a", "raw/c", "marts/b")      // marts/b: no event ever
			snap := r.pass(false)
			if got := snap.LastSuccess["raw/c"]; !got.Equal(t0) {
				t.Fatalf("raw/c's latest success %v, want %v", got, t0)
			}
			seen := r.m.tracker.FirstSeen("marts/b")
			if seen.IsZero() || snap.Results["marts/b"].State != freshness.Unknown {
				t.Fatalf("marts/b: first seen %v, result %+v; want seen at the pass, UNKNOWN", seen, snap.Results["marts/b"])
			}
			if len(r.m.unseen) != 0 {
				t.Fatalf("unseen after the pass: %v", r.m.unseen)
			}
			r.pass(false)
			if again := r.m.tracker.FirstSeen("marts/b"); !again.Equal(seen) {
				t.Fatalf("marts/b first seen %v, then %v", seen, again)
			}
		}},
		{"a relevant asset's events are queued without a whole entry; a new one's with one", func(r *shortcutRig) {
			r.specs("marts", "raw/a", "marts/b")
			r.pass(true)
			r.m.Observe([]asset.Event{mat("a1", "raw/a", t0), mat("x1", "raw/x", t0)})
			r.m.mu.Lock()
			_, wholeA := r.m.whole["raw/a"]
			_, wholeX := r.m.whole["raw/x"]
			queued := len(r.m.pending)
			r.m.mu.Unlock()
			if wholeA || !wholeX || queued != 2 {
				t.Fatalf("whole raw/a %v raw/x %v, %d queued; want false, true, 2", wholeA, wholeX, queued)
			}
			r.pass(false)
			r.pass(false) // raw/x never got a policy: let go
			r.m.mu.Lock()
			_, wholeX = r.m.whole["raw/x"]
			r.m.mu.Unlock()
			if wholeX {
				t.Fatal("raw/x still followed two passes after its first event without a policy")
			}
		}},
		{"a relevant asset's first events start its first-seen time; later ones are not looked up again", func(r *shortcutRig) {
			r.specs("marts", "raw/a", "marts/b")
			r.pass(true)
			check := asset.Event{ID: "k1", Kind: asset.KindCheckResult, Asset: "marts/b", Time: t0.Add(-20 * time.Minute)}
			r.m.Observe([]asset.Event{check, mat("a1", "raw/a", t0.Add(-10*time.Minute))})
			r.m.mu.Lock()
			rel := r.m.relevant["raw/a"]
			r.m.mu.Unlock()
			if !rel.seen {
				t.Fatal("raw/a not marked seen in the relevant set after its event")
			}
			r.m.Observe([]asset.Event{mat("a2", "raw/a", t0.Add(-5*time.Minute))})
			r.pass(false)
			for k, want := range map[asset.Key]time.Time{"raw/a": t0.Add(-10 * time.Minute), "marts/b": t0.Add(-20 * time.Minute)} {
				if got := r.m.tracker.FirstSeen(k); !got.Equal(want) {
					t.Errorf("%s first seen %v, want %v (its first event)", k, got, want)
				}
			}
		}},
		{"a policy change takes effect in the next pass", func(r *shortcutRig) {
			r.specs("marts", "raw/a")
			r.m.Observe([]asset.Event{mat("a1", "raw/a", t0)})
			r.pass(true)
			r.clock.now = t0.Add(45 * time.Minute)
			if snap := r.pass(false); snap.Results["raw/a"].State != freshness.Pass {
				t.Fatalf("raw/a: %+v, want PASS", snap.Results["raw/a"])
			}
			if _, err := r.m.SetPolicy(context.Background(), "raw/a", maxLag(30*time.Minute), "test"); err != nil {
				t.Fatal(err)
			}
			if snap := r.pass(false); snap.Results["raw/a"].State != freshness.Fail {
				t.Fatalf("raw/a: %+v, want FAIL under its new policy", snap.Results["raw/a"])
			}
		}},
		{"snapshots keep their groups when the specs change", func(r *shortcutRig) {
			r.specs("marts", "raw/a", "marts/b")
			before := r.pass(true)
			r.specs("finance", "raw/a", "marts/b")
			after := r.pass(false)
			if before.Groups["marts/b"] != "marts" || after.Groups["marts/b"] != "finance" {
				t.Fatalf("groups of marts/b: %q then %q, want marts then finance", before.Groups["marts/b"], after.Groups["marts/b"])
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(newShortcutRig(t))
		})
	}
}

// TestObserveWhileFollowing: Observe marks relevant assets seen in the
// relevant set while the pass that published the set seeds the assets
// new to it (run under -race: the set may not be read unlocked then).
func TestObserveWhileFollowing(t *testing.T) {
	t.Parallel()
	idx := lineage.NewIndex()
	var keys []asset.Key
	for i := range 2000 {
		keys = append(keys, asset.Key(fmt.Sprintf("x/%04d", i)))
	}
	idx.Observe(append(keys, "raw/a"), nil)
	var m *Monitor
	done := make(chan struct{})
	seed := func(k asset.Key) []asset.Event {
		if k == "raw/a" { // the pass is seeding: ingest goes on meanwhile
			go func() {
				defer close(done)
				for j, k := range keys {
					m.Observe([]asset.Event{mat(fmt.Sprintf("e%d", j), k, t0)})
				}
			}()
		}
		return nil
	}
	clk := &clock{now: t0}
	m = New(idx, nopRecorder{}, Options{Logger: quiet, Now: clk.Now, Seed: seed})
	var specs []asset.Spec
	for _, k := range keys {
		specs = append(specs, asset.Spec{Key: k, Freshness: maxLag(time.Hour)})
	}
	m.SetSpecs(specs)
	m.evaluate(context.Background(), true) // keys relevant, none seen
	m.SetSpecs(append(specs, asset.Spec{Key: "raw/a", Freshness: maxLag(time.Hour)}))
	m.evaluate(context.Background(), false) // raw/a new: seeded
	<-done
	clk.now = t0.Add(time.Minute)
	m.evaluate(context.Background(), false)
	for _, k := range keys {
		if got := m.Snapshot().Results[k].State; got != freshness.Pass {
			t.Fatalf("%s: %s, want PASS", k, got)
		}
	}
}
