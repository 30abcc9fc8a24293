package executor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/freshet-dev/freshet/asset"
)

// A selection is a list of terms; it selects the union of what each term
// matches:
//
//	raw/orders        that asset
//	+marts/revenue    that asset and everything upstream of it
//	raw/orders+       that asset and everything downstream of it
//	+staging/orders+  both
//	group:marts       every asset whose group is marts
//	tag:tier=gold     every asset with that tag
//
// Every term must match at least one asset.
type term struct {
	text               string // as written, for errors
	key                asset.Key
	group, tag         string
	upstream, downstrm bool
}

// ErrEmptySelection is returned for a selection without terms.
var ErrEmptySelection = errors.New("empty selection: give asset keys, +key, key+, group:NAME or tag:NAME")

func parseTerm(s string) (term, error) {
	t := term{text: s}
	switch {
	case strings.HasPrefix(s, "group:"):
		t.group = strings.TrimPrefix(s, "group:")
		if t.group == "" {
			return t, fmt.Errorf("selection term %q: group name is empty", s)
		}
		return t, nil
	case strings.HasPrefix(s, "tag:"):
		t.tag = strings.TrimPrefix(s, "tag:")
		if t.tag == "" {
			return t, fmt.Errorf("selection term %q: tag is empty", s)
		}
		return t, nil
	}
	k := s
	if rest, ok := strings.CutPrefix(k, "+"); ok {
		t.upstream, k = true, rest
	}
	if rest, ok := strings.CutSuffix(k, "+"); ok {
		t.downstrm, k = true, rest
	}
	key, err := asset.ParseKey(k)
	if err != nil {
		return t, fmt.Errorf("selection term %q: %w", s, err)
	}
	t.key = key
	return t, nil
}

// match returns the assets t selects, as graph node indexes.
func (t *term) match(g *graph) ([]int, error) {
	var out []int
	switch {
	case t.group != "":
		for i := range g.specs {
			if g.specs[i].Group == t.group {
				out = append(out, i)
			}
		}
	case t.tag != "":
		for i := range g.specs {
			for _, tag := range g.specs[i].Tags {
				if tag == t.tag {
					out = append(out, i)
					break
				}
			}
		}
	default:
		i, ok := g.index[t.key]
		if !ok {
			return nil, fmt.Errorf("selection term %q: no asset %s", t.text, t.key)
		}
		out = append(out, i)
		if t.upstream {
			out = append(out, g.reach(i, g.up)...)
		}
		if t.downstrm {
			out = append(out, g.reach(i, g.down)...)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("selection term %q matches no asset", t.text)
	}
	return out, nil
}
