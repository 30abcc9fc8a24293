package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/config"
)

const defs = `
assets:
  - key: raw/orders
    group: raw
    owners: [team:ingestion]
    tags: [pii]
    kinds: [table]
    description: Orders from the shop
  - key: raw/customers
    group: raw
    kinds: [table]
  - key: staging/orders
    group: staging
    deps: [raw/orders, raw/customers]
  - key: marts/revenue
    group: marts
    deps: [staging/orders]
    freshness: {max_lag: 2h, warn_after: 1h}
`

// server starts a real Freshet (embedded store) on a loopback socket.
func server(t *testing.T, bodyLimit int64) string {
	t.Helper()
	return serverWith(t, func(c *app.Config) { c.BodyLimit = bodyLimit })
}

// serverWith is server with the configuration adjusted by tune (which may
// replace the definitions, parsed from defs by default).
func serverWith(t *testing.T, tune func(*app.Config)) string {
	t.Helper()
	cfg := app.Config{DataDir: t.TempDir(), Definitions: definitions(t, defs), Logger: discardLogger()}
	tune(&cfg)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return "http://" + ln.Addr().String()
}

func definitions(t *testing.T, src string) *config.File {
	t.Helper()
	f, err := config.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, r.body)
	}
	return v
}

func do(t *testing.T, method, u, ctype, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, data}
}

func get(t *testing.T, u string) response { return do(t, http.MethodGet, u, "", "") }

func post(t *testing.T, u, ctype, body string) response {
	return do(t, http.MethodPost, u, ctype, body)
}

// errorOf asserts a JSON error body and returns its code and field.
func errorOf(t *testing.T, r response) (code, field string, line int) {
	t.Helper()
	var body struct {
		Error struct {
			Code, Message, Field string
			Line                 int
			RequestID            string `json:"request_id"`
		}
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("status %d: not an error body: %s", r.status, r.body)
	}
	if body.Error.RequestID == "" {
		t.Errorf("error without request_id: %s", r.body)
	}
	return body.Error.Code, body.Error.Field, body.Error.Line
}

func TestHealth(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	for _, p := range []string{"/healthz", "/readyz", "/api/v1/openapi.json"} {
		if r := get(t, base+p); r.status != 200 {
			t.Errorf("GET %s = %d %s", p, r.status, r.body)
		}
	}
}

