package config

import (
	"strings"
	"testing"
)

func TestPoolsAndMaxConcurrent(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `max_concurrent: 4
pools:
  warehouse: {limit: 2}
  api.calls: {limit: 1}
assets:
  - key: a
    materialize: {argv: [x], pool: warehouse}
`)
	if f.MaxConcurrent != 4 || len(f.Pools) != 2 || f.Pools["warehouse"].Limit != 2 || f.Pools["api.calls"].Limit != 1 {
		t.Errorf("MaxConcurrent = %d, Pools = %v", f.MaxConcurrent, f.Pools)
	}
	if f := mustParse(t, "assets: []\n"); f.MaxConcurrent != 0 || f.Pools != nil {
		t.Errorf("defaults: MaxConcurrent = %d, Pools = %v", f.MaxConcurrent, f.Pools)
	}
	// Without a pools block, a pool name is a label that limits nothing.
	mustParse(t, "assets:\n  - key: a\n    materialize: {argv: [x], pool: anything}\n")
}

func TestPoolProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, field, msg string
		line                  int
	}{
		{"max_concurrent zero", "max_concurrent: 0\n", "max_concurrent", "0 is out of range 1..100000", 1},
		{"max_concurrent text", "max_concurrent: lots\n", "max_concurrent", "expected an integer", 1},
		{"pools a list", "pools: [a]\n", "pools", "expected a mapping of pool name to {limit: N}", 1},
		{"limit missing", "pools:\n  wh: {}\n", "pools.wh.limit", "limit is required", 2},
		{"limit zero", "pools:\n  wh: {limit: 0}\n", "pools.wh.limit", "0 is out of range 1..100000", 2},
		{"unknown pool field", "pools:\n  wh: {limit: 1, size: 2}\n", "pools.wh.size", `unknown field "size"`, 2},
		{"bad pool name", "pools:\n  'a b': {limit: 1}\n", "pools.a b", `invalid pool name "a b"`, 2},
		{"unknown pool", "pools:\n  warehouse: {limit: 1}\nassets:\n  - key: a\n    materialize:\n      argv: [x]\n      pool: warehous\n", "assets[0].materialize.pool", `unknown pool "warehous"; declared pools: warehouse`, 7},
		{"empty pools block", "pools: {}\nassets:\n  - key: a\n    materialize: {argv: [x], pool: wh}\n", "assets[0].materialize.pool", `unknown pool "wh"; none are declared`, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps := parseProblems(t, tt.src)
			if len(ps) != 1 || ps[0].Field != tt.field || ps[0].Line != tt.line || !strings.Contains(ps[0].Message, tt.msg) {
				t.Fatalf("problems = %v; want one at line %d, field %s: %s", ps, tt.line, tt.field, tt.msg)
			}
		})
	}
	// A pool with a bad limit is reported once, not also as unknown.
	ps := parseProblems(t, "pools:\n  wh: {limit: 0}\nassets:\n  - key: a\n    materialize: {argv: [x], pool: wh}\n")
	if len(ps) != 1 {
		t.Errorf("problems = %v, want only the limit", ps)
	}
}
