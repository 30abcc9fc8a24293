package config

import (
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/freshet-dev/freshet/asset"
)

// Pool is a named concurrency limit shared by the steps whose materialize
// block names it (pools: {warehouse: {limit: 2}}).
type Pool struct {
	Limit int
}

// Bounds of max_concurrent and of a pool's limit.
const maxLimit = 100000

var poolFields = []string{"limit"}

// pools decodes the top-level pools mapping: pool name -> {limit: N}.
// names holds every pool written, valid or not, so a reference to a pool
// with a bad limit is not also reported as unknown.
func (d *decoder) pools(n *yaml.Node, path string) (out map[string]Pool, names map[string]bool) {
	names = make(map[string]bool)
	if n = d.resolve(n); n == nil || isNull(n) {
		return nil, names
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "expected a mapping of pool name to {limit: N}, got %s", describe(n))
		return nil, nil
	}
	out = make(map[string]Pool, len(n.Content)/2)
	lines := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.addf(k.Line, path, "pool names must be plain strings, got %s", describeKey(k))
			continue
		}
		p := join(path, k.Value)
		if first, dup := lines[k.Value]; dup {
			d.addf(k.Line, p, "duplicate pool %q (first at line %d)", k.Value, first)
			continue
		}
		lines[k.Value] = k.Line
		names[k.Value] = true
		if !validCheckName(k.Value) {
			d.addf(k.Line, p, "invalid pool name %q: use letters, digits, '_', '.' and '-'", k.Value)
			continue
		}
		v := d.resolve(n.Content[i+1])
		if v == nil {
			continue
		}
		fs, ok := d.fields(v, p, poolFields)
		if !ok {
			continue
		}
		f, ok := fs["limit"]
		if !ok {
			d.addf(v.Line, join(p, "limit"), "limit is required: how many steps of this pool may run at once")
			continue
		}
		if limit, ok := d.integer(f.val, join(p, "limit"), 1, maxLimit); ok {
			out[k.Value] = Pool{Limit: limit}
		}
	}
	return out, names
}

// checkPools reports materialize blocks naming a pool that pools does not
// declare. Without a pools block (names nil), pool names are not checked:
// such a pool limits nothing, only max_concurrent applies.
func (d *decoder) checkPools(assets []asset.Spec, decl []declared, names map[string]bool) {
	if names == nil {
		return
	}
	known := "none are declared"
	if len(names) > 0 {
		known = "declared pools: " + strings.Join(slices.Sorted(maps.Keys(names)), ", ")
	}
	for i := range assets {
		m := assets[i].Materialize
		if m == nil || m.Pool == "" || names[m.Pool] || decl[i].poolLine == 0 {
			continue
		}
		d.addf(decl[i].poolLine, index("assets", i)+".materialize.pool", "unknown pool %q; %s", m.Pool, known)
	}
}
