package config

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkFindCyclesLargeChain: cycle detection over a 100k-node chain,
// open and then closed into one cycle (TestFindCyclesLargeChain checks the
// answers; this measures the time).
func BenchmarkFindCyclesLargeChain(b *testing.B) {
	const n = 100_000
	open := chain(n)
	closed := chain(n)
	closed[0] = []int32{n - 1}
	b.ReportAllocs()
	for b.Loop() {
		if c := findCycles(open); len(c) != 0 {
			b.Fatalf("found %d cycles in a chain", len(c))
		}
		if c := findCycles(closed); len(c) != 1 {
			b.Fatalf("closed chain: got %d cycles", len(c))
		}
	}
	b.ReportMetric(float64(2*n)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}

// BenchmarkAliasBomb: parsing a file built to expand to 2^30 mappings,
// which the alias expansion limit cuts short (TestAliasBomb checks the
// problem reported).
func BenchmarkAliasBomb(b *testing.B) {
	src := []byte(aliasBomb(30))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bomb.yaml", src); err == nil || !strings.Contains(err.Error(), "too many alias expansions") {
			b.Fatalf("Parse = %v, want the alias expansion limit", err)
		}
	}
}

// BenchmarkParseLargeChain: a 100k-asset file, each asset depending on the
// previous one.
func BenchmarkParseLargeChain(b *testing.B) {
	const n = 100_000
	var sb strings.Builder
	sb.WriteString("assets:\n  - key: n/0\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&sb, "  - key: n/%d\n    deps: [n/%d]\n", i, i-1)
	}
	src := []byte(sb.String())
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse("chain.yaml", src)
		if err != nil || len(f.Assets) != n {
			b.Fatalf("Parse: %v", err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "assets/s")
}
