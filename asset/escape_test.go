package asset

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// The former EscapePart and UnescapePart (fmt-based), the reference the
// allocation-free versions must match.
func escapeRef(s string) string {
	var b strings.Builder
	runes := []rune(s)
	for i, r := range runes {
		edge := i == 0 || i == len(runes)-1
		switch {
		case r == '%' || r == '/' || unicode.IsControl(r) || (edge && unicode.IsSpace(r)):
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func FuzzEscapePartMatchesReference(f *testing.F) {
	for _, s := range []string{"", "a", "s3://lake", " x ", "\tx", "a%2Fb", "é", "\xff", "a\xffb", "\u00a0x\u00a0", "x\n", "%%", "\ufffd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := EscapePart(s), escapeRef(s)
		if got != want {
			t.Fatalf("EscapePart(%q) = %q, want %q", s, got, want)
		}
		back, err := UnescapePart(got)
		if err != nil {
			t.Fatalf("UnescapePart(%q): %v", got, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); back != want && !strings.ContainsRune(s, utf8RuneError) {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}

const utf8RuneError = '\ufffd'

func TestUnescapePartErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"%", "%2", "a%G0", "%0g", "% F", "%+F"} {
		if _, err := UnescapePart(s); err == nil {
			t.Errorf("UnescapePart(%q) accepted", s)
		}
	}
	for in, want := range map[string]string{"%2F": "/", "%2f": "/", "a%25b": "a%b", "%E2%82%AC": "€"} {
		if got, err := UnescapePart(in); err != nil || got != want {
			t.Errorf("UnescapePart(%q) = %q, %v", in, got, err)
		}
	}
}
