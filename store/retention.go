package store

import (
	"context"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Trimmer removes history older than a retention window; package
// retention runs it on a timer. Both stores implement it;
// storetest.RunRetention is its conformance suite.
//
// What a trim keeps, whatever its age (docs/operations.md, "Retention"):
// for every (asset, kind, check name, partition) the latest event before
// the cut, so the catalog's latest state, every check's latest result,
// every partition's latest materialization and the success each asset
// held at the cut (the data time of what was built after it) survive;
// each asset's first event and first materialization (where freshness
// counts a grace period from); and the lineage edges events reported
// (ObservedEdges). The ids of removed events may be forgotten, so a
// removed event sent again may be stored again (and is removed by the
// next trim).
//
// A store may remove less than asked: the ClickHouse store drops whole
// months, so it removes the events of the months that ended before the
// cut and keeps the rest of the cut's month. Summaries' Counts count the
// events a store still holds; FirstTime does not change (the first event
// is kept).
type Trimmer interface {
	// TrimEvents removes events with Time before `before`, keeping those
	// above.
	TrimEvents(ctx context.Context, before time.Time) (Trimmed, error)
	// TrimRunLogs removes run output lines with Time before `before`.
	TrimRunLogs(ctx context.Context, before time.Time) (Trimmed, error)
}

// Trimmed is what one trim removed.
type Trimmed struct {
	Rows       int64 // rows (events, log lines) removed
	Partitions int   // whole partitions dropped or replaced (ClickHouse), 0 for the embedded store
	Kept       int64 // events older than the cut kept (the latest of their group, an asset's firsts)
	// Removed counts the removed events by asset and kind (distinct ids,
	// as Summaries counts them), so that a catalog loaded from Summaries
	// before the trim can lower its counts to match. Nil for run logs.
	Removed map[asset.Key]map[asset.Kind]int64
}

// AddRemoved adds n removed events of asset a and kind k.
func (t *Trimmed) AddRemoved(a asset.Key, k asset.Kind, n int64) {
	if t.Removed == nil {
		t.Removed = map[asset.Key]map[asset.Kind]int64{}
	}
	if t.Removed[a] == nil {
		t.Removed[a] = map[asset.Kind]int64{}
	}
	t.Removed[a][k] += n
}
