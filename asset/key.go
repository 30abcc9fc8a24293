// Package asset is Freshet's vocabulary: asset keys, specs, events and
// metadata. It imports nothing else from Freshet so every other package can
// depend on it.
package asset

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxKeyLen bounds a key's length in bytes so that keys stay usable as
// ClickHouse sort keys, URL path segments and map keys.
const MaxKeyLen = 1024

// Key identifies an asset. It is a path of parts written "a/b/c". The zero
// value is not a valid key; build keys with ParseKey or KeyFromParts.
type Key string

// KeyError explains why a string is not a valid key.
type KeyError struct {
	Input  string
	Reason string
}

func (e *KeyError) Error() string { return fmt.Sprintf("invalid asset key %q: %s", e.Input, e.Reason) }

// ErrEmptyKey is returned for an empty key string.
var ErrEmptyKey = errors.New("asset key is empty")

// ParseKey validates s and returns it as a Key: the one rule for keys
// everywhere (config, events, API paths, OpenLineage). A key is valid
// UTF-8 in Unicode NFC form, at most MaxKeyLen bytes, of parts separated
// by '/'. A part is not empty, not "." or "..", has no surrounding white
// space, and holds no control or format character (zero-width, bidi
// overrides, U+FEFF) and no character that looks like a slash. Why: two
// keys a person cannot tell apart (NFC vs NFD, a hidden U+202E, U+2215 for
// '/') would be two assets, and "." or ".." parts are rewritten by
// browsers and URL libraries, so such an asset could not be opened.
func ParseKey(s string) (Key, error) {
	if s == "" {
		return "", ErrEmptyKey
	}
	if len(s) > MaxKeyLen {
		return "", &KeyError{Input: s[:32] + "...", Reason: fmt.Sprintf("longer than %d bytes", MaxKeyLen)}
	}
	// Most keys are ASCII, which is valid UTF-8, in NFC and free of
	// format characters and lookalike slashes: they take the byte checks
	// (ingest parses a key per event and upstream).
	check := checkASCIIPart
	if !isASCII(s) {
		if !utf8.ValidString(s) {
			return "", &KeyError{Input: s, Reason: "not valid UTF-8"}
		}
		if !norm.NFC.IsNormalString(s) {
			return "", &KeyError{Input: s, Reason: fmt.Sprintf("not in Unicode NFC form (send %q)", norm.NFC.String(s))}
		}
		check = checkPart
	}
	i := 0
	for part := range strings.SplitSeq(s, "/") {
		i++
		if reason := check(part); reason != "" {
			return "", &KeyError{Input: s, Reason: fmt.Sprintf("part %d %s", i, reason)}
		}
	}
	return Key(s), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// checkASCIIPart is checkPart for a part of ASCII bytes, with the same
// answers: among ASCII only the C0 controls and DEL are refused, and
// white space is tab, newline, vertical tab, form feed, carriage return
// and space.
func checkASCIIPart(p string) string {
	if p == "" {
		return "is empty"
	}
	if asciiSpace(p[0]) || asciiSpace(p[len(p)-1]) {
		return "has surrounding white space"
	}
	if p == "." || p == ".." {
		return "is " + p + ", which URLs resolve away"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return "contains a control character"
		}
	}
	return ""
}

func asciiSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// MustParseKey is ParseKey for constants in tests and examples; it panics on error.
func MustParseKey(s string) Key {
	k, err := ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// KeyFromParts joins parts into a key, validating each.
func KeyFromParts(parts ...string) (Key, error) {
	if len(parts) == 0 {
		return "", ErrEmptyKey
	}
	for i, p := range parts {
		if strings.Contains(p, "/") {
			return "", &KeyError{Input: p, Reason: fmt.Sprintf("part %d contains '/'; use EscapePart", i+1)}
		}
	}
	return ParseKey(strings.Join(parts, "/"))
}

func checkPart(p string) string {
	if p == "" {
		return "is empty"
	}
	first, _ := utf8.DecodeRuneInString(p)
	last, _ := utf8.DecodeLastRuneInString(p)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "has surrounding white space"
	}
	if p == "." || p == ".." {
		return "is " + p + ", which URLs resolve away"
	}
	for _, r := range p {
		switch {
		case unicode.IsControl(r):
			return "contains a control character"
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("contains the invisible format character U+%04X", r)
		case lookalikeSlash(r):
			return fmt.Sprintf("contains U+%04X, which looks like '/'", r)
		}
	}
	return ""
}

// lookalikeSlash reports characters that read as a slash or a backslash.
func lookalikeSlash(r rune) bool {
	switch r {
	case '\u2215', '\uFF0F', '\u2044', '\u29F8', '\u2571', '\u27CB', '\u3033', '\uFE68', '\uFF3C', '\u29F5', '\u29F9', '\u2216':
		return true
	}
	return false
}

// Parts returns the key's path parts.
func (k Key) Parts() []string { return strings.Split(string(k), "/") }

// String returns the key in its "a/b/c" form.
func (k Key) String() string { return string(k) }

// Name returns the last part of the key.
func (k Key) Name() string {
	s := string(k)
	return s[strings.LastIndexByte(s, '/')+1:]
}

// HasPrefix reports whether k equals prefix or lies under it ("raw" is a
// prefix of "raw/orders", not of "rawdata/x").
func (k Key) HasPrefix(prefix Key) bool {
	return k == prefix || strings.HasPrefix(string(k), string(prefix)+"/")
}

// EscapePart turns an arbitrary name (an OpenLineage dataset name such as
// "postgres://host:5432" or "db/schema.table") into a valid key part by
// percent-encoding '%', '/', control characters and surrounding spaces.
// UnescapePart reverses it exactly. An empty name stays empty (and is not a
// valid part).
func EscapePart(s string) string {
	// Most parts need no escape: no allocation for them.
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range s { // invalid UTF-8 reads as U+FFFD, written as such
		edge := i == 0 || lastRune(s, i)
		switch {
		case r == '%' || r == '/' || unicode.IsControl(r) || (edge && unicode.IsSpace(r)):
			var buf [utf8.UTFMax]byte
			for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
				b.WriteByte('%')
				b.WriteByte(upperHex[c>>4])
				b.WriteByte(upperHex[c&0xF])
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// lastRune reports whether the rune at byte i is s's last.
func lastRune(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return i+size == len(s)
}

// needsEscape reports whether EscapePart would change s.
func needsEscape(s string) bool {
	for i, r := range s {
		if r == '%' || r == '/' || r == utf8.RuneError || unicode.IsControl(r) {
			return true
		}
		if unicode.IsSpace(r) && (i == 0 || lastRune(s, i)) {
			return true
		}
	}
	return false
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// UnescapePart reverses EscapePart.
func UnescapePart(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("unescape %q: truncated escape at byte %d", s, i)
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("unescape %q: bad escape at byte %d: want two hex digits", s, i)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}
