package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/api"
	"github.com/freshet-dev/freshet/internal/freeport"
)

// The bad-input suite: hundreds of malformed or hostile requests, over
// real sockets, against the real binary with API tokens on. Every answer
// must be a 4xx whose JSON error names the problem (or, for bodies that
// never finish or overflow, the connection closed); never a 5xx. After
// it the server must be healthy, ingest a good event, and its peak RSS
// (VmHWM) stay bounded. Every route of the API must have cases: a new
// route without any fails the test.

const hostileDefs = `
alerts:
  receivers:
    - {name: hook, type: webhook, webhook: {url: 'http://127.0.0.1:9/hook'}}
  rules:
    - {name: sla, when: [freshness_fail], receivers: [hook]}
assets:
  - key: raw/orders
    group: raw
    freshness: {max_lag: 2h}
  - key: marts/revenue
    group: marts
    deps: [raw/orders]
    materialize:
      argv: [sh, -c, 'exit 0']
`

// Limits of the server under test: the defaults for bodies, events and
// concurrent ingest (so the peak RSS is the defaults'), small ones for
// catalog growth and the read timeout, to reach them quickly.
const (
	hostileBodyLimit  = 16 << 20 // --max-body-bytes default
	hostileMaxEvents  = 100_000  // --max-events-per-request default
	hostileMaxAssets  = 40
	hostileNewPerMin  = 30
	hostileReadTimout = "2s"
	hostileRSSBound   = 1 << 30
)

// hostileCase is one request. target is the request-URI as sent (raw,
// unnormalised); route the "METHOD /pattern" it aims at.
type hostileCase struct {
	name, route    string
	method, target string
	ctype          string
	body           []byte
	header         map[string]string // "Host" replaces the Host header
	token          string            // "" the admin token, "-" none, "reader" the read-only token, else sent as is
	chunked        bool              // send the body chunked (no Content-Length)
	// plain: net/http itself refuses the request line (an invalid
	// escape) before any handler runs, with a plain-text 400.
	plain    bool
	field    string // the JSON error must name this field ("" any)
	status   int    // the status must be this (0: any 4xx)
	mayClose bool   // the server may cut the connection instead of answering
}

type outcome struct {
	status int
	header http.Header
	body   []byte
	closed bool // no answer: the connection was closed or reset
}

type hostileServer struct {
	*server
	admin, reader string // token secrets
}

