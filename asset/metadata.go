package asset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MetaType is the type of a metadata value.
type MetaType uint8

const (
	MetaText MetaType = iota
	MetaInt
	MetaFloat
	MetaBool
	MetaURL
	MetaJSON // any object or array, kept as compact JSON text
)

var metaTypeNames = [...]string{"text", "int", "float", "bool", "url", "json"}

func (t MetaType) String() string {
	if int(t) < len(metaTypeNames) {
		return metaTypeNames[t]
	}
	return fmt.Sprintf("MetaType(%d)", t)
}

// MetaValue is one typed metadata value. Exactly one of the fields is
// meaningful, chosen by Type; URL and JSON values live in Text. (Bool
// beside Type: 40 bytes rather than 48, so an event's metadata map of up
// to 8 entries takes a smaller block.)
type MetaValue struct {
	Type  MetaType
	Bool  bool
	Int   int64
	Float float64
	Text  string
}

// Metadata maps names to typed values. Its JSON form is a plain object whose
// value types are inferred on decode: integers are int, other numbers float,
// strings with a URL scheme ("s3://", "https://") url, other strings text,
// objects and arrays json. Encoding keeps floats distinguishable from ints
// ("1.0"), so a value survives a round trip with its type.
type Metadata map[string]MetaValue

// RowCountKey is the conventional metadata name for a materialization's row count.
const RowCountKey = "row_count"

// RowCount returns the row_count value when it is an int.
func (m Metadata) RowCount() (int64, bool) {
	v, ok := m[RowCountKey]
	if !ok || v.Type != MetaInt {
		return 0, false
	}
	return v.Int, true
}

// Int, Float, Text and friends build values.
func Int(v int64) MetaValue     { return MetaValue{Type: MetaInt, Int: v} }
func Float(v float64) MetaValue { return MetaValue{Type: MetaFloat, Float: v} }
func Text(v string) MetaValue   { return MetaValue{Type: MetaText, Text: v} }
func Bool(v bool) MetaValue     { return MetaValue{Type: MetaBool, Bool: v} }
func URL(v string) MetaValue    { return MetaValue{Type: MetaURL, Text: v} }

// JSONValue builds a json value from compact JSON text.
func JSONValue(raw string) MetaValue { return MetaValue{Type: MetaJSON, Text: raw} }

// MarshalJSON writes the value in its plain JSON form.
func (v MetaValue) MarshalJSON() ([]byte, error) {
	switch v.Type {
	case MetaInt:
		return strconv.AppendInt(nil, v.Int, 10), nil
	case MetaFloat:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return nil, fmt.Errorf("metadata float %v is not representable in JSON", v.Float)
		}
		b := strconv.AppendFloat(nil, v.Float, 'g', -1, 64)
		if !bytes.ContainsAny(b, ".eE") {
			b = append(b, ".0"...)
		}
		return b, nil
	case MetaBool:
		return strconv.AppendBool(nil, v.Bool), nil
	case MetaJSON:
		if !json.Valid([]byte(v.Text)) {
			return nil, fmt.Errorf("metadata json value is not valid JSON")
		}
		return []byte(v.Text), nil
	default:
		return json.Marshal(v.Text)
	}
}

// UnmarshalJSON infers the type from the JSON value (see Metadata).
func (v *MetaValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("empty metadata value")
	}
	switch b[0] {
	case '"':
		var s string
		if plain, ok := plainString(b); ok {
			s = plain // no escapes: the common case, without a second parse
		} else if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if LooksLikeURL(s) {
			*v = URL(s)
		} else {
			*v = Text(s)
		}
	case 't', 'f':
		var x bool
		if err := json.Unmarshal(b, &x); err != nil {
			return err
		}
		*v = Bool(x)
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*v = JSONValue(buf.String())
	case 'n':
		return fmt.Errorf("metadata value is null")
	default:
		s := string(b)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				*v = Int(n)
				return nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("metadata number %s: %w", s, err)
		}
		*v = Float(f)
	}
	return nil
}

// plainString returns the content of a JSON string literal that needs no
// unescaping (no backslash, no control character, valid UTF-8).
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[len(b)-1] != '"' {
		return "", false
	}
	inner := b[1 : len(b)-1]
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// LooksLikeURL accepts "scheme://rest" with an RFC 3986 scheme: such a
// text metadata value is typed url.
func LooksLikeURL(s string) bool {
	i := strings.Index(s, "://")
	if i <= 0 || i+3 >= len(s) || strings.ContainsAny(s, " \t\n") {
		return false
	}
	for j, c := range s[:i] {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !(alpha || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// Names returns the metadata names in sorted order.
func (m Metadata) Names() []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
