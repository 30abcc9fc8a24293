package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/internal/chtest"
	"github.com/freshet-dev/freshet/leader"
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
