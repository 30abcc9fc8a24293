package executor

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"

	"github.com/freshet-dev/freshet/asset"
)

// Plan is a selection turned into steps.
type Plan struct {
	Selection []string
	// Steps in dependency order: each after every step in its Upstream.
	Steps []Step
	// NotSteps are selected assets that are not steps, with why: they have
	// no materialize command. They are not run, and not waited for.
	NotSteps []NotStep
}

// Step materializes one asset.
type Step struct {
	Key         asset.Key
	Materialize asset.MaterializeSpec
	// Upstream are the steps of this plan that must succeed first: the
	// nearest steps upstream in the asset graph, directly or through assets
	// that are not steps of this plan.
	Upstream []asset.Key
	// CodeVersion and Partitions are the asset's, for the child's Pipes
	// context (code_version_by_asset_key, partition_time_window).
	CodeVersion string
	Partitions  *asset.PartitionsSpec
}

// NotStep is a selected asset the plan does not run.
type NotStep struct {
	Key    asset.Key
	Reason string
}

// ReasonNoCommand is NotStep.Reason for an asset without a materialize
// command.
const ReasonNoCommand = "no materialize command"

// NewPlan turns a selection over specs into steps. A step is a selected
// asset with a materialize command; it runs after every step upstream of
// it in the graph of all specs. Errors: an empty selection, a term that
// matches nothing (the error names the term), a dependency cycle among the
// selected assets and their ancestors (the error prints it), a selection
// with nothing to run.
func NewPlan(specs []asset.Spec, selection []string) (*Plan, error) {
	if len(selection) == 0 {
		return nil, ErrEmptySelection
	}
	g, err := newGraph(specs)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	selected := make([]bool, len(specs))
	var roots []int
	for _, s := range selection {
		t, err := parseTerm(s)
		if err != nil {
			return nil, err
		}
		nodes, err := t.match(g)
		if err != nil {
			return nil, err
		}
		for _, v := range nodes {
			if !selected[v] {
				selected[v] = true
				roots = append(roots, v)
			}
		}
	}
	slices.Sort(roots)
	if c := g.cycle(roots); c != "" {
		return nil, fmt.Errorf("plan: dependency cycle: %s", c)
	}

	p := &Plan{Selection: slices.Clone(selection)}
	isStep := make([]bool, len(specs))
	for _, v := range roots {
		if specs[v].Materialize != nil {
			isStep[v] = true
		} else {
			p.NotSteps = append(p.NotSteps, NotStep{Key: specs[v].Key, Reason: ReasonNoCommand})
		}
	}
	slices.SortFunc(p.NotSteps, func(a, b NotStep) int { return strings.Compare(string(a.Key), string(b.Key)) })

	upstream := make(map[int][]int)
	for _, v := range roots {
		if isStep[v] {
			upstream[v] = nearestSteps(g, v, isStep)
		}
	}
	if len(upstream) == 0 {
		keys := make([]string, 0, len(roots))
		for _, v := range roots {
			keys = append(keys, string(specs[v].Key))
		}
		slices.Sort(keys)
		return nil, fmt.Errorf("nothing to materialize: %s selects %s, and none has a materialize command", strings.Join(selection, " "), strings.Join(keys, ", "))
	}
	for _, v := range topoOrder(g, upstream) {
		s := Step{Key: specs[v].Key, Materialize: cloneMaterialize(specs[v].Materialize), CodeVersion: specs[v].CodeVersion}
		if p := specs[v].Partitions; p != nil {
			s.Partitions = asset.Spec{Partitions: p}.Clone().Partitions
		}
		for _, u := range upstream[v] {
			s.Upstream = append(s.Upstream, specs[u].Key)
		}
		slices.Sort(s.Upstream)
		p.Steps = append(p.Steps, s)
	}
	return p, nil
}

// nearestSteps walks upstream from v through non-step assets and returns
// the first steps met on each path.
func nearestSteps(g *graph, v int, isStep []bool) []int {
	seen := map[int]bool{v: true}
	stack := slices.Clone(g.up[v])
	var out []int
	for len(stack) > 0 {
		w := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[w] {
			continue
		}
		seen[w] = true
		if isStep[w] {
			out = append(out, w)
			continue
		}
		stack = append(stack, g.up[w]...)
	}
	return out
}

// topoOrder orders the steps (keys of upstream) so each comes after its
// upstream steps; among steps ready at once, by key, so plans are stable.
func topoOrder(g *graph, upstream map[int][]int) []int {
	waiting := make(map[int]int, len(upstream))
	down := make(map[int][]int, len(upstream))
	ready := &keyHeap{g: g}
	for v, ups := range upstream {
		waiting[v] = len(ups)
		for _, u := range ups {
			down[u] = append(down[u], v)
		}
		if len(ups) == 0 {
			ready.items = append(ready.items, v)
		}
	}
	heap.Init(ready)
	order := make([]int, 0, len(upstream))
	for ready.Len() > 0 {
		v := heap.Pop(ready).(int)
		order = append(order, v)
		for _, w := range down[v] {
			if waiting[w]--; waiting[w] == 0 {
				heap.Push(ready, w)
			}
		}
	}
	return order // complete: cycles were refused before
}

type keyHeap struct {
	g     *graph
	items []int
}

func (h *keyHeap) Len() int           { return len(h.items) }
func (h *keyHeap) Less(i, j int) bool { return h.g.specs[h.items[i]].Key < h.g.specs[h.items[j]].Key }
func (h *keyHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *keyHeap) Push(x any)         { h.items = append(h.items, x.(int)) }
func (h *keyHeap) Pop() any {
	v := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return v
}

func cloneMaterialize(m *asset.MaterializeSpec) asset.MaterializeSpec {
	s := asset.Spec{Materialize: m}.Clone()
	return *s.Materialize
}
