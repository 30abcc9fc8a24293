package lineage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

// fixture:
//
//	a ─► b ─► d ─► e        x (isolated)
//	└──► c ──┘     │
//	     ▲         ▼
//	     └──────── f        (f ─► c closes a cycle c ─► d ─► e ─► f ─► c; observed)
//	g ─► h                  (observed and declared)
func fixture() *Index {
	x := NewIndex()
	x.Reset(keys("a b c d e f g h x"),
		edges("a>b a>c b>d c>d d>e e>f g>h"),
		edges("f>c g>h"))
	return x
}

func keys(s string) []asset.Key {
	var out []asset.Key
	for _, f := range strings.Fields(s) {
		out = append(out, asset.Key(f))
	}
	return out
}

func edges(s string) []asset.Edge {
	var out []asset.Edge
	for _, f := range strings.Fields(s) {
		u, d, _ := strings.Cut(f, ">")
		out = append(out, asset.Edge{Upstream: asset.Key(u), Downstream: asset.Key(d)})
	}
	return out
}

// render writes nodes as key:depth and edges as u>d, both sorted, so a
// table row states the expected answer compactly.
func render(sub Subgraph) (string, string) {
	var ns, es []string
	for _, n := range sub.Nodes {
		ns = append(ns, fmt.Sprintf("%s:%d", n.Key, n.Depth))
	}
	for _, e := range sub.Edges {
		es = append(es, fmt.Sprintf("%s>%s", e.Upstream, e.Downstream))
	}
	slices.Sort(ns)
	slices.Sort(es)
	return strings.Join(ns, " "), strings.Join(es, " ")
}

func TestTraversals(t *testing.T) {
	t.Parallel()
	g := fixture().Current()
	tests := []struct {
		name       string
		run        func() (Subgraph, error)
		nodes, eds string
	}{
		{"downstream of root, unlimited", func() (Subgraph, error) { return g.Downstream("a", 0) },
			"a:0 b:1 c:1 d:2 e:3 f:4", "a>b a>c b>d c>d d>e e>f f>c"},
		{"downstream depth 1", func() (Subgraph, error) { return g.Downstream("a", 1) },
			"a:0 b:1 c:1", "a>b a>c"},
		{"downstream depth 2 includes both diamond edges", func() (Subgraph, error) { return g.Downstream("a", 2) },
			"a:0 b:1 c:1 d:2", "a>b a>c b>d c>d"},
		{"downstream around the cycle terminates", func() (Subgraph, error) { return g.Downstream("d", 0) },
			"c:3 d:0 e:1 f:2", "c>d d>e e>f f>c"},
		{"upstream of e crosses the cycle", func() (Subgraph, error) { return g.Upstream("e", 0) },
			"a:3 b:2 c:2 d:1 e:0 f:3", "a>b a>c b>d c>d d>e e>f f>c"},
		{"upstream depth 1", func() (Subgraph, error) { return g.Upstream("d", 1) },
			"b:1 c:1 d:0", "b>d c>d"},
		{"upstream of a root is itself", func() (Subgraph, error) { return g.Upstream("a", 0) },
			"a:0", ""},
		{"isolated asset", func() (Subgraph, error) { return g.Neighbourhood("x", 0) },
			"x:0", ""},
		{"neighbourhood depth 1", func() (Subgraph, error) { return g.Neighbourhood("d", 1) },
			"b:1 c:1 d:0 e:1", "b>d c>d d>e"},
		{"neighbourhood on a cycle keeps each node once", func() (Subgraph, error) { return g.Neighbourhood("c", 0) },
			"a:1 b:4 c:0 d:1 e:2 f:1", "a>b a>c b>d c>d d>e e>f f>c"},
		{"neighbourhood does not go sideways", func() (Subgraph, error) { return g.Neighbourhood("b", 1) },
			"a:1 b:0 d:1", "a>b b>d"},
		{"between over a diamond", func() (Subgraph, error) { return g.Between("a", "b") },
			"a:0 b:1", "a>b"},
		{"between over a diamond into a cycle includes the cycle", func() (Subgraph, error) { return g.Between("a", "d") },
			"a:0 b:1 c:1 d:2 e:3 f:4", "a>b a>c b>d c>d d>e e>f f>c"},
		{"between one branch", func() (Subgraph, error) { return g.Between("g", "h") },
			"g:0 h:1", "g>h"},
		{"between inside a cycle", func() (Subgraph, error) { return g.Between("e", "d") },
			"c:2 d:3 e:0 f:1", "c>d d>e e>f f>c"},
		{"between self", func() (Subgraph, error) { return g.Between("h", "h") },
			"h:0", ""},
		{"between with no path", func() (Subgraph, error) { return g.Between("d", "a") },
			"", ""},
		{"between across components", func() (Subgraph, error) { return g.Between("a", "h") },
			"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sub, err := tt.run()
			if err != nil {
				t.Fatal(err)
			}
			if sub.Edges == nil || sub.Nodes == nil && tt.nodes != "" {
				t.Fatalf("nil slices would encode as JSON null: %+v", sub)
			}
			nodes, eds := render(sub)
			if nodes != tt.nodes {
				t.Errorf("nodes = %q, want %q", nodes, tt.nodes)
			}
			if eds != tt.eds {
				t.Errorf("edges = %q, want %q", eds, tt.eds)
			}
		})
	}
}

