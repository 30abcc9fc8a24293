package asset

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		reason string // "" means valid
	}{
		{"raw/orders", ""},
		{"orders", ""},
		{"données/été/日本語", ""},
		{"db.schema.table", ""},
		{"a b/c d", ""},
		{"postgres:%2F%2Fhost:5432/public.orders", ""},
		{"", "empty"},
		{"raw//orders", "part 2 is empty"},
		{"/raw", "part 1 is empty"},
		{"raw/", "part 2 is empty"},
		{" raw/orders", "surrounding white space"},
		{"raw/orders ", "surrounding white space"},
		{"raw/\torders", "surrounding white space"},
		{"raw/or\x00ders", "control character"},
		{"raw/or\nders", "control character"},
		{"raw/\xff", "UTF-8"},
		{strings.Repeat("a", MaxKeyLen+1), "longer than"},
		// Keys a person cannot tell from another, or a URL cannot carry.
		{"caf\u00e9/x", ""},                         // NFC
		{"cafe\u0301/x", "not in Unicode NFC form"}, // NFD of the same
		{"probe/\u202etxt.exe", "format character U+202E"},
		{"raw/or\u200bders", "format character U+200B"},
		{"\ufeffraw/orders", "format character U+FEFF"},
		{"raw\u2215orders", "U+2215, which looks like '/'"},
		{"raw\uff0forders", "U+FF0F, which looks like '/'"},
		{"raw/./orders", "part 2 is ., which URLs resolve away"},
		{"raw/../orders", "part 2 is .., which URLs resolve away"},
		{"raw/...", ""},
		{"raw/.hidden", ""},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.in)
		if tt.reason == "" {
			if err != nil || string(k) != tt.in {
				t.Errorf("ParseKey(%q) = %q, %v; want valid", tt.in, k, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("ParseKey(%q) error = %v; want one mentioning %q", tt.in, err, tt.reason)
		}
	}
	if _, err := ParseKey(""); !errors.Is(err, ErrEmptyKey) {
		t.Errorf("ParseKey(\"\") = %v, want ErrEmptyKey", err)
	}
}

func TestKeyHelpers(t *testing.T) {
	t.Parallel()
	k := MustParseKey("raw/shop/orders")
	if got := k.Name(); got != "orders" {
		t.Errorf("Name = %q", got)
	}
	if got := len(k.Parts()); got != 3 {
		t.Errorf("Parts = %d", got)
	}
	for prefix, want := range map[Key]bool{"raw": true, "raw/shop": true, "raw/shop/orders": true, "raw/sh": false, "staging": false} {
		if got := k.HasPrefix(prefix); got != want {
			t.Errorf("HasPrefix(%q) = %v, want %v", prefix, got, want)
		}
	}
	if _, err := KeyFromParts("a", "b/c"); err == nil {
		t.Error("KeyFromParts accepted a part with '/'")
	}
	if k, err := KeyFromParts("a", "b"); err != nil || k != "a/b" {
		t.Errorf("KeyFromParts = %q, %v", k, err)
	}
}

func TestEscapePartRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"postgres://host:5432", "db/schema.table", "100%", " padded ", "tab\there", "plain", "日本/語", "%2F",
	} {
		esc := EscapePart(name)
		if _, err := ParseKey(esc); err != nil {
			t.Errorf("EscapePart(%q) = %q is not a valid key: %v", name, esc, err)
		}
		back, err := UnescapePart(esc)
		if err != nil || back != name {
			t.Errorf("UnescapePart(EscapePart(%q)) = %q, %v", name, back, err)
		}
	}
	if _, err := UnescapePart("bad%2"); err == nil {
		t.Error("UnescapePart accepted a truncated escape")
	}
}

// BenchmarkParseKey: keys as pipelines send them (ASCII, three parts), and
// one with non-ASCII letters that takes the full Unicode checks.
func BenchmarkParseKey(b *testing.B) {
	for _, k := range []string{"warehouse/analytics/orders_daily", "ol/s3:%2F%2Flake/raw/shop/orders", "lac/données/été"} {
		b.Run(k, func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseKey(k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestASCIIPartAgrees: the byte checks answer as the Unicode checks do on
// every part made of ASCII: each byte alone, each pair, and random parts.
func TestASCIIPartAgrees(t *testing.T) {
	t.Parallel()
	var parts []string
	for a := 0; a < 128; a++ {
		parts = append(parts, string(rune(a)))
		for b := 0; b < 128; b++ {
			parts = append(parts, string([]byte{byte(a), byte(b)}))
		}
	}
	r := rand.New(rand.NewPCG(7, 11))
	for range 20000 {
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(128))
		}
		parts = append(parts, string(b))
	}
	parts = append(parts, "", ".", "..", "...", " a", "a ", "\ta", "a\r")
	for _, p := range parts {
		if strings.Contains(p, "/") {
			continue
		}
		if got, want := checkASCIIPart(p), checkPart(p); got != want {
			t.Fatalf("part %q: byte checks say %q, Unicode checks %q", p, got, want)
		}
	}
}
