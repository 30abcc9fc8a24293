package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// genSteps makes n steps of n/10 runs, ten each, with every field set.
func genSteps(n int) []store.StepRecord {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := make([]store.StepRecord, n)
	for i := range out {
		at := t0.Add(time.Duration(i) * 1013 * time.Millisecond)
		out[i] = store.StepRecord{
			RunID: fmt.Sprintf("run-%05d", i/10), Asset: asset.Key(fmt.Sprintf("warehouse/schema%d/table%05d", i%7, i)),
			Index: i % 10, Status: "SUCCESS", Attempts: 1 + i%3, Reason: "exit status 0",
			Started: at, Ended: at.Add(42 * time.Second), PID: 10_000 + i, PIDStart: uint64(1_000_000 + i),
			Updated: at.Add(42 * time.Second),
		}
	}
	return out
}

// genRuns makes n runs, a second apart.
func genRuns(n int, status string, updated time.Duration) []store.RunRecord {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := make([]store.RunRecord, n)
	for i := range out {
		created := t0.Add(time.Duration(i) * time.Second)
		out[i] = store.RunRecord{
			ID: fmt.Sprintf("run-%05d", i), Status: status, Trigger: "automation", Selection: "+warehouse/orders",
			Owner: "freshet-0", Created: created, Started: created.Add(time.Second), Updated: created.Add(updated),
		}
	}
	return out
}

// BenchmarkRunSteps compares PutSteps of 500 steps with the baseline:
// clickhouse-go's PrepareBatch and a row-at-a-time Append of the same rows,
// converted beforehand, into an identical table.
func BenchmarkRunSteps(b *testing.B) {
	const n = 500
	steps := genSteps(n)
	b.Run("store", func(b *testing.B) {
		st, _ := openStore(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := st.PutSteps(context.Background(), steps); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("baseline", func(b *testing.B) {
		st, _ := openStore(b)
		ctx := context.Background()
		table := st.schema.table("run_steps_baseline")
		ddl := strings.Replace(runTables(st.schema)[1], st.schema.table("run_steps"), table, 1)
		if err := st.conn.Exec(ctx, ddl); err != nil {
			b.Fatal(err)
		}
		rows := make([][]any, n)
		for i := range steps {
			s := &steps[i]
			rows[i] = []any{s.RunID, string(s.Asset), int64(s.Index), s.Status, int64(s.Attempts), s.Reason,
				s.Started.UnixNano(), s.Ended.UnixNano(), int64(s.PID), s.PIDStart, s.Updated.UnixNano()}
		}
		insert := "INSERT INTO " + table + " (" + stepCols + ")"
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

// BenchmarkRunsPage times a page of 100 runs, the first and one deep in
// the listing, from 5,000 runs stored in two versions each (so FINAL has
// copies to resolve). The baseline is the same rows read raw: the newest
// 100 by the same ORDER BY from a table holding only current versions,
// scanned into the same row type, without FINAL and the subquery.
func BenchmarkRunsPage(b *testing.B) {
	const n, limit = 5_000, 100
	st, _ := openStore(b)
	ctx := context.Background()
	if err := st.PutRuns(ctx, genRuns(n, "STARTED", time.Second)); err != nil {
		b.Fatal(err)
	}
	if err := st.PutRuns(ctx, genRuns(n, "SUCCESS", time.Minute)); err != nil {
		b.Fatal(err)
	}
	first, err := st.Runs(ctx, store.RunQuery{Limit: limit})
	if err != nil || len(first.Runs) != limit || first.Runs[0].ID != fmt.Sprintf("run-%05d", n-1) || first.Runs[0].Status != "SUCCESS" {
		b.Fatalf("first page: %d runs, err %v", len(first.Runs), err)
	}
	deep := store.RunQuery{Limit: limit, Cursor: store.EncodeCursor(store.Position{
		Time: first.Runs[0].Created.Add(-time.Duration(n/2) * time.Second), ID: fmt.Sprintf("run-%05d", n/2)})}
	for _, c := range []struct {
		name string
		q    store.RunQuery
	}{{"store", store.RunQuery{Limit: limit}}, {"store-deep", deep}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := st.Runs(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Runs) != limit {
					b.Fatalf("%d runs", len(p.Runs))
				}
			}
		})
	}
	b.Run("baseline", func(b *testing.B) {
		table := st.schema.table("run_records_baseline")
		ddl := strings.Replace(runTables(st.schema)[0], st.schema.table("run_records"), table, 1)
		if err := st.conn.Exec(ctx, ddl); err != nil {
			b.Fatal(err)
		}
		if err := st.conn.Exec(ctx, "INSERT INTO "+table+" ("+runCols+") SELECT "+runCols+" FROM "+
			st.schema.table("run_records")+" FINAL"); err != nil {
			b.Fatal(err)
		}
		sql := "SELECT " + runCols + " FROM " + table + " ORDER BY created_ns DESC, run_id DESC LIMIT ?"
		b.ReportAllocs()
		for b.Loop() {
			rows, err := st.conn.Query(ctx, sql, limit)
			if err != nil {
				b.Fatal(err)
			}
			got := make([]runRow, 0, limit)
			for rows.Next() {
				var r runRow
				if err := rows.Scan(r.dest()...); err != nil {
					b.Fatal(err)
				}
				got = append(got, r)
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			rows.Close()
			if len(got) != limit {
				b.Fatalf("%d rows", len(got))
			}
		}
	})
}