func TestIngestAndRead(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	ndjson := `{"id":"e1","kind":"materialization","asset":"raw/orders","time":"2026-11-20T10:00:00Z","metadata":{"row_count":10}}
{"id":"e2","kind":"materialization","asset":"raw/orders","time":"2026-11-20T11:00:00Z","metadata":{"row_count":12}}
{"id":"e3","kind":"materialization","asset":"ext/partner_feed","time":"2026-11-20T11:30:00Z","upstream":["ext/sftp_drop"]}
{"id":"e4","kind":"check_result","asset":"raw/orders","time":"2026-11-20T11:05:00Z","check":{"name":"not_null","passed":false}}
`
	r := post(t, base+"/api/v1/events", "application/x-ndjson", ndjson)
	if r.status != http.StatusAccepted {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	if got := r.json(t)["accepted"]; got != 4.0 {
		t.Errorf("accepted = %v", got)
	}
	// The same ids again: stored once.
	if r := post(t, base+"/api/v1/events", "application/x-ndjson", ndjson); r.status != http.StatusAccepted {
		t.Fatalf("replay = %d %s", r.status, r.body)
	}
	// Counts equal the store's once the writer has caught up: a replay
	// acknowledged after the first copy was stored is pending until the
	// store says it was not new.
	drained(t, base)
	r = get(t, base+"/api/v1/assets/raw%2Forders")
	if r.status != 200 {
		t.Fatalf("GET asset = %d %s", r.status, r.body)
	}
	a := r.json(t)
	last := a["last_materialization"].(map[string]any)
	if last["id"] != "e2" || last["metadata"].(map[string]any)["row_count"] != 12.0 {
		t.Errorf("last_materialization = %v", last)
	}
	if counts := a["counts"].(map[string]any); counts["materialization"] != 2.0 || counts["check_result"] != 1.0 {
		t.Errorf("counts = %v (a replay was counted?)", counts)
	}
	if fmt.Sprint(a["downstream"]) != "[staging/orders]" {
		t.Errorf("downstream = %v", a["downstream"])
	}
	// Discovered assets, both the event's and its upstream.
	r = get(t, base+"/api/v1/assets?origin=discovered")
	var list struct {
		Assets []struct {
			Spec struct{ Key, Origin string }
		}
	}
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 {
		t.Fatalf("discovered assets = %d %s (%v)", r.status, r.body, err)
	}
	if len(list.Assets) != 2 || list.Assets[0].Spec.Key != "ext/partner_feed" || list.Assets[1].Spec.Key != "ext/sftp_drop" {
		t.Errorf("discovered = %s", r.body)
	}
	// The observed edge is in the lineage.
	r = get(t, base+"/api/v1/assets/ext%2Fpartner_feed/lineage?direction=upstream")
	if !bytes.Contains(r.body, []byte(`"upstream":"ext/sftp_drop"`)) || !bytes.Contains(r.body, []byte(`"observed":true`)) {
		t.Errorf("observed edge missing: %s", r.body)
	}
	// History, newest first, once each.
	drained(t, base)
	r = get(t, base+"/api/v1/assets/raw%2Forders/events?kind=materialization")
	var page struct {
		Events []struct{ ID string }
	}
	if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
		t.Fatalf("history = %d %s (%v)", r.status, r.body, err)
	}
	if len(page.Events) != 2 || page.Events[0].ID != "e2" || page.Events[1].ID != "e1" {
		t.Errorf("history = %s", r.body)
	}
}

