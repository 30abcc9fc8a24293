package app

import (
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// declaredColumns sets the column lineage of specs that declare columns
// (a column's deps; none clears what an earlier declaration set): what an
// asset's events report replaces it, and is not replaced by it.
func (a *App) declaredColumns(specs []asset.Spec) {
	for _, sp := range specs {
		if len(sp.Columns) == 0 {
			continue
		}
		cl := asset.ColumnLineage{}
		for _, c := range sp.Columns {
			if len(c.Deps) > 0 {
				cl[c.Name] = c.Deps
			}
		}
		a.columns.Set(sp.Key, cl, time.Time{})
	}
}

// summaryColumns sets, after a restart, the column lineage of the latest
// materialization or observation of each asset that carries one.
func (a *App) summaryColumns(sums []store.Summary) {
	for i := range sums {
		for _, e := range []*asset.Event{sums[i].LastMaterialization, sums[i].LastObservation} {
			a.eventColumns(e)
		}
	}
}

// eventColumns sets e's column lineage, if it carries one; a newer report
// already in force wins.
func (a *App) eventColumns(e *asset.Event) {
	if e == nil {
		return
	}
	if _, ok := e.Metadata[asset.ColumnLineageKey]; !ok {
		return
	}
	cl, err := asset.ColumnLineageOf(e.Metadata)
	if err != nil {
		// accepted by an older version, or written to the store by hand
		a.log.Warn("column lineage not read", "asset", e.Asset, "event", e.ID, "err", err)
		return
	}
	a.columns.Set(e.Asset, cl, e.Time)
}