func startHostile(t *testing.T) *hostileServer {
	dir := t.TempDir()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	data, cfg := filepath.Join(dir, "data"), filepath.Join(dir, "freshet.yaml")
	if err := os.WriteFile(cfg, []byte(hostileDefs), 0o644); err != nil {
		t.Fatal(err)
	}
	token := func(name, scope string) string {
		out, err := exec.Command(freshetBin, "token", "create", "--data-dir", data, "--name", name, "--scope", scope).CombinedOutput()
		if err != nil {
			t.Fatalf("token create: %v: %s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "fst_") {
				return strings.TrimSpace(l)
			}
		}
		t.Fatalf("no secret in %s", out)
		return ""
	}
	h := &hostileServer{admin: token("admin", "admin"), reader: token("reader", "read")}
	h.server = &server{t: t, addr: addr, logPath: filepath.Join(dir, "freshet.log")}
	h.args = []string{"serve", "--config", cfg, "--store", "embedded", "--data-dir", data, "--addr", addr, "--log-level", "warn",
		"--metrics-auth", "--read-timeout", hostileReadTimout, "--max-assets", strconv.Itoa(hostileMaxAssets),
		"--max-new-assets-per-minute", strconv.Itoa(hostileNewPerMin)}
	h.start()
	t.Cleanup(func() {
		if h.cmd != nil {
			h.cmd.Process.Signal(syscall.SIGTERM)
			h.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(h.logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("freshet log tail:\n%s", b)
		}
	})
	return h
}

// send writes the request by hand (so paths, Host and bodies go out
// exactly as written) and reads the answer while the body is written:
// a server that answers early (413) need not read the rest.
func (h *hostileServer) send(c hostileCase) (outcome, error) {
	conn, err := net.DialTimeout("tcp", h.addr, 10*time.Second)
	if err != nil {
		return outcome{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	var b bytes.Buffer
	host := h.addr
	if v, ok := c.header["Host"]; ok {
		host = v
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", c.method, c.target, host)
	switch c.token {
	case "":
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", h.admin)
	case "-":
	case "reader":
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", h.reader)
	default:
		fmt.Fprintf(&b, "Authorization: %s\r\n", c.token)
	}
	if c.ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", c.ctype)
	}
	for _, k := range slices.Sorted(maps.Keys(c.header)) {
		if k != "Host" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, c.header[k])
		}
	}
	switch {
	case c.chunked:
		b.WriteString("Transfer-Encoding: chunked\r\n")
	case c.body != nil || c.method == http.MethodPost || c.method == http.MethodPut:
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(c.body))
	}
	b.WriteString("\r\n")
	go func() {
		if _, err := conn.Write(b.Bytes()); err != nil {
			return
		}
		if !c.chunked {
			conn.Write(c.body)
			return
		}
		for rest := c.body; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", n, rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		io.WriteString(conn, "0\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: c.method})
	if err != nil {
		if closedConn(err) {
			return outcome{closed: true}, nil
		}
		return outcome{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !closedConn(err) {
		return outcome{}, err
	}
	return outcome{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func closedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// check says what is wrong with an answer ("" if nothing).
func (c hostileCase) check(o outcome) string {
	if o.closed {
		if c.mayClose {
			return ""
		}
		return "the connection was closed without an answer"
	}
	if o.status < 400 || o.status > 499 {
		return fmt.Sprintf("status %d, want 4xx: %.300s", o.status, o.body)
	}
	if c.status != 0 && o.status != c.status {
		return fmt.Sprintf("status %d, want %d: %.300s", o.status, c.status, o.body)
	}
	if c.plain {
		return ""
	}
	var e struct {
		Error *struct{ Code, Message, Field string }
	}
	if err := json.Unmarshal(o.body, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		return fmt.Sprintf("status %d without a JSON error: %.300s", o.status, o.body)
	}
	if c.field != "" && e.Error.Field != c.field {
		return fmt.Sprintf("error names field %q, want %q: %.300s", e.Error.Field, c.field, o.body)
	}
	if o.status == http.StatusTooManyRequests && o.header.Get("Retry-After") == "" {
		return "429 without Retry-After"
	}
	return ""
}

// lookalikes are keys a person cannot tell from another, or that URL
// libraries rewrite (docs/events.md): each must be refused.
var lookalikes = map[string]string{
	"NFD":            "raw/cafe\u0301",
	"zero-width":     "raw/or\u200bders",
	"bidi override":  "probe/\u202etxt.exe",
	"BOM":            "\ufeffraw/orders",
	"division slash": "raw\u2215orders",
	"fullwidth":      "raw\uff0forders",
	"dot part":       "raw/./orders",
	"dotdot part":    "raw/../orders",
	"dot":            ".",
	"dotdot":         "..",
	"invalid UTF-8":  "raw/\xff\xfe",
	"control":        "raw/a\x07b",
}

// hostileCases lists the requests. Cases per route come first (Host,
// Origin, tokens, content types), then each route's own bad input.
func hostileCases(routes []*echoRoute) []hostileCase {
	var cs []hostileCase
	add := func(c hostileCase) { cs = append(cs, c) }
	ev := func(members string) []byte {
		return []byte(`{"kind":"materialization","asset":"raw/orders"` + members + `}`)
	}
	event := ev("")
	// A concrete request to each route, with a body a write would take.
	example := func(r *echoRoute) (target string, body []byte) {
		target = r.path
		for _, p := range [][2]string{{":key", "raw%2Forders"}, {":id", "run-1"}} {
			target = strings.ReplaceAll(target, p[0], p[1])
		}
		switch r.method {
		case http.MethodPost, http.MethodPut:
			body = []byte(`{}`)
			if r.path == "/api/v1/events" {
				body = event
			}
		}
		return target, body
	}
	for _, r := range routes {
		route := r.method + " " + r.path
		target, body := example(r)
		ctype := ""
		if body != nil {
			ctype = "application/json"
		}
		for _, host := range []string{"evil.example.com", "127.0.0.1.nip.io:3000", "localhost.attacker.test"} {
			add(hostileCase{name: "foreign Host " + host, route: route, method: r.method, target: target, ctype: ctype, body: body,
				header: map[string]string{"Host": host}, field: "Host", status: 403})
		}
		add(hostileCase{name: "cross-site Origin", route: route, method: r.method, target: target, ctype: ctype, body: body,
			header: map[string]string{"Origin": "https://evil.example.com"}, field: "Origin", status: 403})
		open := r.path == "/healthz" || r.path == "/readyz" || r.path == "/api/v1/openapi.json"
		if !open {
			for _, tok := range []string{"-", "Bearer fst_forged0000000000000000000000000", "Basic YWRtaW46YWRtaW4=", "Bearer " + strings.Repeat("x", 8000), "Bearer"} {
				add(hostileCase{name: "bad token " + tok[:min(len(tok), 20)], route: route, method: r.method, target: target, ctype: ctype, body: body,
					token: tok, field: "Authorization", status: 401})
			}
		}
		if !open && r.method != http.MethodGet {
			add(hostileCase{name: "read token on a write", route: route, method: r.method, target: target, ctype: ctype, body: body,
				token: "reader", field: "Authorization", status: 403})
		}
		if r.method == http.MethodPost || r.method == http.MethodPut {
			for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
				add(hostileCase{name: "cross-site type " + ct, route: route, method: r.method, target: target, ctype: ct, body: []byte("x=1"),
					field: "Content-Type", status: 415})
			}
		}
	}

	// Asset keys in paths: lookalikes, traversal, bad escapes.
	keyRoutes := []string{"/api/v1/assets/%s", "/api/v1/assets/%s/events", "/api/v1/assets/%s/lineage", "/api/v1/assets/%s/freshness"}
	for name, k := range lookalikes {
		for i, p := range keyRoutes {
			if i > 0 && !strings.Contains(name, "dot") && name != "NFD" && name != "bidi override" {
				continue // every lookalike on one route, the tricky ones on all
			}
			pattern := strings.Replace(p, "%s", ":key", 1)
			add(hostileCase{name: "lookalike key in path " + name, route: "GET " + pattern, method: "GET",
				target: fmt.Sprintf(p, url.PathEscape(k)), field: "key", status: 400})
		}
		add(hostileCase{name: "lookalike key in policy " + name, route: "PUT /api/v1/assets/:key/freshness/policy", method: "PUT",
			target: "/api/v1/assets/" + url.PathEscape(k) + "/freshness/policy", ctype: "application/json", body: []byte(`{"max_lag":"2h"}`), field: "key", status: 400})
		add(hostileCase{name: "lookalike key, DELETE policy " + name, route: "DELETE /api/v1/assets/:key/freshness/policy", method: "DELETE",
			target: "/api/v1/assets/" + url.PathEscape(k) + "/freshness/policy", field: "key", status: 400})
		kj, _ := json.Marshal(k)
		if name == "invalid UTF-8" {
			kj = []byte(`"raw/` + "\xff\xfe" + `"`)
		}
		add(hostileCase{name: "lookalike asset " + name, route: "POST /api/v1/events", method: "POST", target: "/api/v1/events",
			ctype: "application/json", body: []byte(`{"kind":"materialization","asset":` + string(kj) + `}`), field: "asset", status: 400})
		add(hostileCase{name: "lookalike upstream " + name, route: "POST /api/v1/events", method: "POST", target: "/api/v1/events",
			ctype: "application/json", body: ev(`,"upstream":["raw/customers",` + string(kj) + `]`), field: "upstream[1]", status: 400})
		add(hostileCase{name: "lookalike query asset " + name, route: "GET /api/v1/events", method: "GET",
			target: "/api/v1/events?asset=" + url.QueryEscape(k), field: "asset", status: 400})
		add(hostileCase{name: "lookalike lineage path " + name, route: "GET /api/v1/lineage/path", method: "GET",
			target: "/api/v1/lineage/path?from=" + url.QueryEscape(k) + "&to=marts%2Frevenue", field: "from", status: 400})
	}
	for _, tr := range []string{"..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "raw%2F..%2F..%2Fsecrets", "%2Fetc%2Fpasswd", "raw%2F%2Forders"} {
		add(hostileCase{name: "traversal " + tr, route: "GET /api/v1/assets/:key", method: "GET", target: "/api/v1/assets/" + tr, field: "key", status: 400})
	}
	for _, bad := range []string{"%ZZ", "raw%2"} {
		add(hostileCase{name: "invalid escape " + bad, route: "GET /api/v1/assets/:key", method: "GET", target: "/api/v1/assets/" + bad, status: 400, plain: true})
	}
	for _, tr := range []string{"/api/v1/../../../etc/passwd", "/api/v1/assets/../../../../etc/passwd", "/api/v1/%2e%2e/%2e%2e/etc/passwd"} {
		add(hostileCase{name: "traversal " + tr, route: "GET /api/v1/assets/:key", method: "GET", target: tr, status: 404})
	}
	for _, id := range []string{"..%2F..%2Fetc%2Fpasswd", "%00", strings.Repeat("9", 500)} {
		add(hostileCase{name: "run id " + id[:min(len(id), 12)], route: "GET /api/v1/runs/:id", method: "GET", target: "/api/v1/runs/" + id, status: 404})
		add(hostileCase{name: "cancel run id " + id[:min(len(id), 12)], route: "POST /api/v1/runs/:id/cancel", method: "POST", target: "/api/v1/runs/" + id + "/cancel", status: 404})
		add(hostileCase{name: "reexecute run id " + id[:min(len(id), 12)], route: "POST /api/v1/runs/:id/reexecute", method: "POST", target: "/api/v1/runs/" + id + "/reexecute", status: 404})
		add(hostileCase{name: "logs run id " + id[:min(len(id), 12)], route: "GET /api/v1/runs/:id/logs", method: "GET", target: "/api/v1/runs/" + id + "/logs", status: 404})
	}

	// Query parameters.
	huge := "99999999999999999999999999"
	for _, q := range []struct{ route, target, field string }{
		{"GET /api/v1/events", "/api/v1/events?limit=" + huge, "limit"},
		{"GET /api/v1/events", "/api/v1/events?limit=-1", "limit"},
		{"GET /api/v1/events", "/api/v1/events?limit=0", "limit"},
		{"GET /api/v1/events", "/api/v1/events?limit=1e3", "limit"},
		{"GET /api/v1/events", "/api/v1/events?limit=%00", "limit"},
		{"GET /api/v1/events", "/api/v1/events?kind=drop%20table", "kind"},
		{"GET /api/v1/events", "/api/v1/events?since=yesterday", "since"},
		{"GET /api/v1/events", "/api/v1/events?since=99999-01-01T00:00:00Z", "since"},
		{"GET /api/v1/events", "/api/v1/events?until=1969-01-01T00:00:00Z", "until"},
		{"GET /api/v1/events", "/api/v1/events?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"},
		{"GET /api/v1/events", "/api/v1/events?order=sideways", "order"},
		{"GET /api/v1/events", "/api/v1/events?cursor=" + strings.Repeat("A", 3000), "cursor"},
		{"GET /api/v1/events", "/api/v1/events?cursor=%FF%FE", "cursor"},
		{"GET /api/v1/assets/:key/events", "/api/v1/assets/raw%2Forders/events?limit=" + huge, "limit"},
		{"GET /api/v1/assets/:key/events", "/api/v1/assets/raw%2Forders/events?order=%00", "order"},
		{"GET /api/v1/assets", "/api/v1/assets?limit=" + huge, "limit"},
		{"GET /api/v1/assets", "/api/v1/assets?origin=mars", "origin"},
		{"GET /api/v1/assets", "/api/v1/assets?cursor=%FF", "cursor"},
		{"GET /api/v1/assets/:key/lineage", "/api/v1/assets/raw%2Forders/lineage?depth=" + huge, "depth"},
		{"GET /api/v1/assets/:key/lineage", "/api/v1/assets/raw%2Forders/lineage?depth=-5", "depth"},
		{"GET /api/v1/assets/:key/lineage", "/api/v1/assets/raw%2Forders/lineage?direction=sideways", "direction"},
		{"GET /api/v1/lineage/graph", "/api/v1/lineage/graph?limit=" + huge, "limit"},
		{"GET /api/v1/lineage/graph", "/api/v1/lineage/graph?limit=0", "limit"},
		{"GET /api/v1/lineage/path", "/api/v1/lineage/path", "from"},
		{"GET /api/v1/lineage/path", "/api/v1/lineage/path?from=raw%2Forders", "to"},
		{"GET /api/v1/lineage/roots", "/api/v1/lineage/roots?limit=" + huge, "limit"},
		{"GET /api/v1/lineage/roots", "/api/v1/lineage/roots?cursor=..", "cursor"},
		{"GET /api/v1/lineage/leaves", "/api/v1/lineage/leaves?limit=abc", "limit"},
		{"GET /api/v1/lineage/leaves", "/api/v1/lineage/leaves?cursor=%E2%80%AE", "cursor"},
		{"GET /api/v1/freshness", "/api/v1/freshness?state=ROTTEN", "state"},
		{"GET /api/v1/freshness", "/api/v1/freshness?state=" + strings.Repeat("FAIL,", 500) + "X", "state"},
		{"GET /api/v1/runs", "/api/v1/runs?status=EXPLODED", "status"},
		{"GET /api/v1/runs", "/api/v1/runs?asset=..", "asset"},
		{"GET /api/v1/runs", "/api/v1/runs?limit=" + huge, "limit"},
		{"GET /api/v1/runs", "/api/v1/runs?cursor=zz", "cursor"},
		{"GET /api/v1/runs", "/api/v1/runs?since=tomorrow", "since"},
		{"GET /api/v1/runs/:id/logs", "/api/v1/runs/run-1/logs?after=-1", "after"},
		{"GET /api/v1/runs/:id/logs", "/api/v1/runs/run-1/logs?after=" + huge, "after"},
		{"GET /api/v1/runs/:id/logs", "/api/v1/runs/run-1/logs?follow=maybe", "follow"},
		{"POST /api/v1/runs/:id/reexecute", "/api/v1/runs/run-1/reexecute?from=middle", "from"},
		{"GET /api/v1/automation", "/api/v1/automation?asset=raw%2F%E2%80%AEx", "asset"},
		{"GET /api/v1/alerts/deliveries", "/api/v1/alerts/deliveries?state=lost", "state"},
		{"GET /api/v1/alerts/deliveries", "/api/v1/alerts/deliveries?limit=" + huge, "limit"},
		{"GET /api/v1/alerts/deliveries", "/api/v1/alerts/deliveries?cursor=nope", "cursor"},
		{"POST /api/v1/alerts/test", "/api/v1/alerts/test", "receiver"},
		{"POST /api/v1/alerts/test", "/api/v1/alerts/test?receiver=%2E%2E%2Fhook", "receiver"},
	} {
		method := strings.Fields(q.route)[0]
		c := hostileCase{name: "bad query " + q.target[:min(len(q.target), 60)], route: q.route, method: method, target: q.target, field: q.field}
		if q.route == "GET /api/v1/runs/:id/logs" || q.route == "POST /api/v1/runs/:id/reexecute" {
			c.field = "" // the unknown run may be named first
		}
		add(c)
	}

	// Event bodies.
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	var manyNew, overRate, overCount, manyMeta, manyUp bytes.Buffer
	for i := range hostileMaxAssets + 5 {
		fmt.Fprintf(&manyNew, `{"kind":"observation","asset":"flood/a%d"}`+"\n", i)
	}
	for i := range hostileNewPerMin + 1 {
		fmt.Fprintf(&overRate, `{"kind":"observation","asset":"burst/a%d"}`+"\n", i)
	}
	for range hostileMaxEvents + 1 {
		overCount.WriteString(`{"kind":"observation","asset":"raw/orders"}` + "\n")
	}
	manyMeta.WriteString(`{"kind":"observation","asset":"raw/orders","metadata":{`)
	for i := range 1001 {
		fmt.Fprintf(&manyMeta, `"m%d":%d,`, i, i)
	}
	manyMeta.WriteString(`"end":1}}`)
	manyUp.WriteString(`{"kind":"materialization","asset":"raw/orders","upstream":[`)
	for i := range 1001 {
		fmt.Fprintf(&manyUp, `"up/u%d",`, i)
	}
	manyUp.WriteString(`"up/end"]}`)
	big := bytes.Repeat([]byte(`{"kind":"observation","asset":"raw/orders","metadata":{"pad":"`+strings.Repeat("x", 900)+`"}}`+"\n"), hostileBodyLimit/900+10)
	for _, b := range []struct {
		name, ctype, body, field string
		status                   int
	}{
		{"empty body", "application/json", "", "", 400},
		{"whitespace body", "application/json", " \n\t ", "", 400},
		{"null", "application/json", "null", "", 400},
		{"a string", "application/json", `"materialization"`, "", 400},
		{"a number", "application/json", `1e400`, "", 400},
		{"array of numbers", "application/json", `[1,2,3]`, "[0]", 400},
		{"truncated", "application/json", `{"kind":"materialization","asset":"raw/or`, "", 400},
		{"trailing garbage", "application/json", string(event) + "}", "", 400},
		{"NUL bytes", "application/json", "{\"kind\":\"materialization\",\"asset\":\"raw/orders\x00\"}", "", 400},
		{"invalid UTF-8 body", "application/json", "{\"kind\":\"materialization\",\"asset\":\"raw/orders\",\"run_id\":\"\xc3\x28\"}", "run_id", 400},
		{"unknown member", "application/json", string(ev(`,"colour":"red"`)), "colour", 400},
		{"unknown kind", "application/json", `{"kind":"freshness_changed","asset":"raw/orders"}`, "kind", 400},
		{"kind a number", "application/json", `{"kind":1,"asset":"raw/orders"}`, "kind", 400},
		{"asset an object", "application/json", `{"kind":"materialization","asset":{"$ne":null}}`, "asset", 400},
		{"asset huge", "application/json", `{"kind":"materialization","asset":"` + strings.Repeat("a", 5000) + `"}`, "asset", 400},
		{"duplicate asset", "application/json", string(ev(`,"asset":"marts/revenue"`)), "asset", 400},
		{"duplicate kind", "application/json", string(ev(`,"kind":"observation"`)), "kind", 400},
		{"duplicate metadata member", "application/json", string(ev(`,"metadata":{"row_count":1,"row_count":2}`)), "metadata.row_count", 400},
		{"duplicate nested member", "application/json", string(ev(`,"metadata":{"s":{"a":{"b":1,"b":2}}}`)), "metadata.s.a.b", 400},
		{"duplicate in array", "application/json", `[` + string(event) + `,` + string(ev(`,"time":"2026-01-01T00:00:00Z","time":"2026-01-02T00:00:00Z"`)) + `]`, "[1].time", 400},
		{"duplicate escaped", "application/json", string(ev(`,"\u0061sset":"x/y"`)), "asset", 400},
		{"duplicate empty name", "application/json", string(ev(`,"metadata":{"x":{"":1,"":2}}`)), `metadata.x.""`, 400},
		{"empty time", "application/json", string(ev(`,"time":""`)), "time", 400},
		{"empty data_time", "application/json", string(ev(`,"data_time":""`)), "data_time", 400},
		{"time a number", "application/json", string(ev(`,"time":1764057600`)), "time", 400},
		{"time far future", "application/json", string(ev(`,"time":"9999-12-31T23:59:59Z"`)), "time", 400},
		{"time before 1970", "application/json", string(ev(`,"time":"1900-01-01T00:00:00Z"`)), "time", 400},
		{"time with year 0", "application/json", string(ev(`,"time":"0000-01-01T00:00:00Z"`)), "time", 400},
		{"huge row_count", "application/json", string(ev(`,"metadata":{"row_count":1e400}`)), "metadata.row_count", 400},
		{"huge integer", "application/json", string(ev(`,"metadata":{"n":` + strings.Repeat("9", 400) + `}`)), "metadata.n", 400},
		{"negative row_count", "application/json", string(ev(`,"metadata":{"row_count":-1}`)), "metadata.row_count", 400},
		{"NaN", "application/json", string(ev(`,"metadata":{"x":NaN}`)), "", 400},
		{"Infinity", "application/json", string(ev(`,"metadata":{"x":Infinity}`)), "", 400},
		{"deep nesting in metadata", "application/json", string(ev(`,"metadata":{"x":` + deep(100000) + `}`)), "", 400},
		{"deep nesting at top", "application/json", deep(200000), "", 400},
		{"deep objects", "application/json", strings.Repeat(`{"a":`, 50000) + "1" + strings.Repeat("}", 50000), "", 400},
		{"too many metadata entries", "application/json", manyMeta.String(), "metadata", 400},
		{"too many upstreams", "application/json", manyUp.String(), "upstream", 400},
		{"self upstream", "application/json", string(ev(`,"upstream":["raw/orders"]`)), "upstream[0]", 400},
		{"check on materialization", "application/json", string(ev(`,"check":{"name":"x","passed":true}`)), "check", 400},
		{"check passed a string", "application/json", `{"kind":"check_result","asset":"raw/orders","check":{"name":"x","passed":"yes"}}`, "check.passed", 400},
		{"id with newline", "application/json", string(ev(`,"id":"a\nb"`)), "id", 400},
		{"id huge", "application/json", string(ev(`,"id":"` + strings.Repeat("i", 1000) + `"`)), "id", 400},
		{"ndjson bad third line", "application/x-ndjson", string(event) + "\n" + string(event) + "\n{oops}\n", "", 400},
		{"ndjson of arrays", "application/x-ndjson", "[1]\n[2]\n", "", 400},
		{"over-count ndjson", "application/x-ndjson", overCount.String(), "", 400},
		{"over-count array", "application/json", "[" + strings.TrimSuffix(strings.ReplaceAll(overCount.String(), "\n", ","), ",") + "]", "", 400},
		{"over the asset cap", "application/x-ndjson", manyNew.String(), "asset", 403},
		{"over the new-asset rate", "application/x-ndjson", overRate.String(), "asset", 429},
		{"unsupported charset type", "application/json; charset=utf-16", "\xff\xfe{\x00}\x00", "", 400},
	} {
		add(hostileCase{name: "event body: " + b.name, route: "POST /api/v1/events", method: "POST", target: "/api/v1/events",
			ctype: b.ctype, body: []byte(b.body), field: b.field, status: b.status})
	}
	add(hostileCase{name: "oversize body", route: "POST /api/v1/events", method: "POST", target: "/api/v1/events",
		ctype: "application/x-ndjson", body: big, status: 413, mayClose: true})
	add(hostileCase{name: "oversize chunked body", route: "POST /api/v1/events", method: "POST", target: "/api/v1/events",
		ctype: "application/x-ndjson", body: big, chunked: true, status: 413, mayClose: true})

	// OpenLineage.
	olGood := `{"eventType":"COMPLETE","eventTime":"2026-11-25T08:00:00Z","producer":"https://x/y","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",` +
		`"run":{"runId":"0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"},"job":{"namespace":"sched","name":"dag.task"},` +
		`"inputs":[{"namespace":"postgres://db:5432","name":"shop.public.orders"}],"outputs":[{"namespace":"postgres://db:5432","name":"an.public.daily"}]}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte(" "), 64<<20)) // 64 MiB of spaces in ~64 KiB: a bomb
	zw.Close()
	for _, b := range []struct {
		name, path, ctype, body, enc, field string
		status                              int
	}{
		{"not JSON", "/api/v1/lineage", "application/json", `{"eventType":`, "", "", 400},
		{"array to single", "/api/v1/lineage", "application/json", "[" + olGood + "]", "", "", 400},
		{"empty", "/api/v1/lineage", "application/json", "", "", "", 400},
		{"member twice", "/api/v1/lineage", "application/json", strings.Replace(olGood, `"eventType":"COMPLETE"`, `"eventType":"COMPLETE","eventType":"FAIL"`, 1), "", "eventType", 400},
		{"nested member twice", "/api/v1/lineage", "application/json", strings.Replace(olGood, `"name":"dag.task"`, `"name":"dag.task","name":"other"`, 1), "", "job.name", 400},
		{"eventTime empty", "/api/v1/lineage", "application/json", strings.Replace(olGood, `"2026-11-25T08:00:00Z"`, `""`, 1), "", "eventTime", 400},
		{"lookalike dataset", "/api/v1/lineage", "application/json", strings.Replace(olGood, "an.public.daily", "an\u2215public\u202edaily", 1), "", "outputs[0].name", 400},
		{"deep nesting", "/api/v1/lineage", "application/json", `{"run":` + deep(100000) + `}`, "", "", 400},
		{"gzip bomb", "/api/v1/lineage", "application/json", gz.String(), "gzip", "", 413},
		{"not gzip", "/api/v1/lineage", "application/json", olGood, "gzip", "Content-Encoding", 400},
		{"unknown encoding", "/api/v1/lineage", "application/json", olGood, "br", "Content-Encoding", 415},
		{"batch not JSON", "/api/v1/lineage/batch", "application/json", `[{"eventType":`, "", "", 400},
		{"batch member twice", "/api/v1/lineage/batch", "application/x-ndjson", olGood + "\n" + strings.Replace(olGood, `"producer"`, `"producer":"a","producer"`, 1), "", "producer", 400},
		{"batch empty", "/api/v1/lineage/batch", "application/json", "[]", "", "", 400},
		{"batch over count or size", "/api/v1/lineage/batch", "application/x-ndjson", strings.Repeat(olGood+"\n", hostileMaxEvents+1), "", "", 0},
	} {
		c := hostileCase{name: "OpenLineage: " + b.name, route: "POST " + b.path, method: "POST", target: b.path, ctype: b.ctype,
			body: []byte(b.body), field: b.field, status: b.status}
		if b.enc != "" {
			c.header = map[string]string{"Content-Encoding": b.enc}
		}
		add(c)
	}

	// Configuration bodies: policies, silences, runs, automation.
	policy := "/api/v1/assets/raw%2Forders/freshness/policy"
	for _, b := range []struct {
		route, target, body, field string
	}{
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"1ns"}`, "max_lag"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"999ms"}`, "max_lag"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"2h","warn_after":"1ns"}`, "warn_after"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"2h","grace":"1ns"}`, "grace"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"cron":"0 7 * * *","grace":"1us"}`, "grace"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"2h","max_lag":"8760h"}`, "max_lag"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"2h","actor":"alice","actor":"mallory"}`, "actor"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"":1,"":2}`, `""`},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":7200000000000}`, "max_lag"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"99999999999999h"}`, "max_lag"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"-2h"}`, "max_lag"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":""}`, "max_lag"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"maxlag":"2h"}`, "maxlag"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"cron":"61 7 * * *"}`, "cron"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"cron":"0 7 * * *","timezone":"../../etc/localtime"}`, "timezone"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":"2h","actor":"a\u0000b"}`, "actor"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `[{"max_lag":"2h"}]`, ""},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, `{"max_lag":` + deep(20000) + `}`, ""},
		{"PUT /api/v1/assets/:key/freshness/policy", "/api/v1/assets/new%2Fasset%2Fover%2Fcap/freshness/policy", `{"max_lag":"1ns"}`, "max_lag"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":{"group":"raw"},"duration":"1h","duration":"100w","comment":"x"}`, "duration"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":{"group":"raw","group":"marts"},"duration":"1h","comment":"x"}`, "match.group"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":{"colour":"red"},"duration":"1h","comment":"x"}`, "match"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":{"group":"raw"},"duration":"forever","comment":"x"}`, "duration"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":{"group":"raw"},"duration":"1h","comment":"x","ends_at":"2030-01-01T00:00:00Z"}`, "duration"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":{"group":"raw"},"duration":"1h","comment":"x","sneaky":true}`, "sneaky"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":` + deep(20000) + `}`, ""},
		{"POST /api/v1/silences", "/api/v1/silences", `{}`, ""},
		{"POST /api/v1/silences", "/api/v1/silences", "{\"match\":{\"group\":\"raw\"},\"duration\":\"1h\",\"comment\":\"\xff\xfe\"}", "comment"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":{"keys":["raw/\u202eorders"]},"duration":"1h","comment":"x"}`, "match.keys[0]"},
		{"POST /api/v1/silences", "/api/v1/silences", `{"match":{"key_prefix":"raw/../x"},"duration":"1h","comment":"x"}`, "match.key_prefix"},
		{"PUT /api/v1/assets/:key/freshness/policy", policy, "{\"max_lag\":\"2h\",\"actor\":\"\xff\"}", "actor"},
		{"POST /api/v1/runs", "/api/v1/runs", "{\"selection\":[\"marts/revenue\"],\"partition\":\"\xff\"}", "partition"},
		{"POST /api/v1/runs", "/api/v1/runs", `{"selection":["marts/revenue"],"partition":"a\u0000b"}`, "partition"},
		{"DELETE /api/v1/silences/:id", "/api/v1/silences/..%2F..%2Fetc", "", ""},
		{"DELETE /api/v1/silences/:id", "/api/v1/silences/no-such-silence", "", ""},
		{"POST /api/v1/runs", "/api/v1/runs", `{"selection":["raw/orders"],"selection":["marts/revenue"]}`, "selection"},
		{"POST /api/v1/runs", "/api/v1/runs", `{"selection":[]}`, "selection"},
		{"POST /api/v1/runs", "/api/v1/runs", `{"selection":["raw/\u202eorders"]}`, "selection"},
		{"POST /api/v1/runs", "/api/v1/runs", `{"selection":"marts/revenue","partition":7}`, "partition"},
		{"POST /api/v1/runs", "/api/v1/runs", `{"selection":["marts/revenue"],"argv":["rm","-rf","/"]}`, "argv"},
		{"PUT /api/v1/automation", "/api/v1/automation", `{"enabled":"yes"}`, "enabled"},
		{"PUT /api/v1/automation", "/api/v1/automation", `{"enabled":true,"enabled":false}`, "enabled"},
		{"PUT /api/v1/automation", "/api/v1/automation", `{}`, "enabled"},
		{"PUT /api/v1/automation", "/api/v1/automation", `{"enabled":true,"cooldown":"1ns"}`, "cooldown"},
		{"POST /api/v1/dead-letters/replay", "/api/v1/dead-letters/replay", "", ""},
	} {
		method := strings.Fields(b.route)[0]
		c := hostileCase{name: "config body " + b.target + " " + b.body[:min(len(b.body), 50)], route: b.route, method: method,
			target: b.target, field: b.field}
		if b.body != "" {
			c.ctype, c.body = "application/json", []byte(b.body)
		}
		if b.route == "POST /api/v1/dead-letters/replay" {
			c.token, c.field, c.status = "reader", "Authorization", 403 // a read token cannot replay
		}
		add(c)
	}
	return cs
}

