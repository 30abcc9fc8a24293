package store

import (
	"context"
	"time"
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
	Kept       int64 // rows older than the cut kept as the latest of their kind (events)
}