func TestEventPagination(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	var b strings.Builder
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		fmt.Fprintf(&b, `{"id":"p%02d","kind":"observation","asset":"raw/orders","time":%q}`+"\n", i, start.Add(time.Duration(i%5)*time.Minute).Format(time.RFC3339))
	}
	if r := post(t, base+"/api/v1/events", "application/x-ndjson", b.String()); r.status != 202 {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	drained(t, base)
	seen := map[string]bool{}
	u := base + "/api/v1/events?asset=raw/orders&limit=7&order=asc"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		r := get(t, u)
		var page struct {
			Events []struct {
				ID   string
				Time time.Time
			}
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
			t.Fatalf("page = %d %s", r.status, r.body)
		}
		for _, e := range page.Events {
			if seen[e.ID] {
				t.Errorf("event %s on two pages", e.ID)
			}
			seen[e.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		u = base + "/api/v1/events?asset=raw/orders&limit=7&order=asc&cursor=" + url.QueryEscape(page.NextCursor)
	}
	if len(seen) != 25 {
		t.Errorf("saw %d events over all pages, want 25", len(seen))
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	base := server(t, 1024)
	tests := []struct {
		name         string
		method, path string
		ctype, body  string
		status       int
		code, field  string
		line         int
	}{
		{"invalid json", "POST", "/api/v1/events", "application/json", `{"kind":`, 400, "invalid_json", "", 0},
		{"bad key", "POST", "/api/v1/events", "application/json", `{"kind":"observation","asset":"a//b"}`, 400, "invalid_value", "asset", 0},
		{"ndjson line", "POST", "/api/v1/events", "application/x-ndjson", "{\"kind\":\"observation\",\"asset\":\"a\"}\n{\"kind\":\"nope\",\"asset\":\"a\"}\n", 400, "invalid_value", "kind", 2},
		{"empty body", "POST", "/api/v1/events", "application/json", ``, 400, "missing_field", "", 0},
		{"too large", "POST", "/api/v1/events", "application/x-ndjson", strings.Repeat(`{"kind":"observation","asset":"a"}`+"\n", 100), 413, "body_too_large", "", 0},
		{"unknown asset", "GET", "/api/v1/assets/nope%2Fnothing", "", "", 404, "not_found", "key", 0},
		{"invalid key in path", "GET", "/api/v1/assets/a%2F%2Fb", "", "", 400, "invalid_value", "key", 0},
		{"bad depth", "GET", "/api/v1/assets/raw%2Forders/lineage?depth=-1", "", "", 400, "invalid_value", "depth", 0},
		{"bad direction", "GET", "/api/v1/assets/raw%2Forders/lineage?direction=sideways", "", "", 400, "invalid_value", "direction", 0},
		{"lineage unknown", "GET", "/api/v1/assets/zzz/lineage", "", "", 404, "not_found", "key", 0},
		{"path missing to", "GET", "/api/v1/lineage/path?from=raw/orders", "", "", 400, "missing_field", "to", 0},
		{"path unknown to", "GET", "/api/v1/lineage/path?from=raw/orders&to=nope/x", "", "", 404, "not_found", "to", 0},
		{"path unknown from", "GET", "/api/v1/lineage/path?from=nope/x&to=raw/orders", "", "", 404, "not_found", "from", 0},
		{"since beyond int64 nanoseconds", "GET", "/api/v1/events?since=2500-01-01T00:00:00Z", "", "", 400, "invalid_value", "since", 0},
		{"until before 1970", "GET", "/api/v1/events?until=0001-01-01T00:00:00Z", "", "", 400, "invalid_value", "until", 0},
		{"NaN metadata", "POST", "/api/v1/events", "application/json", `{"kind":"observation","asset":"a","metadata":{"x":NaN}}`, 400, "invalid_value", "metadata.x", 0},
		{"bad since", "GET", "/api/v1/events?since=yesterday", "", "", 400, "invalid_value", "since", 0},
		{"until before since", "GET", "/api/v1/events?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "", "", 400, "invalid_value", "until", 0},
		{"bad kind filter", "GET", "/api/v1/events?kind=materialisation", "", "", 400, "invalid_value", "kind", 0},
		{"bad limit", "GET", "/api/v1/events?limit=5000", "", "", 400, "invalid_value", "limit", 0},
		{"bad cursor", "GET", "/api/v1/events?cursor=!!!", "", "", 400, "invalid_value", "cursor", 0},
		{"bad order", "GET", "/api/v1/events?order=up", "", "", 400, "invalid_value", "order", 0},
		{"bad assets cursor", "GET", "/api/v1/assets?cursor=%25", "", "", 400, "invalid_value", "cursor", 0},
		{"bad origin", "GET", "/api/v1/assets?origin=alien", "", "", 400, "invalid_value", "origin", 0},
		{"no route", "GET", "/api/v1/nothing", "", "", 404, "not_found", "", 0},
		{"wrong method", "DELETE", "/api/v1/events", "", "", 405, "method_not_allowed", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := do(t, tt.method, base+tt.path, tt.ctype, tt.body)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			code, field, line := errorOf(t, r)
			if code != tt.code || field != tt.field || line != tt.line {
				t.Errorf("error = code %q field %q line %d, want %q %q %d: %s", code, field, line, tt.code, tt.field, tt.line, r.body)
			}
		})
	}
}

func TestAllOrNothing(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	body := `{"id":"ok1","kind":"observation","asset":"raw/orders"}` + "\n" + `{"id":"bad","kind":"observation","asset":""}` + "\n"
	if r := post(t, base+"/api/v1/events", "application/x-ndjson", body); r.status != 400 {
		t.Fatalf("status = %d", r.status)
	}
	if r := post(t, base+"/api/v1/events", "application/json", `{"id":"later","kind":"observation","asset":"raw/orders"}`); r.status != 202 {
		t.Fatalf("status = %d", r.status)
	}
	drained(t, base)
	r := get(t, base+"/api/v1/events")
	if bytes.Contains(r.body, []byte(`"ok1"`)) || !bytes.Contains(r.body, []byte(`"later"`)) {
		t.Errorf("a rejected batch stored events (or the good one is missing): %s", r.body)
	}
}

// drained waits until the store holds everything acknowledged, watching
// the write-ahead log backlog on /metrics as an operator would.
func drained(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := get(t, base+"/metrics")
		if r.status != 200 {
			t.Fatalf("/metrics = %d", r.status)
		}
		if bytes.Contains(r.body, []byte("\nfreshet_wal_unconfirmed_records 0\n")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not catch up within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLineageEndpoints(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	tests := []struct {
		path string
		want []string // substrings
	}{
		{"/api/v1/assets/raw%2Forders/lineage?direction=downstream", []string{`"key":"marts/revenue","depth":2`, `"declared":true`}},
		{"/api/v1/assets/raw%2Forders/lineage?direction=downstream&depth=1", []string{`"key":"staging/orders","depth":1`}},
		{"/api/v1/assets/marts%2Frevenue/lineage?direction=upstream", []string{`"key":"raw/customers","depth":2`}},
		{"/api/v1/lineage/path?from=raw/customers&to=marts/revenue", []string{`"staging/orders"`}},
		{"/api/v1/lineage/roots", []string{`"keys":["raw/customers","raw/orders"]`}},
		{"/api/v1/lineage/leaves", []string{`"keys":["marts/revenue"]`}},
		{"/api/v1/lineage/graph", []string{`"upstream":"staging/orders","downstream":"marts/revenue"`}},
	}
	for _, tt := range tests {
		r := get(t, base+tt.path)
		if r.status != 200 {
			t.Errorf("GET %s = %d %s", tt.path, r.status, r.body)
			continue
		}
		for _, w := range tt.want {
			if !bytes.Contains(r.body, []byte(w)) {
				t.Errorf("GET %s: missing %s in %s", tt.path, w, r.body)
			}
		}
	}
	// depth=1 must not reach marts/revenue.
	if r := get(t, base+"/api/v1/assets/raw%2Forders/lineage?direction=downstream&depth=1"); bytes.Contains(r.body, []byte("marts/revenue")) {
		t.Errorf("depth 1 reached depth 2: %s", r.body)
	}
}

func TestKeysWithPercentAndUnicode(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	keys := []string{"pg/postgres:%2F%2Fhost:5432", "données/été", "x/a b"}
	for _, k := range keys {
		body := fmt.Sprintf(`{"kind":"observation","asset":%q}`, k)
		if r := post(t, base+"/api/v1/events", "application/json", body); r.status != 202 {
			t.Fatalf("POST %s = %d %s", k, r.status, r.body)
		}
		r := get(t, base+"/api/v1/assets/"+url.PathEscape(k))
		if r.status != 200 || r.json(t)["spec"].(map[string]any)["key"] != k {
			t.Errorf("GET %s = %d %s", k, r.status, r.body)
		}
	}
}

func TestAssetListPagination(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	var keys []string
	u := base + "/api/v1/assets?limit=3"
	for range 10 {
		r := get(t, u)
		var page struct {
			Assets     []struct{ Spec struct{ Key string } }
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
			t.Fatalf("asset page = %d %s (%v)", r.status, r.body, err)
		}
		for _, a := range page.Assets {
			keys = append(keys, a.Spec.Key)
		}
		if page.NextCursor == "" {
			break
		}
		u = base + "/api/v1/assets?limit=3&cursor=" + page.NextCursor
	}
	if fmt.Sprint(keys) != "[marts/revenue raw/customers raw/orders staging/orders]" {
		t.Errorf("paged keys = %v", keys)
	}
	r := get(t, base+"/api/v1/assets?group=raw&tag=pii&q=SHOP")
	if !bytes.Contains(r.body, []byte(`"key":"raw/orders"`)) || bytes.Contains(r.body, []byte(`"key":"raw/customers"`)) {
		t.Errorf("filtered list = %s", r.body)
	}
}

// eventually polls url until its body contains want.
func eventually(t *testing.T, url, want string) response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := get(t, url)
		if bytes.Contains(r.body, []byte(want)) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %s; last: %d %s", url, want, r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFreshnessAPI(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	now := time.Now().UTC()
	// With its data time reported: its upstream never materialized here,
	// which would make the data time unknown (docs/freshness.md).
	at := now.Add(-90 * time.Minute).Format(time.RFC3339)
	body := fmt.Sprintf(`{"id":"m1","kind":"materialization","asset":"marts/revenue","time":%q,"data_time":%q}`, at, at)
	if r := post(t, base+"/api/v1/events", "application/json", body); r.status != 202 {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	// 90 minutes old with warn_after 1h: WARN, from the file's policy.
	r := eventually(t, base+"/api/v1/freshness?state=WARN", `"key":"marts/revenue"`)
	if !bytes.Contains(r.body, []byte(`"source":"file"`)) || !bytes.Contains(r.body, []byte(`"group":"marts"`)) {
		t.Errorf("freshness list = %s", r.body)
	}
	if r := get(t, base+"/api/v1/freshness?state=PASS"); bytes.Contains(r.body, []byte(`"marts/revenue"`)) {
		t.Errorf("state filter ignored: %s", r.body)
	}
	eventually(t, base+"/metrics", `freshet_asset_freshness_state{asset="marts/revenue",group="marts"} 1`) // WARN

	put := func(body string) response {
		return do(t, http.MethodPut, base+"/api/v1/assets/marts%2Frevenue/freshness/policy", "application/json", body)
	}
	bad := []struct {
		name, body, code, field string
		status                  int
	}{
		{"warn not below max", `{"max_lag":"1h","warn_after":"2h"}`, "invalid_value", "warn_after", 400},
		{"bad duration", `{"max_lag":"2 hours"}`, "invalid_value", "max_lag", 400},
		{"duration as a number", `{"max_lag":5}`, "invalid_value", "max_lag", 400},
		{"cron as a number", `{"max_lag":"2h","cron":5}`, "invalid_value", "cron", 400},
		{"actor with a newline", `{"max_lag":"2h","actor":"a\nb"}`, "invalid_value", "actor", 400},
		{"bad zone", `{"max_lag":"1h","cron":"0 7 * * *","timezone":"Mars/Base"}`, "invalid_value", "timezone", 400},
		{"bad cron", `{"max_lag":"1h","cron":"every day"}`, "invalid_value", "cron", 400},
		{"missing max_lag", `{"warn_after":"1h"}`, "missing_field", "max_lag", 400},
		{"bad grace", `{"max_lag":"1h","grace":"soon"}`, "invalid_value", "grace", 400},
		{"negative grace", `{"max_lag":"1h","grace":"-1h"}`, "invalid_value", "grace", 400},
		{"unknown field", `{"max_lag":"1h","maxlag":"2h"}`, "unknown_field", "maxlag", 400},
		{"not json", `max_lag=1h`, "invalid_json", "", 400},
	}
	for _, tt := range bad {
		r := put(tt.body)
		if r.status != tt.status {
			t.Errorf("%s: status %d %s", tt.name, r.status, r.body)
			continue
		}
		if code, field, _ := errorOf(t, r); code != tt.code || field != tt.field {
			t.Errorf("%s: code %q field %q, want %q %q: %s", tt.name, code, field, tt.code, tt.field, r.body)
		}
	}
	// An SLA on a table that has not reported yet declares it (origin
	// api) and says UNKNOWN until it reports; a bad policy declares nothing.
	if r := do(t, http.MethodPut, base+"/api/v1/assets/later%2Ftable/freshness/policy", "application/json", `{"max_lag":"-1h"}`); r.status != 400 {
		t.Errorf("bad SLA on a new key: %d %s", r.status, r.body)
	}
	if r := get(t, base+"/api/v1/assets/later%2Ftable"); r.status != 404 {
		t.Errorf("a refused SLA declared the asset: %d", r.status)
	}
	if r := do(t, http.MethodPut, base+"/api/v1/assets/later%2Ftable/freshness/policy", "application/json", `{"max_lag":"1h","grace":"2d"}`); r.status != 200 || !bytes.Contains(r.body, []byte(`"grace":"2d"`)) {
		t.Errorf("SLA on a new key: %d %s", r.status, r.body)
	}
	if a := get(t, base+"/api/v1/assets/later%2Ftable").json(t); a["spec"].(map[string]any)["origin"] != "api" {
		t.Errorf("declared asset = %v, want origin api", a["spec"])
	}
	eventually(t, base+"/api/v1/freshness?state=UNKNOWN", `"key":"later/table"`)

	// A looser SLA through the API: PASS, recorded with the actor.
	req, err := http.NewRequest(http.MethodPut, base+"/api/v1/assets/marts%2Frevenue/freshness/policy", strings.NewReader(`{"max_lag":"4h","warn_after":"3h"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Freshet-Actor", "alice")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT = %d", resp.StatusCode)
	}
	eventually(t, base+"/api/v1/freshness?state=PASS", `"key":"marts/revenue"`)
	drained(t, base)
	r = get(t, base+"/api/v1/assets/marts%2Frevenue/freshness")
	for _, want := range []string{`"source":"api"`, `"max_lag":"4h"`, `"actor":"alice"`, `"state":"WARN"`, `"state":"PASS"`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("asset freshness lacks %s: %s", want, r.body)
		}
	}
	// Removing it reverts to the file's policy; removing again is 404.
	if r := do(t, http.MethodDelete, base+"/api/v1/assets/marts%2Frevenue/freshness/policy?actor=bob", "", ""); r.status != 200 || !bytes.Contains(r.body, []byte(`"source":"file"`)) {
		t.Errorf("DELETE = %d %s", r.status, r.body)
	}
	if r := do(t, http.MethodDelete, base+"/api/v1/assets/marts%2Frevenue/freshness/policy", "", ""); r.status != 404 {
		t.Errorf("second DELETE = %d %s", r.status, r.body)
	}
	if r := get(t, base+"/api/v1/freshness?state=sideways"); r.status != 400 {
		t.Errorf("bad state filter = %d", r.status)
	}
}

// TestWholeGraphCaps: the whole graph is capped (truncated, with the total)
// and roots and leaves come in pages, so no single answer grows with the
// catalog without bound.
func TestWholeGraphCaps(t *testing.T) {
	t.Parallel()
	base := server(t, 0)
	var g struct {
		Nodes      []map[string]any `json:"nodes"`
		Edges      []map[string]any `json:"edges"`
		TotalNodes int              `json:"total_nodes"`
		Truncated  bool             `json:"truncated"`
	}
	if err := json.Unmarshal(get(t, base+"/api/v1/lineage/graph?limit=2").body, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 || !g.Truncated || g.TotalNodes < 3 {
		t.Errorf("capped graph = %+v", g)
	}
	for _, e := range g.Edges {
		if e["upstream"] != g.Nodes[0]["key"] && e["upstream"] != g.Nodes[1]["key"] {
			t.Errorf("edge %v leaves the kept nodes", e)
		}
	}
	var page struct {
		Keys       []string `json:"keys"`
		NextCursor string   `json:"next_cursor"`
	}
	if err := json.Unmarshal(get(t, base+"/api/v1/lineage/roots?limit=1").body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Keys) != 1 || page.Keys[0] != "raw/customers" || page.NextCursor != "raw/customers" {
		t.Fatalf("first page = %+v", page)
	}
	next := page.NextCursor
	page.NextCursor = ""
	if err := json.Unmarshal(get(t, base+"/api/v1/lineage/roots?limit=1&cursor="+next).body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Keys) != 1 || page.Keys[0] != "raw/orders" || page.NextCursor != "" {
		t.Errorf("second page = %+v", page)
	}
	if r := get(t, base+"/api/v1/lineage/graph?limit=0"); r.status != 400 {
		t.Errorf("limit=0: %d", r.status)
	}
}
