package app_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	clickhousego "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/leader"
	"github.com/freshet-dev/freshet/store/clickhouse"
)

// follower is an election this server never wins: the tests below are
// about following, which every server does whoever leads
// (internal/e2e's replicas test runs real elections).
type follower struct{}

func (follower) Lead(ctx context.Context, _ func(context.Context)) error {
	<-ctx.Done()
	return ctx.Err()
}

func (follower) Leader() (leader.Member, bool) { return leader.Member{}, false }

// TestServersFollowEachOther: two servers on one real ClickHouse. What
// one ingests, the other shows; an asset one declares (an SLA set before
// it reported anything: a stored spec, like a dbt import's) appears on
// the other too.
func TestServersFollowEachOther(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch, err := chtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Stop() })
	dsn := ch.DSN() + "/follow"
	var srv [2]running
	for i, name := range []string{"a", "b"} {
		srv[i] = serve(t, app.Config{Store: dsn, DataDir: t.TempDir(), Logger: quiet, Instance: name,
			Election: follower{}, FollowOverlap: 500 * time.Millisecond})
	}
	if status, body := do(t, http.MethodPost, srv[0].base+"/api/v1/events", `{"kind":"materialization","asset":"raw/orders"}`); status != http.StatusAccepted {
		t.Fatalf("POST events to a = %d %v", status, body)
	}
	if status, body := do(t, http.MethodPut, srv[0].base+"/api/v1/assets/mart%2Fplanned/freshness/policy", `{"max_lag":"2h","actor":"test"}`); status != http.StatusOK {
		t.Fatalf("PUT policy on a = %d %v", status, body)
	}
	// raw/orders is discovered (an event); mart/planned has the spec a
	// stored, origin api (its policy event alone would make it discovered).
	for path, origin := range map[string]string{"/api/v1/assets/raw%2Forders": "discovered", "/api/v1/assets/mart%2Fplanned": "api"} {
		deadline := time.Now().Add(time.Minute)
		for {
			status, body := do(t, http.MethodGet, srv[1].base+path, "")
			if spec, _ := body["spec"].(map[string]any); status == http.StatusOK && spec["origin"] == origin {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("b: GET %s = %d %v after a minute", path, status, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The SLA set on a is b's too: it is an event, followed like the rest.
	deadline := time.Now().Add(time.Minute)
	for {
		status, body := do(t, http.MethodGet, srv[1].base+"/api/v1/assets/mart%2Fplanned/freshness", "")
		eff, _ := body["policy"].(map[string]any)
		if p, _ := eff["policy"].(map[string]any); status == http.StatusOK && p != nil && p["max_lag"] == "2h" && eff["source"] == "api" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b: the SLA set on a: %d %v", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSingleServerTrimsEventLog: ClickHouse fills event_log on every
// insert, so a server without peers trims it too: a day-old entry is gone
// soon after it starts, and a fresh one stays.
func TestSingleServerTrimsEventLog(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := chtest.Server(t)                                            // a database of its own on the shared server
	st, err := clickhouse.Open(ctx, dsn, clickhouse.WithLogger(quiet)) // the schema, event_log included
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	opts, err := clickhousego.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhousego.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	log := "`" + opts.Auth.Database + "`.event_log"
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+log+" (stored, id, asset, time_ns)")
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-72 * time.Hour)
	for _, row := range []struct {
		stored time.Time
		id     string
	}{{old, "old"}, {time.Now(), "new"}} {
		if err := batch.Append(row.stored, row.id, "raw/a", row.stored.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	ids := func() []string {
		rows, err := conn.Query(ctx, "SELECT id FROM "+log+" ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	if got := ids(); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("event_log before the server = %v", got)
	}
	serve(t, app.Config{Store: dsn, DataDir: t.TempDir(), Logger: quiet})
	deadline := time.Now().Add(time.Minute)
	for got := ids(); !slices.Equal(got, []string{"new"}); got = ids() {
		if time.Now().After(deadline) {
			t.Fatalf("event_log a minute after a single server started = %v, want [new]", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
