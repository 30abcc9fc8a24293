package main

import (
	"context"
	"fmt"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// serverEvents are the ClickHouse server's counters (system.events) the
// bench reports per phase: what the server did besides the inserts.
var serverEvents = []string{"SelectQuery", "InsertQuery", "SelectedRows", "InsertedRows", "MergedRows"}

// serverCounters reads serverEvents from the server of dsn.
func serverCounters(ctx context.Context, dsn string) (map[string]uint64, error) {
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, "SELECT event, value FROM system.events WHERE event IN ('"+strings.Join(serverEvents, "','")+"')")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var name string
		var v uint64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, rows.Err()
}

// counterDelta formats after - before for every counter.
func counterDelta(before, after map[string]uint64) string {
	var parts []string
	for _, name := range serverEvents {
		parts = append(parts, fmt.Sprintf("%s %d", name, after[name]-before[name]))
	}
	return strings.Join(parts, ", ")
}