type echoRoute struct{ method, path string }

// apiRoutes are the routes of the API's Echo router, the list a new
// route joins by being registered.
func apiRoutes() []*echoRoute {
	srv := api.New(api.Deps{Metrics: http.NotFoundHandler()}, api.Options{})
	seen := map[string]bool{}
	var out []*echoRoute
	for _, r := range srv.Routes() {
		if k := r.Method + " " + r.Path; !seen[k] && r.Method != "echo_route_not_found" {
			seen[k] = true
			out = append(out, &echoRoute{r.Method, r.Path})
		}
	}
	slices.SortFunc(out, func(a, b *echoRoute) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	return out
}

func vmHWM(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

func TestHostileInput(t *testing.T) {
	t.Parallel()
	h := startHostile(t)
	routes := apiRoutes()
	cases := hostileCases(routes)
	// Every route has cases, and every case aims at a route.
	known := map[string]bool{}
	for _, r := range routes {
		known[r.method+" "+r.path] = true
	}
	covered := map[string]int{}
	for _, c := range cases {
		if !known[c.route] {
			t.Errorf("case %q aims at %q, which is not a route", c.name, c.route)
		}
		covered[c.route]++
	}
	for _, r := range routes {
		if own := covered[r.method+" "+r.path]; own == 0 {
			t.Errorf("route %s %s has no hostile cases: add some to hostileCases", r.method, r.path)
		}
	}

	var (
		mu     sync.Mutex
		hist   = map[string]int{}
		total  int
		record = func(o outcome) {
			mu.Lock()
			defer mu.Unlock()
			total++
			if o.closed {
				hist["closed"]++
			} else {
				hist[strconv.Itoa(o.status)]++
			}
		}
	)
	for _, c := range cases {
		o, err := h.send(c)
		if err != nil {
			t.Errorf("%s (%s %s): %v", c.name, c.method, c.target[:min(len(c.target), 80)], err)
			continue
		}
		record(o)
		if msg := c.check(o); msg != "" {
			t.Errorf("%s (%s %.80s): %s", c.name, c.method, c.target, msg)
		}
	}

	// Many over-count bodies at once: each is refused, by its count or,
	// beyond the concurrent-ingest bound, with 429.
	var wg sync.WaitGroup
	var overCount bytes.Buffer
	for range hostileMaxEvents + 1 {
		overCount.WriteString(`{"kind":"observation","asset":"raw/orders"}` + "\n")
	}
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := hostileCase{name: fmt.Sprintf("parallel over-count %d", i), method: "POST", target: "/api/v1/events",
				ctype: "application/x-ndjson", body: overCount.Bytes()}
			o, err := h.send(c)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				return
			}
			record(o)
			if msg := c.check(o); msg != "" {
				t.Errorf("%s: %s", c.name, msg)
			}
		}()
	}
	wg.Wait()

	// The most memory a request can take: bodies near the size limit of
	// as many events as allowed, the last one invalid, so each is decoded
	// whole before it is refused; more at once than --max-concurrent-ingest.
	var nearLimit bytes.Buffer
	for i := range hostileMaxEvents - 1 {
		fmt.Fprintf(&nearLimit, `{"kind":"observation","asset":"raw/orders","run_id":"r%d","metadata":{"row_count":%d,"note":"padding to fill"}}`+"\n", i, i)
	}
	nearLimit.WriteString(`{"kind":"observation","asset":"raw/orders","time":""}` + "\n")
	if nearLimit.Len() > hostileBodyLimit {
		t.Fatalf("the near-limit body is %d bytes, over the limit", nearLimit.Len())
	}
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := hostileCase{name: fmt.Sprintf("parallel near-limit body %d", i), method: "POST", target: "/api/v1/events",
				ctype: "application/x-ndjson", body: nearLimit.Bytes()}
			o, err := h.send(c)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				return
			}
			record(o)
			if msg := c.check(o); msg != "" {
				t.Errorf("%s: %s", c.name, msg)
			}
		}()
	}
	wg.Wait()

	// Slow bodies (a byte every 300ms) on every kind of write: the read
	// timeout (2s here) must end each, with a 4xx or by closing it.
	slow := []struct{ method, path string }{
		{"POST", "/api/v1/events"}, {"POST", "/api/v1/lineage"}, {"POST", "/api/v1/lineage/batch"},
		{"PUT", "/api/v1/assets/raw%2Forders/freshness/policy"}, {"POST", "/api/v1/silences"}, {"POST", "/api/v1/runs"}, {"PUT", "/api/v1/automation"},
	}
	for _, s := range slow {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := h.slowBody(s.method, s.path, 300*time.Millisecond)
				if err != nil {
					t.Errorf("slow body %s %s: %v", s.method, s.path, err)
					return
				}
				record(o)
				if msg := (hostileCase{mayClose: true}).check(o); msg != "" {
					t.Errorf("slow body %s %s: %s", s.method, s.path, msg)
				}
			}()
		}
	}
	wg.Wait()
	// Aborted bodies: the client stops sending (400 body_incomplete), or
	// resets the connection (nothing to read).
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := h.abortedBody(i%2 == 1)
			if err != nil {
				t.Errorf("aborted body: %v", err)
				return
			}
			record(o)
			if msg := (hostileCase{mayClose: true, status: 400}).check(o); msg != "" {
				t.Errorf("aborted body: %s", msg)
			}
		}()
	}
	wg.Wait()

	// Afterwards: healthy, ready, and a good event is acknowledged.
	for _, c := range []hostileCase{
		{method: "GET", target: "/healthz", status: 200},
		{method: "GET", target: "/readyz", status: 200},
		{method: "POST", target: "/api/v1/events", ctype: "application/json", body: []byte(`{"kind":"materialization","asset":"raw/orders"}`), status: 202},
		{method: "GET", target: "/api/v1/assets/raw%2Forders", status: 200},
	} {
		o, err := h.send(c)
		if err != nil || o.status != c.status {
			t.Errorf("after the suite, %s %s = %d %s (%v), want %d", c.method, c.target, o.status, o.body, err, c.status)
		}
	}
	peak := vmHWM(t, h.cmd.Process.Pid)
	if total < 200 {
		t.Errorf("only %d hostile requests; the suite promises at least 200", total)
	}
	bound := int64(hostileRSSBound)
	if raceEnabled {
		bound *= 4 // the race detector's shadow memory: quote the figure of a build without -race
	}
	if peak > bound {
		t.Errorf("peak RSS %d MiB, over the bound of %d MiB", peak>>20, bound>>20)
	}
	var hs []string
	for _, k := range slices.Sorted(maps.Keys(hist)) {
		hs = append(hs, fmt.Sprintf("%s:%d", k, hist[k]))
	}
	t.Logf("hostile suite: %d requests over %d routes, answers %s; afterwards healthy; server peak RSS (VmHWM) %d MiB (race build: %v)",
		total, len(routes), strings.Join(hs, " "), peak>>20, raceEnabled)
}

