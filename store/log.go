package store

import (
	"context"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// EventLog is the order in which a shared store took events: servers that
// share one store (several Freshet replicas on one ClickHouse) follow it to
// learn what the others stored. store/clickhouse implements it; the
// embedded store is one process's own and has no use for it.
type EventLog interface {
	// StartLog makes the store log every event it takes from now on (it
	// is idempotent). Servers that share the store call it before they
	// read the log; a single server does not, and pays for no log.
	StartLog(ctx context.Context) error
	// Logged returns up to limit entries stored at or after since (to the
	// store's clock, whole seconds), strictly after the entry after when it
	// is not nil, in (Stored, ID) order.
	Logged(ctx context.Context, since time.Time, after *LogEntry, limit int) ([]LogEntry, error)
	// LoggedEvents returns the stored events of entries (each id once, the
	// copy reads show), in no particular order. Ids the store does not
	// hold (yet) are left out.
	LoggedEvents(ctx context.Context, entries []LogEntry) ([]asset.Event, error)
	// TrimLog removes entries stored before the day of before (the log is
	// kept by day); events themselves stay.
	TrimLog(ctx context.Context, before time.Time) error
}

// LogEntry is one event in the log.
type LogEntry struct {
	Stored time.Time // when the store took it, whole seconds
	ID     string
	Asset  asset.Key
	Time   time.Time // the event's time
}
