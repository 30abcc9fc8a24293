package dbt

import (
	"encoding/json"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

func TestInferColumns(t *testing.T) {
	t.Parallel()
	rel := map[string]relationColumns{
		"db.s.orders":    {key: "k/orders", cols: map[string]string{"id": "id", "customer_id": "customer_id", "total": "Total"}},
		"s.orders":       {key: "k/orders", cols: map[string]string{"id": "id", "customer_id": "customer_id", "total": "Total"}},
		"db.s.customers": {key: "k/customers", cols: map[string]string{"id": "id", "name": "name"}},
	}
	cases := []struct {
		name, sql string
		want      map[string]string // column -> upstream, "" for none
	}{
		{"plain", `select id, customer_id from db.s.orders`, map[string]string{"id": "k/orders#id", "customer_id": "k/orders#customer_id"}},
		{"quoted, renamed, any case", `SELECT "ID" AS order_id, "Total" total FROM "DB"."S"."ORDERS"`, map[string]string{"order_id": "k/orders#id", "total": "k/orders#Total"}},
		{"two-part name and an alias", `select o.id from s.orders as o`, map[string]string{"id": "k/orders#id"}},
		{"join: qualified and unambiguous", `select o.id as order_id, c.name, customer_id from db.s.orders o left join db.s.customers c on c.id = o.customer_id`,
			map[string]string{"order_id": "k/orders#id", "name": "k/customers#name", "customer_id": "k/orders#customer_id"}},
		{"join: an ambiguous unqualified column", `select id from db.s.orders o join db.s.customers c using (id)`, map[string]string{}},
		{"expressions, *, literals", `select id + 1 as x, count(*) as n, *, null as z, 'a' as s, case when id > 0 then 1 end as w from db.s.orders`, map[string]string{}},
		{"an undeclared column", `select nope from db.s.orders`, map[string]string{}},
		{"comments and a CTE", "with recent as (select * from db.s.orders where id > 10) -- keep\n/* the final select */ select r.id, o.customer_id from recent r join db.s.orders o using (id)",
			map[string]string{"customer_id": "k/orders#customer_id"}},
		{"a CTE makes unqualified columns unknown", `with x as (select 1 as id) select customer_id from x, db.s.orders`, map[string]string{}},
		{"union", `select id from db.s.orders union all select id from db.s.customers`, map[string]string{}},
		{"a union after where", `select id from db.s.orders where id in (select id from t) union select 1`, map[string]string{}},
		{"a subquery in from", `select q.id from (select id from db.s.orders) q`, map[string]string{}},
		{"distinct", `select distinct customer_id from db.s.orders group by 1`, map[string]string{"customer_id": "k/orders#customer_id"}},
		{"not a relation it depends on", `select id from db.s.refunds`, map[string]string{}},
		{"unterminated quote", `select "id from db.s.orders`, map[string]string{}},
		{"not a select", `insert into t values (1)`, map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := map[string]string{}
			for col, ins := range inferColumns(c.sql, rel) {
				if len(ins) != 1 {
					t.Errorf("%s: %d inputs", col, len(ins))
					continue
				}
				got[col] = asset.ColumnRef(ins[0].ColumnRef).String()
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(c.want)
			if string(g) != string(w) {
				t.Errorf("%s: got %s, want %s", c.sql, g, w)
			}
		})
	}
}

// FuzzInferColumns: no SQL panics the reader.
func FuzzInferColumns(f *testing.F) {
	f.Add(`select o.id as x, c.name from db.s.orders o join db.s.customers c on c.id = o.customer_id where a in (select 1) union select 2`)
	f.Add(`with a as (select 1), b (x) as materialized (select 2) select "q".* from [a] as "q", b`)
	rel := map[string]relationColumns{"db.s.orders": {key: "k", cols: map[string]string{"id": "id"}}}
	f.Fuzz(func(t *testing.T, sql string) { inferColumns(sql, rel) })
}
