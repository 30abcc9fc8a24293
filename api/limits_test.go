package api_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
)

// limitOf asserts a refusal by a limit: the status, the code, the limit's
// name in the JSON error, and Retry-After when the status is 429.
func limitOf(t *testing.T, r response, status int, code, name string) (max, current int64) {
	t.Helper()
	var body struct {
		Error struct {
			Code, Message string
			Limit         *struct {
				Name         string
				Max, Current int64
			}
		}
	}
	if err := json.Unmarshal(r.body, &body); err != nil || r.status != status || body.Error.Code != code ||
		body.Error.Limit == nil || body.Error.Limit.Name != name || !strings.Contains(body.Error.Message, "--"+name) {
		t.Fatalf("got %d %s, want %d %s naming the limit %s", r.status, r.body, status, code, name)
	}
	if status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
		t.Errorf("%s without Retry-After", code)
	}
	return body.Error.Limit.Max, body.Error.Limit.Current
}

func newAsset(key string) string { return fmt.Sprintf(`{"kind":"materialization","asset":%q}`, key) }

// TestConcurrentIngestLimit: while ingest requests use all the room
// (by count, or by the size of their bodies), one more waits, then gets
// 429 naming the limit; reads go on; once room frees, ingest works again.
func TestConcurrentIngestLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		count      int
		bytes      int64
		heldLength string // the Content-Length of the body that holds the room
		limit      string
		max        int64
	}{
		{"count", 1, -1, "100000", "max-concurrent-ingest", 1},
		{"bytes", -1, 1000, "600", "max-ingest-bytes", 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := serverWith(t, func(c *app.Config) {
				c.MaxConcurrentIngest, c.MaxIngestBytes, c.IngestWait = tc.count, tc.bytes, 50*time.Millisecond
			})
			addr := strings.TrimPrefix(base, "http://")
			// A body that is still arriving holds its room.
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /api/v1/events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: %s\r\n\r\n{\"kind\":", addr, tc.heldLength)
			var busy response
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				// 500 bytes: within the byte budget alone, not beside the held 600.
				body := newAsset("raw/orders") + strings.Repeat(" ", 500)
				if busy = post(t, base+"/api/v1/events", "application/json", body); busy.status == http.StatusTooManyRequests {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ingest never refused while a body held the room: %d %s", busy.status, busy.body)
				}
			}
			if max, _ := limitOf(t, busy, http.StatusTooManyRequests, "ingest_busy", tc.limit); max != tc.max {
				t.Errorf("limit max = %d, want %d", max, tc.max)
			}
			for _, path := range []string{"/api/v1/lineage", "/api/v1/lineage/batch"} {
				limitOf(t, post(t, base+path, "application/json", olBase), http.StatusTooManyRequests, "ingest_busy", tc.limit)
			}
			if r := get(t, base+"/api/v1/assets"); r.status != http.StatusOK {
				t.Errorf("reads are not ingest: GET /assets = %d", r.status)
			}
			if m := string(get(t, base+"/metrics").body); !strings.Contains(m, "\nfreshet_ingest_requests_in_progress 1\n") ||
				!strings.Contains(m, "\nfreshet_ingest_rejected_total{reason=\"ingest_busy\"} 3\n") {
				t.Errorf("/metrics does not show the held request and the 3 refusals")
			}
			conn.Close() // the slow body ends: its room is free again
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				r := post(t, base+"/api/v1/events", "application/json", newAsset("raw/orders"))
				if r.status == http.StatusAccepted {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ingest still refused after the room was freed: %d %s", r.status, r.body)
				}
			}
		})
	}
}

