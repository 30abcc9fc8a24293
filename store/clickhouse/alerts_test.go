package clickhouse

import (
	"context"
	"strings"
	"testing"
)

// TestAlertStatementsRunOnServer runs alertStatements, the list the chDB
// test runs on current ClickHouse, on the test server (18.16), twice as
// there, and checks how many rows each read finds: every record once, in
// its newest version, and only where that version matches. Merges are
// stopped, so the old versions are there for FINAL to pass over.
func TestAlertStatementsRunOnServer(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	ctx := context.Background()
	for _, name := range []string{"alert_delivery_records", "alert_incidents", "alert_silences"} {
		if err := st.conn.Exec(ctx, "SYSTEM STOP MERGES "+st.schema.table(name)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{
		"alerts due":                                  1, // dl-2: dl-1's pending version is old
		"alerts due limit 1":                          1,
		"alerts incidents":                            2,
		"alerts incidents open":                       1, // inc-2: inc-1's open version is old
		"alerts silences":                             1,
		"alerts deliveries":                           2,
		"alerts deliveries pending":                   1,
		"alerts deliveries delivered to pagerduty":    1,
		"alerts deliveries of key pending":            0, // only an old version of dl-1 was pending
		"alerts deliveries of key to pagerduty after": 1,
	}
	found := map[string]int{} // statement name -> rows
	for range 2 {
		for _, s := range alertStatements(st.schema.db) {
			if !strings.HasPrefix(s.name, "alerts ") {
				t.Errorf("statement %q does not say it is an alerts statement", s.name)
			}
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
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: no expected row count", name)
			continue
		}
		if n != w {
			t.Errorf("%s: %d rows, want %d", name, n, w)
		}
	}
	if len(found) != len(want) {
		t.Errorf("%d reads ran, want %d", len(found), len(want))
	}
}

// TestAlertTablesReplacePlaceholder checks what migration 4 leaves: the
// three alert tables, and no alert_deliveries placeholder.
func TestAlertTablesReplacePlaceholder(t *testing.T) {
	t.Parallel()
	st, _ := openStore(t)
	rows, err := st.conn.Query(context.Background(),
		"SELECT name FROM system.tables WHERE database = ? AND name LIKE 'alert%' ORDER BY name", st.schema.db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, " "); got != "alert_delivery_records alert_incidents alert_silences" {
		t.Errorf("alert tables: %s", got)
	}
}
