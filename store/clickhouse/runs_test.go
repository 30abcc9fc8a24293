package clickhouse

import (
	"context"
	"strings"
	"testing"
)

// TestRunStatementsRunOnServer runs runStatements, the list the chDB test
// runs on current ClickHouse, on the test server (18.16), twice as there,
// and checks what the listing finds: the run once, in its newest state.
func TestRunStatementsRunOnServer(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	found := map[string]int{} // statement name -> rows
	for range 2 {
		for _, s := range runStatements(st.schema.db) {
			if s.batch {
				batch, err := st.conn.PrepareBatch(ctx, s.sql)
				if err == nil {
					if err = batch.Append(s.args...); err == nil {
						err = batch.Send()
					}
				}
				if err != nil {
					t.Fatalf("%s: %v\n%s", s.name, err, s.sql)
				}
				continue
			}
			rows, err := st.conn.Query(ctx, s.sql, s.args...)
			if err != nil {
				t.Fatalf("%s: %v\n%s", s.name, err, s.sql)
			}
			found[s.name] = 0
			for rows.Next() {
				found[s.name]++
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s: %v\n%s", s.name, err, s.sql)
			}
			rows.Close()
		}
	}
	for name, n := range found {
		want := 1
		switch {
		case name == "runs page succeeded":
			want = 0 // only an old version of the run succeeded
		case name == "runs logs":
			want = 2 // a copy per pass: the reader skips them
		case !strings.HasPrefix(name, "runs "):
			t.Errorf("statement %q does not say it is a runs statement", name)
		}
		if n != want {
			t.Errorf("%s: %d rows, want %d", name, n, want)
		}
	}
}