// TestAssetCap: once the catalog holds --max-assets assets, whatever
// would create one more (an event's asset, an upstream, an OpenLineage
// dataset, an SLA on a new key) is refused with 403 naming the limit and
// the count, and events for existing assets are still accepted.
func TestAssetCap(t *testing.T) {
	t.Parallel()
	// defs declares 4 assets: room for 3 more.
	base := serverWith(t, func(c *app.Config) { c.MaxAssets = 7 })
	if r := post(t, base+"/api/v1/events", "application/x-ndjson", newAsset("new/a")+"\n"+newAsset("new/b")+"\n"+newAsset("new/c")); r.status != http.StatusAccepted {
		t.Fatalf("3 new assets under the cap: %d %s", r.status, r.body)
	}
	over := []struct{ name, method, path, body string }{
		{"new asset", "POST", "/api/v1/events", newAsset("new/d")},
		{"new upstream", "POST", "/api/v1/events", `{"kind":"materialization","asset":"new/a","upstream":["new/e"]}`},
		{"mixed batch", "POST", "/api/v1/events", `[` + newAsset("new/a") + `,` + newAsset("new/f") + `]`},
		{"OpenLineage datasets", "POST", "/api/v1/lineage", olBase},
		{"SLA on a new key", "PUT", "/api/v1/assets/new%2Fg/freshness/policy", `{"max_lag":"2h"}`},
	}
	for _, tc := range over {
		r := do(t, tc.method, base+tc.path, "application/json", tc.body)
		if max, cur := limitOf(t, r, http.StatusForbidden, "asset_limit", "max-assets"); max != 7 || cur != 7 {
			t.Errorf("%s: limit max %d current %d, want 7 and 7", tc.name, max, cur)
		}
	}
	for _, ok := range []string{newAsset("new/a"), `{"kind":"materialization","asset":"staging/orders","upstream":["raw/orders","new/b"]}`} {
		if r := post(t, base+"/api/v1/events", "application/json", ok); r.status != http.StatusAccepted {
			t.Errorf("an event for existing assets at the cap: %d %s", r.status, r.body)
		}
	}
	if r := do(t, "PUT", base+"/api/v1/assets/new%2Fa/freshness/policy", "application/json", `{"max_lag":"2h"}`); r.status != http.StatusOK {
		t.Errorf("an SLA on an existing asset at the cap: %d %s", r.status, r.body)
	}
	if r := get(t, base+"/api/v1/assets/new%2Fd"); r.status != http.StatusNotFound {
		t.Errorf("a refused asset exists: %d", r.status)
	}
}

// TestNewAssetRate: --max-new-assets-per-minute refuses, with 429 and
// Retry-After, a request that would create more assets than are left this
// minute, and one that would create more than a minute's worth outright.
func TestNewAssetRate(t *testing.T) {
	t.Parallel()
	base := serverWith(t, func(c *app.Config) { c.NewAssetsPerMinute = 5 })
	var batch []string
	for i := range 6 {
		batch = append(batch, newAsset(fmt.Sprintf("burst/n%d", i)))
	}
	r := post(t, base+"/api/v1/events", "application/x-ndjson", strings.Join(batch, "\n"))
	limitOf(t, r, http.StatusTooManyRequests, "asset_rate_limit", "max-new-assets-per-minute")
	if !strings.Contains(string(r.body), "split it") {
		t.Errorf("a batch over a minute's worth should say to split it: %s", r.body)
	}
	if r := post(t, base+"/api/v1/events", "application/x-ndjson", strings.Join(batch[:5], "\n")); r.status != http.StatusAccepted {
		t.Fatalf("a minute's worth of new assets: %d %s", r.status, r.body)
	}
	r = post(t, base+"/api/v1/events", "application/json", batch[5])
	limitOf(t, r, http.StatusTooManyRequests, "asset_rate_limit", "max-new-assets-per-minute")
	if s := r.header.Get("Retry-After"); s == "" || s == "0" {
		t.Errorf("Retry-After = %q", s)
	}
	for _, ok := range []string{batch[0], newAsset("raw/orders")} {
		if r := post(t, base+"/api/v1/events", "application/json", ok); r.status != http.StatusAccepted {
			t.Errorf("an event for an existing asset while the rate is spent: %d %s", r.status, r.body)
		}
	}
}