func TestUnknownAsset(t *testing.T) {
	t.Parallel()
	g := fixture().Current()
	calls := map[string]func() (Subgraph, error){
		"upstream":      func() (Subgraph, error) { return g.Upstream("nope", 0) },
		"downstream":    func() (Subgraph, error) { return g.Downstream("nope", 0) },
		"neighbourhood": func() (Subgraph, error) { return g.Neighbourhood("nope", 0) },
		"between from":  func() (Subgraph, error) { return g.Between("nope", "a") },
		"between to":    func() (Subgraph, error) { return g.Between("a", "nope") },
	}
	for name, call := range calls {
		if _, err := call(); !errors.Is(err, ErrUnknownAsset) || !strings.Contains(err.Error(), "nope") {
			t.Errorf("%s: err = %v, want ErrUnknownAsset naming the key", name, err)
		}
	}
	if g.Parents("nope") != nil || g.Children("nope") != nil || g.Has("nope") {
		t.Error("unknown key has neighbours")
	}
}

func TestShape(t *testing.T) {
	t.Parallel()
	g := fixture().Current()
	check := func(name string, got []asset.Key, want string) {
		t.Helper()
		if s := strings.Join(strs(got), " "); s != want {
			t.Errorf("%s = %q, want %q", name, s, want)
		}
	}
	check("roots", g.Roots(), "a g x")
	check("leaves", g.Leaves(), "h x")
	check("parents(d)", g.Parents("d"), "b c")
	check("parents(c)", g.Parents("c"), "a f")
	check("children(a)", g.Children("a"), "b c")
	check("keys", g.Keys(), "a b c d e f g h x")
	if g.Len() != 9 {
		t.Errorf("Len = %d", g.Len())
	}
	all := g.All()
	flags := map[string]string{}
	for _, e := range all.Edges {
		flags[string(e.Upstream)+">"+string(e.Downstream)] = fmt.Sprint(e.Declared, e.Observed)
	}
	for e, want := range map[string]string{"a>b": "true false", "f>c": "false true", "g>h": "true true"} {
		if flags[e] != want {
			t.Errorf("edge %s declared/observed = %q, want %q", e, flags[e], want)
		}
	}
	if len(all.Nodes) != 9 || len(all.Edges) != 8 {
		t.Errorf("All has %d nodes, %d edges; want 9, 8", len(all.Nodes), len(all.Edges))
	}
}

func strs(ks []asset.Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func TestObserve(t *testing.T) {
	t.Parallel()
	x := fixture()
	before := x.Current()
	x.Observe(keys("a"), edges("f>c g>h"))
	if x.Current() != before {
		t.Error("known edges published a new snapshot")
	}
	x.Observe(keys("new/one"), edges("h>ext/z z>z"))
	g := x.Current()
	if g == before {
		t.Fatal("new edge did not publish a snapshot")
	}
	if !g.Has("new/one") || !g.Has("ext/z") {
		t.Error("new keys missing")
	}
	if got := g.Children("z"); got != nil {
		t.Errorf("self edge kept: %v", got)
	}
	if before.Has("new/one") || len(before.Children("h")) != 0 {
		t.Error("an old snapshot changed: snapshots must be immutable")
	}
	x.Observe(nil, edges("a>b"))
	for _, e := range x.Current().All().Edges {
		if e.Upstream == "a" && e.Downstream == "b" && !(e.Declared && e.Observed) {
			t.Errorf("a>b should now be declared and observed: %+v", e)
		}
	}
}

// TestConcurrentReaders runs traversals while a writer adds edges; -race
// proves readers and the writer share nothing mutable.
func TestConcurrentReaders(t *testing.T) {
	t.Parallel()
	x := fixture()
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				g := x.Current()
				sub, err := g.Downstream("a", 0)
				if err != nil || len(sub.Nodes) < 6 {
					t.Errorf("reader saw %d nodes, err %v", len(sub.Nodes), err)
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		x.Observe(nil, []asset.Edge{{Upstream: "f", Downstream: asset.Key(fmt.Sprintf("w/%d", i))}})
	}
	wg.Wait()
	if n := len(x.Current().Children("f")); n != 201 {
		t.Errorf("f has %d children, want 201", n)
	}
}

func TestHubSortsAdjacency(t *testing.T) {
	t.Parallel()
	var es []asset.Edge
	for i := 99; i >= 0; i-- {
		es = append(es, asset.Edge{Upstream: "hub", Downstream: asset.Key(fmt.Sprintf("n%03d", i))})
	}
	x := NewIndex()
	x.Reset(nil, es, nil)
	ch := x.Current().Children("hub")
	if len(ch) != 100 || !slices.IsSorted(ch) {
		t.Errorf("hub children not sorted or missing: %d", len(ch))
	}
}
