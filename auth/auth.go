// Package auth keeps the API's bearer tokens: a small file in the data
// directory (tokens.json) holding, per token, its name, scopes, expiry and
// revocation, and a SHA-256 hash of the secret, never the secret itself.
// The CLI edits the file (`freshet token create|ls|revoke`), atomically,
// and a running server notices the change at its next request.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Scopes, from least to most powerful. admin implies every other scope;
// the others imply nothing, so a pipeline's ingest token cannot read or
// change SLAs.
const (
	ScopeRead    = "read"    // every GET
	ScopeIngest  = "ingest"  // POST events and OpenLineage
	ScopeOperate = "operate" // SLAs, runs, silences, automation, dead letters
	ScopeAdmin   = "admin"   // all of the above
)

// Scopes lists the valid scopes.
var Scopes = []string{ScopeRead, ScopeIngest, ScopeOperate, ScopeAdmin}

// Errors of Authenticate.
var (
	ErrUnknown = errors.New("unknown token")
	ErrExpired = errors.New("token expired")
	ErrRevoked = errors.New("token revoked")
)

// Token is one entry of the file.
type Token struct {
	Name    string    `json:"name"`
	Scopes  []string  `json:"scopes"`
	Hash    string    `json:"sha256"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	Revoked time.Time `json:"revoked,omitzero"`
}

// Allows reports whether the token grants scope.
func (t Token) Allows(scope string) bool {
	return slices.Contains(t.Scopes, scope) || slices.Contains(t.Scopes, ScopeAdmin)
}

// Active reports whether the token can be used at now.
func (t Token) Active(now time.Time) bool {
	return t.Revoked.IsZero() && (t.Expires.IsZero() || now.Before(t.Expires))
}

// Tokens is the token file of one data directory.
type Tokens struct {
	path string

	mu      sync.Mutex
	byHash  map[string]Token
	all     []Token
	modTime time.Time
	size    int64
}

// FileName is the token file's name inside the data directory.
const FileName = "tokens.json"

// Open reads dir/tokens.json (absent: no tokens).
func Open(dir string) (*Tokens, error) {
	t := &Tokens{path: filepath.Join(dir, FileName)}
	if err := t.reload(true); err != nil {
		return nil, err
	}
	return t, nil
}

// reload rereads the file if it changed (or always, with force).
func (t *Tokens) reload(force bool) error {
	st, err := os.Stat(t.path)
	if errors.Is(err, os.ErrNotExist) {
		t.byHash, t.all, t.modTime, t.size = map[string]Token{}, nil, time.Time{}, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	if !force && st.ModTime().Equal(t.modTime) && st.Size() == t.size {
		return nil
	}
	data, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	var all []Token
	if err := json.Unmarshal(data, &all); err != nil {
		return fmt.Errorf("tokens: %s is not a token file: %w", t.path, err)
	}
	byHash := make(map[string]Token, len(all))
	for _, tok := range all {
		byHash[tok.Hash] = tok
	}
	t.byHash, t.all, t.modTime, t.size = byHash, all, st.ModTime(), st.Size()
	return nil
}

// refresh rereads the file if it changed: one stat per request, so a
// revoked token stops working at once.
func (t *Tokens) refresh() {
	// On error keep the tokens last read: a file being replaced must not
	// lock everyone out (writes are atomic renames, so this is rare).
	_ = t.reload(false)
}

// Enabled reports whether the file holds any token, even a revoked or
// expired one: once tokens are in use, losing the last one must lock the
// API, not open it.
func (t *Tokens) Enabled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	return len(t.all) > 0
}

// HasActive reports whether some token can be used at now.
func (t *Tokens) HasActive(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refresh()
	for _, tok := range t.all {
		if tok.Active(now) {
			return true
		}
	}
	return false
}

// Authenticate returns the token whose secret this is.
func (t *Tokens) Authenticate(secret string, now time.Time) (Token, error) {
	sum := sha256.Sum256([]byte(secret))
	h := hex.EncodeToString(sum[:])
	t.mu.Lock()
	t.refresh()
	tok, ok := t.byHash[h]
	t.mu.Unlock()
	// The map lookup is by hash, not by secret; the compare below keeps
	// the final check constant-time all the same.
	if !ok || subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(h)) != 1 {
		return Token{}, ErrUnknown
	}
	switch {
	case !tok.Revoked.IsZero():
		return tok, ErrRevoked
	case !tok.Expires.IsZero() && !now.Before(tok.Expires):
		return tok, ErrExpired
	}
	return tok, nil
}

// List returns the tokens, by name.
func (t *Tokens) List() []Token {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.reload(false)
	out := slices.Clone(t.all)
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Create adds a token and returns its secret (shown once; only its hash
// is kept). Names are unique among tokens not revoked.
func (t *Tokens) Create(name string, scopes []string, expires, now time.Time) (string, Token, error) {
	if err := checkName(name); err != nil {
		return "", Token{}, err
	}
	if len(scopes) == 0 {
		return "", Token{}, fmt.Errorf("scope: give at least one of %s", strings.Join(Scopes, ", "))
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			return "", Token{}, fmt.Errorf("scope: unknown scope %q (known: %s)", s, strings.Join(Scopes, ", "))
		}
	}
	if !expires.IsZero() && !expires.After(now) {
		return "", Token{}, fmt.Errorf("expires: must be in the future")
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", Token{}, err
	}
	secret := "fst_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	sum := sha256.Sum256([]byte(secret))
	tok := Token{Name: name, Scopes: slices.Compact(slices.Sorted(slices.Values(scopes))), Hash: hex.EncodeToString(sum[:]),
		Created: now.UTC(), Expires: expires.UTC()}
	err := t.update(func(all []Token) ([]Token, error) {
		for _, o := range all {
			if o.Name == name && o.Revoked.IsZero() {
				return nil, fmt.Errorf("name: a token named %q exists; revoke it first or pick another name", name)
			}
		}
		return append(all, tok), nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, tok, nil
}

// Revoke marks the active token called name revoked.
func (t *Tokens) Revoke(name string, now time.Time) error {
	return t.update(func(all []Token) ([]Token, error) {
		for i := range all {
			if all[i].Name == name && all[i].Revoked.IsZero() {
				all[i].Revoked = now.UTC()
				return all, nil
			}
		}
		return nil, fmt.Errorf("name: no active token named %q", name)
	})
}

// update rewrites the file under an exclusive lock, atomically (a new
// file renamed over the old), so a concurrent CLI or a reading server
// never sees half a file.
func (t *Tokens) update(fn func([]Token) ([]Token, error)) error {
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(t.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reload(true); err != nil {
		return err
	}
	all, err := fn(slices.Clone(t.all))
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	tmp := t.path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return err
	}
	return t.reload(true)
}

func checkName(name string) error {
	if name == "" || len(name) > 100 {
		return errors.New("name: give a name of 1 to 100 characters (it is the audit actor)")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@:", r)) {
			return fmt.Errorf("name: %q: use letters, digits and the characters - _ . @ : only", name)
		}
	}
	return nil
}
