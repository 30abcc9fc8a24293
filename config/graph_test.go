package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCycles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string // each problem as LINE FIELD: MESSAGE
	}{
		{"two-cycle", `assets:
  - key: a
    deps: [b]
  - key: b
    deps: [a]
`, []string{"2 assets[0].deps: dependency cycle: a -> b -> a"}},
		{"three-cycle reported once from the first asset", `assets:
  - key: x
  - key: c
    deps: [a]
  - key: a
    deps: [b, x]
  - key: b
    deps: [c]
`, []string{"3 assets[1].deps: dependency cycle: c -> a -> b -> c"}},
		{"two separate cycles", `assets:
  - key: a
    deps: [b]
  - key: b
    deps: [a]
  - key: ok
    deps: [a]
  - key: p
    deps: [q]
  - key: q
    deps: [r]
  - key: r
    deps: [p]
`, []string{
			"2 assets[0].deps: dependency cycle: a -> b -> a",
			"8 assets[3].deps: dependency cycle: p -> q -> r -> p",
		}},
		{"shortest cycle through a tangled component", `assets:
  - key: a
    deps: [b, c]
  - key: b
    deps: [c]
  - key: c
    deps: [a]
`, []string{"2 assets[0].deps: dependency cycle: a -> c -> a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := parseProblems(t, tt.src)
			var got []string
			for _, p := range ps {
				got = append(got, fmt.Sprintf("%d %s: %s", p.Line, p.Field, p.Message))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestFindCyclesLargeChain: a 100k-node chain is the worst case for a
// recursive depth-first search; findCycles must not overflow. Its speed is
// measured by BenchmarkFindCyclesLargeChain, not asserted here.
func TestFindCyclesLargeChain(t *testing.T) {
	t.Parallel()
	const n = 100_000
	adj := chain(n)
	if c := findCycles(adj); len(c) != 0 {
		t.Fatalf("found %d cycles in a chain", len(c))
	}
	// Closing the chain makes one 100k-node cycle.
	adj[0] = []int32{n - 1}
	c := findCycles(adj)
	if len(c) != 1 || len(c[0]) != n || c[0][0] != 0 || c[0][1] != n-1 {
		t.Fatalf("closed chain: got %d cycles", len(c))
	}
}

// chain is the adjacency of an n-node line: node i depends on i-1.
func chain(n int) [][]int32 {
	adj := make([][]int32, n)
	for i := 1; i < n; i++ {
		adj[i] = []int32{int32(i - 1)}
	}
	return adj
}

func TestParseLargeChain(t *testing.T) {
	if testing.Short() {
		t.Skip("parses a 100k-asset file")
	}
	t.Parallel()
	const n = 100_000
	var b strings.Builder
	b.WriteString("assets:\n  - key: n/0\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - key: n/%d\n    deps: [n/%d]\n", i, i-1)
	}
	start := time.Now()
	f := mustParse(t, b.String())
	if len(f.Assets) != n || f.Assets[n-1].Deps[0] != "n/99998" {
		t.Fatalf("got %d assets", len(f.Assets))
	}
	t.Logf("parsed %d assets (%d bytes) in %v", n, b.Len(), time.Since(start))
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b  string
		limit int
		want  int
	}{
		{"raw/ordrs", "raw/orders", 3, 1},
		{"kitten", "sitting", 3, 3},
		{"kitten", "sitting", 2, 3}, // over the limit: limit+1
		{"", "abc", 5, 3},
		{"same", "same", 0, 0},
		{"a", "abcdef", 2, 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b, tt.limit); got != tt.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.limit, got, tt.want)
		}
	}
}
