package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/store"
)

// benchNotification is a notification of the size the alert pipeline
// sends: about 1 KiB of JSON.
func benchNotification(i int) []byte {
	impacted := make([]string, 12)
	for k := range impacted {
		impacted[k] = fmt.Sprintf(`"warehouse/schema%d/table%05d"`, k, i)
	}
	return fmt.Appendf(nil, `{"Key":"freshness/raw/orders%05d","Status":"firing","Severity":"critical",`+
		`"Summary":"raw/orders%05d is stale: no successful materialization for 3h12m","RootCause":"raw/orders%05d",`+
		`"Asset":"raw/orders%05d","Impacted":[%s],"Group":"ingest","Rule":"freshness-critical",`+
		`"Owners":["team:data-eng","oncall@example.com"],"Lag":11520000000000,`+
		`"Links":{"asset":"https://freshet.example.com/assets/raw/orders%05d","runbook":"https://wiki.example.com/runbooks/freshness"},`+
		`"StartsAt":"2026-11-24T05:00:00Z","Details":{"policy":"max_lag 1h","reason":"upstream failed"}}`,
		i, i, i, i, strings.Join(impacted, ","), i)
}

// genDeliveries makes n pending deliveries a second apart, due when made,
// with ids that sort by time as the outbox's do.
func genDeliveries(n int) []store.Delivery {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := make([]store.Delivery, n)
	for i := range out {
		at := t0.Add(time.Duration(i) * time.Second)
		out[i] = store.Delivery{
			ID: fmt.Sprintf("dl-%08d", i), Receiver: []string{"pagerduty", "webhook", "alertmanager"}[i%3],
			Key: fmt.Sprintf("freshness/raw/orders%05d", i/4), Status: "firing", Notification: benchNotification(i),
			State: store.DeliveryPending, NextAttempt: at, Created: at, Updated: at,
		}
	}
	return out
}

// deliveryValues is a delivery as the baseline appends it, converted
// before the clock starts.
func deliveryValues(d *store.Delivery) []any {
	return []any{d.ID, d.Receiver, d.Key, d.Status, string(d.Notification), d.State, int64(d.Attempts),
		nsOf(d.NextAttempt), int64(d.LastCode), d.LastError, int64(d.LastLatency), nsOf(d.Created), nsOf(d.Updated)}
}

// baselineDeliveries creates alert_delivery_records_baseline, a copy of
// the deliveries table, and returns its name.
func baselineDeliveries(b *testing.B, st *Store) string {
	b.Helper()
	table := st.schema.table("alert_delivery_records_baseline")
	ddl := strings.Replace(alertTables(st.schema)[0], st.schema.table("alert_delivery_records"), table, 1)
	if err := st.conn.Exec(context.Background(), ddl); err != nil {
		b.Fatal(err)
	}
	return table
}

