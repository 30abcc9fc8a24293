package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/auth"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestCreateAuthenticateRevoke(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	toks, err := auth.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if toks.Enabled() || toks.HasActive(now) {
		t.Fatal("enabled without tokens")
	}
	secret, tok, err := toks.Create("ci", []string{auth.ScopeIngest, auth.ScopeRead, auth.ScopeIngest}, time.Time{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "fst_") || len(secret) < 40 || strings.Join(tok.Scopes, ",") != "ingest,read" {
		t.Errorf("secret %q token %+v", secret, tok)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, auth.FileName))
	if strings.Contains(string(raw), secret) || !strings.Contains(string(raw), tok.Hash) {
		t.Errorf("the file must hold the hash, never the secret: %s", raw)
	}
	if info, _ := os.Stat(filepath.Join(dir, auth.FileName)); info.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", info.Mode().Perm())
	}
	// A second handle (the server) sees the CLI's token.
	server, err := auth.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := server.Authenticate(secret, now)
	if err != nil || got.Name != "ci" || !got.Allows(auth.ScopeIngest) || got.Allows(auth.ScopeOperate) {
		t.Fatalf("authenticate = %+v, %v", got, err)
	}
	if _, err := server.Authenticate(secret+"x", now); !errors.Is(err, auth.ErrUnknown) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, _, err := toks.Create("ci", []string{auth.ScopeRead}, time.Time{}, now); err == nil {
		t.Error("a second active token named ci was created")
	}
	adminSecret, _, err := toks.Create("root", []string{auth.ScopeAdmin}, now.Add(time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := server.Authenticate(adminSecret, now.Add(2*time.Second)); err != nil || !a.Allows(auth.ScopeOperate) {
		t.Errorf("admin = %+v, %v (admin implies every scope)", a, err)
	}
	if _, err := server.Authenticate(adminSecret, now.Add(2*time.Hour)); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	if err := toks.Revoke("ci", now); err != nil {
		t.Fatal(err)
	}
	if err := toks.Revoke("root", now); err != nil {
		t.Fatal(err)
	}
	if !server.Enabled() || server.HasActive(now) {
		t.Error("with every token revoked the API must stay locked, with none usable")
	}
	// The server rereads the file when it changes.
	if _, err := server.Authenticate(secret, now.Add(5*time.Second)); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("revoked: %v", err)
	}
	if err := toks.Revoke("ci", now); err == nil {
		t.Error("revoking twice succeeded")
	}
	for _, bad := range []struct {
		name   string
		scopes []string
	}{{"", []string{"read"}}, {"a b", []string{"read"}}, {"x", nil}, {"x", []string{"root"}}} {
		if _, _, err := toks.Create(bad.name, bad.scopes, time.Time{}, now); err == nil {
			t.Errorf("Create(%q, %v) accepted", bad.name, bad.scopes)
		}
	}
	if len(toks.List()) != 2 || toks.List()[0].Revoked.IsZero() {
		t.Errorf("list = %+v", toks.List())
	}
}
