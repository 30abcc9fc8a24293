package clickhouse

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// InsertBaseline is the raw ceiling ingest benchmarks compare against
// (bench/ingest): the same events written with nothing but clickhouse-go's
// PrepareBatch and a row-at-a-time Append, batchRows per insert, into a
// fresh copy of the events table (events_baseline). Rows are converted
// before the clock starts, so only the driver and the server are timed.
// The table is dropped after: the server would otherwise go on merging
// its parts into whatever is measured next. It returns the elapsed time.
func (st *Store) InsertBaseline(ctx context.Context, events []asset.Event, batchRows int) (time.Duration, error) {
	table := st.schema.table("events_baseline")
	if err := st.conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		return 0, err
	}
	ddl := strings.Replace(initialTables(st.schema)[0], st.schema.table("events"), table, 1)
	if err := st.conn.Exec(ctx, ddl); err != nil {
		return 0, err
	}
	rows := make([][]any, len(events))
	for i, e := range events {
		r, err := eventRow(e)
		if err != nil {
			return 0, err
		}
		rows[i] = r
	}
	insert := "INSERT INTO " + table + " (" + insertEventCols + ")"
	// Collect the conversion's garbage first: whether a collection of
	// the caller's large heap fell inside the timed loop or not made the
	// ceiling swing by 2x between otherwise equal runs.
	runtime.GC()
	start := time.Now()
	for i := 0; i < len(rows); i += batchRows {
		batch, err := st.conn.PrepareBatch(ctx, insert)
		if err != nil {
			return 0, err
		}
		for _, r := range rows[i:min(i+batchRows, len(rows))] {
			if err := batch.Append(r...); err != nil {
				return 0, fmt.Errorf("baseline append: %w", err)
			}
		}
		if err := batch.Send(); err != nil {
			return 0, fmt.Errorf("baseline send: %w", err)
		}
	}
	took := time.Since(start)
	if err := st.conn.Exec(ctx, "DROP TABLE "+table); err != nil {
		return 0, fmt.Errorf("baseline drop: %w", err)
	}
	return took, nil
}