// BenchmarkPutDeliveries compares PutDeliveries of 1,000 deliveries (1 KiB
// notifications) with the baseline: clickhouse-go's PrepareBatch and a
// row-at-a-time Append of the same rows, converted beforehand, into an
// identical table.
func BenchmarkPutDeliveries(b *testing.B) {
	const n = 1000
	ds := genDeliveries(n)
	b.Run("store", func(b *testing.B) {
		st, _ := openStore(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := st.PutDeliveries(context.Background(), ds); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("baseline", func(b *testing.B) {
		st, _ := openStore(b)
		ctx := context.Background()
		insert := "INSERT INTO " + baselineDeliveries(b, st) + " (" + deliveryCols + ")"
		rows := make([][]any, n)
		for i := range ds {
			rows[i] = deliveryValues(&ds[i])
		}
		b.ReportAllocs()
		for b.Loop() {
			batch, err := st.conn.PrepareBatch(ctx, insert)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rows {
				if err := batch.Append(r...); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkDueDeliveries times DueDeliveries(limit 100) over an outbox of
// 20,000 deliveries, all put pending and then 19,000 of them put again as
// delivered, so 1,000 are due and FINAL has old versions to pass over,
// with merges stopped (unmerged) and after OPTIMIZE ... FINAL (merged).
// The baseline reads the same 100 rows raw from a table holding only the
// current versions: one ORDER BY ... LIMIT without FINAL or subqueries,
// scanned into the same row type. single-final is the query the store
// does not use, FINAL over every column and the conditions outside it,
// for comparison. page is one Deliveries page of 100.
func BenchmarkDueDeliveries(b *testing.B) {
	const n, pending, limit = 20_000, 1000, 100
	st, _ := openStore(b)
	ctx := context.Background()
	table := st.schema.table("alert_delivery_records")
	if err := st.conn.Exec(ctx, "SYSTEM STOP MERGES "+table); err != nil {
		b.Fatal(err)
	}
	ds := genDeliveries(n)
	for i := 0; i < n; i += 5000 {
		if err := st.PutDeliveries(ctx, ds[i:i+5000]); err != nil {
			b.Fatal(err)
		}
	}
	// Every 20th delivery stays pending, spread over the table.
	for i := range ds {
		if i%(n/pending) != 0 {
			ds[i].State, ds[i].Attempts, ds[i].LastCode = store.DeliveryDelivered, 1, 202
			ds[i].Updated = ds[i].Updated.Add(time.Second)
		}
	}
	for i := 0; i < n; i += 5000 {
		if err := st.PutDeliveries(ctx, ds[i:i+5000]); err != nil {
			b.Fatal(err)
		}
	}
	now := ds[n-1].Created.Add(time.Hour)
	check := func(b *testing.B, got []store.Delivery) {
		if len(got) != limit || got[0].ID != "dl-00000000" || got[limit-1].ID != fmt.Sprintf("dl-%08d", (limit-1)*(n/pending)) {
			b.Fatalf("%d due: %s", len(got), deliveryIDList(got))
		}
	}
	storeDue := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			got, err := st.DueDeliveries(ctx, now, limit)
			if err != nil {
				b.Fatal(err)
			}
			check(b, got)
		}
	}
	singleFinal := func(b *testing.B) {
		sql := "SELECT " + deliveryCols + " FROM (SELECT " + deliveryCols + " FROM " + table + " FINAL)" +
			" WHERE state = ? AND next_attempt_ns <= ? ORDER BY next_attempt_ns, id LIMIT ?"
		b.ReportAllocs()
		for b.Loop() {
			got, err := st.queryDeliveries(ctx, sql, []any{store.DeliveryPending, nsOf(now), limit}, limit)
			if err != nil {
				b.Fatal(err)
			}
			check(b, got)
		}
	}
	page := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := st.Deliveries(ctx, store.DeliveryQuery{Limit: limit})
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Deliveries) != limit || p.Deliveries[0].ID != fmt.Sprintf("dl-%08d", n-1) {
				b.Fatalf("page of %d", len(p.Deliveries))
			}
		}
	}
	// The baseline's table, filled once (-count runs each sub-benchmark
	// again within this function).
	base := baselineDeliveries(b, st)
	if err := st.conn.Exec(ctx, "INSERT INTO "+base+" ("+deliveryCols+") SELECT "+deliveryCols+" FROM "+table+" FINAL"); err != nil {
		b.Fatal(err)
	}
	b.Run("store-unmerged", storeDue)
	b.Run("single-final-unmerged", singleFinal)
	b.Run("page-unmerged", page)
	b.Run("baseline", func(b *testing.B) {
		sql := "SELECT " + deliveryCols + " FROM " + base + " WHERE state = ? AND next_attempt_ns <= ? ORDER BY next_attempt_ns, id LIMIT ?"
		b.ReportAllocs()
		for b.Loop() {
			got, err := st.queryDeliveries(ctx, sql, []any{store.DeliveryPending, nsOf(now), limit}, limit)
			if err != nil {
				b.Fatal(err)
			}
			check(b, got)
		}
	})
	if err := st.conn.Exec(ctx, "SYSTEM START MERGES "+table); err != nil {
		b.Fatal(err)
	}
	if err := st.conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
		b.Fatal(err)
	}
	b.Run("store-merged", storeDue)
	b.Run("single-final-merged", singleFinal)
	b.Run("page-merged", page)
}

func deliveryIDList(ds []store.Delivery) string {
	ids := make([]string, len(ds))
	for i := range ds {
		ids[i] = ds[i].ID
	}
	return strings.Join(ids, " ")
}
