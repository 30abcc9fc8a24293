package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/auth"
	"github.com/freshet-dev/freshet/config"
)

type call struct {
	method, path, body string
}

func (c call) do(t *testing.T, base, token string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// TestScopes: each scope against each route group; missing, unknown,
// revoked and expired tokens; the audit actor is the token's name.
func TestScopes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	toks, err := auth.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	secret := map[string]string{}
	for _, s := range []struct {
		name   string
		scopes []string
		exp    time.Time
	}{
		{"reader", []string{auth.ScopeRead}, time.Time{}},
		{"pipeline", []string{auth.ScopeIngest}, time.Time{}},
		{"alice", []string{auth.ScopeOperate, auth.ScopeRead}, time.Time{}},
		{"root", []string{auth.ScopeAdmin}, time.Time{}},
		{"gone", []string{auth.ScopeAdmin}, time.Time{}},
		{"brief", []string{auth.ScopeAdmin}, now.Add(3 * time.Second)},
	} {
		sec, _, err := toks.Create(s.name, s.scopes, s.exp, now)
		if err != nil {
			t.Fatal(err)
		}
		secret[s.name] = sec
	}
	if err := toks.Revoke("gone", now); err != nil {
		t.Fatal(err)
	}
	defs, err := config.Parse("auth.yaml", []byte("assets:\n  - key: raw/a\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, app.Config{DataDir: dir, Definitions: defs, Logger: quiet, Tokens: toks})

	read := call{"GET", "/api/v1/assets", ""}
	ingest := call{"POST", "/api/v1/events", `{"kind":"materialization","asset":"raw/a"}`}
	operate := call{"PUT", "/api/v1/assets/raw%2Fa/freshness/policy", `{"max_lag":"2h","actor":"mallory"}`}
	open := call{"GET", "/healthz", ""}
	metrics := call{"GET", "/metrics", ""}
	tests := []struct {
		token string
		c     call
		want  int
	}{
		{"", open, 200}, {"", metrics, 200},
		{"", read, 401}, {"", ingest, 401}, {"", operate, 401},
		{"fst_nope", read, 401}, {"gone", read, 401},
		{"reader", read, 200}, {"reader", ingest, 403}, {"reader", operate, 403},
		{"pipeline", read, 403}, {"pipeline", ingest, 202}, {"pipeline", operate, 403},
		{"alice", read, 200}, {"alice", ingest, 403}, {"alice", operate, 200},
		{"root", read, 200}, {"root", ingest, 202}, {"root", operate, 200},
	}
	for _, tc := range tests {
		tok := secret[tc.token]
		if tok == "" {
			tok = tc.token
		}
		status, body := tc.c.do(t, srv.base, tok, nil)
		if status != tc.want {
			t.Errorf("%s %s with %q: %d %v, want %d", tc.c.method, tc.c.path, tc.token, status, body, tc.want)
		}
		if status == 401 || status == 403 {
			if e, _ := body["error"].(map[string]any); e == nil || e["field"] != "Authorization" {
				t.Errorf("%s %s with %q: error %v does not name Authorization", tc.c.method, tc.c.path, tc.token, body)
			}
		}
	}
	// The audit names the token, not the actor the client claimed.
	var audit []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body := call{"GET", "/api/v1/assets/raw%2Fa/freshness", ""}.do(t, srv.base, secret["alice"], nil)
		if audit, _ = json.Marshal(body["audit"]); strings.Contains(string(audit), "actor") {
			break
		}
	}
	if !strings.Contains(string(audit), `"alice"`) || strings.Contains(string(audit), "mallory") {
		t.Errorf("audit = %s, want actor alice (the token), not the claimed mallory", audit)
	}
	// An expired token is refused.
	time.Sleep(time.Until(now.Add(3 * time.Second)))
	if status, body := read.do(t, srv.base, secret["brief"], nil); status != 401 || !strings.Contains(fmt.Sprint(body), "expired") {
		t.Errorf("expired token: %d %v", status, body)
	}
}

// TestBrowserDefences: a foreign Host (DNS rebinding), a cross-site
// Origin and form or text bodies never reach a handler.
func TestBrowserDefences(t *testing.T) {
	t.Parallel()
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet, AllowedHosts: []string{"localhost", "127.0.0.1", "::1"},
		AllowedOrigins: []string{"https://grafana.example.com"}})
	ev := `{"kind":"materialization","asset":"raw/a"}`
	tests := []struct {
		name   string
		c      call
		hdr    map[string]string
		ctype  string
		status int
		field  string
	}{
		{"rebound host", call{"GET", "/api/v1/assets", ""}, map[string]string{"Host": "evil.example.com"}, "", 403, "Host"},
		{"rebound host with port", call{"GET", "/healthz", ""}, map[string]string{"Host": "attacker.test:3000"}, "", 403, "Host"},
		{"loopback host", call{"GET", "/api/v1/assets", ""}, map[string]string{"Host": "localhost:3000"}, "", 200, ""},
		{"cross-site origin", call{"POST", "/api/v1/events", ev}, map[string]string{"Origin": "https://evil.example.com"}, "application/json", 403, "Origin"},
		{"allowed origin", call{"GET", "/api/v1/assets", ""}, map[string]string{"Origin": "https://grafana.example.com"}, "", 200, ""},
		{"text/plain body", call{"POST", "/api/v1/events", ev}, nil, "text/plain", 415, "Content-Type"},
		{"form body", call{"POST", "/api/v1/events", ev}, nil, "application/x-www-form-urlencoded", 415, "Content-Type"},
		{"form to a policy", call{"PUT", "/api/v1/assets/raw%2Fa/freshness/policy", `max_lag=1h`}, nil, "application/x-www-form-urlencoded", 415, "Content-Type"},
		{"multipart", call{"POST", "/api/v1/silences", "x"}, nil, "multipart/form-data; boundary=x", 415, "Content-Type"},
	}
	for _, tc := range tests {
		hdr := map[string]string{}
		for k, v := range tc.hdr {
			hdr[k] = v
		}
		if tc.ctype != "" {
			hdr["Content-Type"] = tc.ctype
		}
		req, _ := http.NewRequest(tc.c.method, srv.base+tc.c.path, strings.NewReader(tc.c.body))
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.status)
			continue
		}
		if tc.field != "" && !strings.Contains(string(b), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %s does not name %s", tc.name, b, tc.field)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no security headers", tc.name)
		}
		if tc.name == "allowed origin" && resp.Header.Get("Access-Control-Allow-Origin") != "https://grafana.example.com" {
			t.Errorf("allowed origin: no CORS header")
		}
	}
}

// TestAbortedBody: a client that stops mid-body gets a 400 (when it is
// still there to read it), never a 500, and the server stays healthy.
func TestAbortedBody(t *testing.T) {
	t.Parallel()
	srv := serve(t, app.Config{DataDir: t.TempDir(), Logger: quiet})
	addr := strings.TrimPrefix(srv.base, "http://")
	for range 5 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /api/v1/events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n", addr)
		fmt.Fprint(conn, `{"kind":"materialization","asset":"a"}`+"\n"+`{"kind":"materiali`)
		conn.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(conn)
		conn.Close()
		if !strings.Contains(string(b), "400 Bad Request") || !strings.Contains(string(b), "body_incomplete") {
			t.Fatalf("aborted body answered %q", b)
		}
	}
	if status, _ := (call{"GET", "/healthz", ""}).do(t, srv.base, "", nil); status != 200 {
		t.Errorf("healthz = %d", status)
	}
}