// slowBody sends a write whose body trickles in a byte per interval and
// returns what the server did about it.
func (h *hostileServer) slowBody(method, path string, every time.Duration) (outcome, error) {
	conn, err := net.DialTimeout("tcp", h.addr, 10*time.Second)
	if err != nil {
		return outcome{}, err
	}
	defer conn.Close()
	// Generous: the server's read timeout is 2s; this is only a backstop.
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
		method, path, h.addr, h.admin)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(every):
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return outcome{}, fmt.Errorf("the slow body was not cut off in 2 minutes: %w", err)
		}
		if closedConn(err) {
			return outcome{closed: true}, nil
		}
		return outcome{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return outcome{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// abortedBody starts an ingest body and stops: a half-close (the server
// sees the body end early) or a reset.
func (h *hostileServer) abortedBody(reset bool) (outcome, error) {
	conn, err := net.DialTimeout("tcp", h.addr, 10*time.Second)
	if err != nil {
		return outcome{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	fmt.Fprintf(conn, "POST /api/v1/events HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n", h.addr, h.admin)
	fmt.Fprint(conn, `{"kind":"materialization","asset":"raw/orders"}`+"\n"+`{"kind":"materiali`)
	tcp := conn.(*net.TCPConn)
	if reset {
		tcp.SetLinger(0)
		tcp.Close()
		return outcome{closed: true}, nil
	}
	tcp.CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "POST"})
	if err != nil {
		if closedConn(err) {
			return outcome{closed: true}, nil
		}
		return outcome{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return outcome{status: resp.StatusCode, header: resp.Header, body: body}, nil
}
