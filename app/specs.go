package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/freshet-dev/freshet/asset"
)

// PutSpecs stores specs made outside the definitions file (a dbt
// import) and makes them current everywhere at once: the catalog, the
// lineage graph's declared edges, the freshness monitor's policies (with
// the file's selection policies applied, as to every stored spec) and the
// runs service's planning graph. Stored first, so they survive a restart
// (rebuild reads them back through mergeSpecs).
//
// The definitions file stays authoritative: a spec whose key it declares
// is stored but not used while the file declares the key; those keys are
// returned. A spec may not carry a materialize command (commands come from
// the file only). Calls are serialised with each other and with declare;
// concurrent events are safe (observe and the lineage reset share
// graphMu, so no observed edge is lost).
func (a *App) PutSpecs(ctx context.Context, specs []asset.Spec) (shadowed []asset.Key, err error) {
	seen := make(map[asset.Key]bool, len(specs))
	for i := range specs {
		s := &specs[i]
		if _, err := asset.ParseKey(string(s.Key)); err != nil {
			return nil, fmt.Errorf("spec %d: %w", i, err)
		}
		if seen[s.Key] {
			return nil, fmt.Errorf("spec %d: %s is given twice", i, s.Key)
		}
		seen[s.Key] = true
		if len(s.Columns) > asset.MaxColumns {
			return nil, fmt.Errorf("spec %s: %d columns, more than the %d allowed", s.Key, len(s.Columns), asset.MaxColumns)
		}
		if s.Materialize != nil {
			return nil, fmt.Errorf("spec %s: a materialize command may only come from the definitions file", s.Key)
		}
		if s.Origin == "" || s.Origin == asset.OriginDeclared {
			return nil, fmt.Errorf("spec %s: origin %q: stored specs say where they came from (api, dbt)", s.Key, s.Origin)
		}
	}
	a.specMu.Lock()
	defer a.specMu.Unlock()
	if err := a.store.PutSpecs(ctx, specs); err != nil {
		return nil, fmt.Errorf("store specs: %w", err)
	}
	return a.applySpecs(specs), nil
}

// applySpecs makes stored specs current: those the definitions file
// declares are shadowed (returned), the rest replace or add to the specs.
// Called with specMu held.
func (a *App) applySpecs(specs []asset.Spec) (shadowed []asset.Key) {
	declared := make(map[asset.Key]bool, len(a.declared))
	for _, s := range a.declared {
		declared[s.Key] = true
	}
	var effective []asset.Spec
	for _, s := range specs {
		if declared[s.Key] {
			shadowed = append(shadowed, s.Key)
			continue
		}
		s = s.Clone()
		s.Freshness = a.defs.SelectPolicy(s)
		effective = append(effective, s)
	}
	if len(effective) == 0 {
		return shadowed
	}

	// The catalog first (the API shows the specs), then the graph, then
	// the monitor, whose passes read the graph.
	added := a.catalog.SetSpecs(effective)
	a.declaredColumns(effective)
	a.selMu.Lock()
	index := make(map[asset.Key]int, len(a.specs))
	for i, s := range a.specs {
		index[s.Key] = i
	}
	next := slices.Clone(a.specs)
	for _, s := range effective {
		if i, ok := index[s.Key]; ok {
			next[i] = s
		} else {
			next = append(next, s)
			a.specKeys[s.Key] = true
		}
		delete(a.selected, s.Key) // a spec now covers it
	}
	a.specs = next
	a.resetDeclaredEdges(next, added)
	a.sendSpecsLocked()
	a.selMu.Unlock()
	a.runs.SetSpecs(runSpecs(next))
	return shadowed
}

// resetDeclaredEdges rebuilds the lineage graph with the declared edges of
// specs (a dependency a re-import dropped goes away) and every observed
// edge and asset it has, plus the keys added. graphMu keeps observe from
// adding edges between the read and the reset.
func (a *App) resetDeclaredEdges(specs []asset.Spec, added []asset.Key) {
	a.graphMu.Lock()
	defer a.graphMu.Unlock()
	g := a.lineage.Current()
	keys := append(slices.Clone(g.Keys()), added...)
	var observed []asset.Edge
	for _, e := range g.All().Edges {
		if e.Observed {
			observed = append(observed, asset.Edge{Upstream: e.Upstream, Downstream: e.Downstream})
		}
	}
	a.lineage.Reset(keys, declaredEdges(specs), observed)
}

// sendSpecsLocked hands the monitor every spec and every selected asset;
// the caller holds selMu.
func (a *App) sendSpecsLocked() {
	all := slices.Clone(a.specs)
	for _, s := range a.selected {
		all = append(all, s)
	}
	a.monitor.SetSpecs(all)
	a.specsSent = true
}

// runSpecs are the specs runs plan over: every effective spec, so a
// selection can go through assets without a command (a dbt model between
// two declared assets); only the file's specs carry commands.
func runSpecs(specs []asset.Spec) []asset.Spec {
	out := make([]asset.Spec, len(specs))
	for i, s := range specs {
		if s.Origin != asset.OriginDeclared {
			s.Materialize = nil
		}
		out[i] = s
	}
	return out
}
