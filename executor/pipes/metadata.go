package pipes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// TypeInfer asks the receiver to infer a metadata value's type.
const TypeInfer = "__infer__"

// MetadataValue is one metadata entry as Pipes sends it: a raw JSON value
// and Dagster's name for its type.
type MetadataValue struct {
	Type string          `json:"type"`
	Raw  json.RawMessage `json:"raw_value"`
}

// UnmarshalJSON reads the {"raw_value", "type"} form, and takes any other
// value as a raw value to infer (some clients send plain values).
func (v *MetadataValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var w struct {
			Type *string         `json:"type"`
			Raw  json.RawMessage `json:"raw_value"`
		}
		if err := json.Unmarshal(b, &w); err != nil {
			return err
		}
		if w.Type != nil && w.Raw != nil {
			*v = MetadataValue{Type: *w.Type, Raw: w.Raw}
			return nil
		}
	}
	if !json.Valid(b) {
		return errors.New("metadata value is not JSON")
	}
	*v = MetadataValue{Type: TypeInfer, Raw: slices.Clone(b)}
	return nil
}

// Metadata is a report's metadata by name.
type Metadata map[string]MetadataValue

// Asset converts the entries to Freshet's typed metadata:
//
//   - int, float, bool: the same types (a number in a string is read; an
//     int sent as an integral float is an int);
//   - text, md, path, notebook, asset, dagster_run: text; url: url;
//   - json, table, table_schema, table_column_lineage: json (an object or
//     array, or a string holding one; another value is inferred);
//   - timestamp: float Unix seconds (a number, or an RFC 3339 string);
//   - null values, and the null type: left out;
//   - __infer__ and types this package does not know: inferred as the
//     events API infers JSON metadata (integers int, other numbers float,
//     strings with a URL scheme url, other strings text, objects and
//     arrays json).
//
// An entry that cannot be converted is left out, and the error names it;
// the others are returned either way.
func (md Metadata) Asset() (asset.Metadata, error) {
	if len(md) == 0 {
		return nil, nil
	}
	out := make(asset.Metadata, len(md))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(md)) {
		v, ok, err := md[name].Asset()
		if err != nil {
			errs = append(errs, fmt.Errorf("metadata %q: %w", name, err))
			continue
		}
		if ok {
			out[name] = v
		}
	}
	return out, errors.Join(errs...)
}

// Asset converts one value (see Metadata.Asset); ok is false for a value
// with nothing to record (null).
func (v MetadataValue) Asset() (mv asset.MetaValue, ok bool, err error) {
	raw := bytes.TrimSpace(v.Raw)
	if len(raw) == 0 || string(raw) == "null" || v.Type == "null" {
		return mv, false, nil
	}
	str, isStr := jsonString(raw)
	switch v.Type {
	case "int":
		n, err := toInt(raw, str, isStr)
		return asset.Int(n), err == nil, err
	case "float":
		f, err := toFloat(raw, str, isStr)
		return asset.Float(f), err == nil, err
	case "bool":
		switch {
		case string(raw) == "true" || isStr && str == "true":
			return asset.Bool(true), true, nil
		case string(raw) == "false" || isStr && str == "false":
			return asset.Bool(false), true, nil
		}
		return mv, false, fmt.Errorf("bool value %s", excerpt(raw))
	case "url":
		if !isStr {
			return mv, false, fmt.Errorf("url value %s is not a string", excerpt(raw))
		}
		return asset.URL(str), true, nil
	case "text", "md", "path", "notebook", "asset", "dagster_run":
		if isStr {
			return asset.Text(str), true, nil
		}
		return asset.Text(compact(raw)), true, nil
	case "json", "table", "table_schema", "table_column_lineage":
		if raw[0] == '{' || raw[0] == '[' {
			return asset.JSONValue(compact(raw)), true, nil
		}
		if isStr {
			if s := bytes.TrimSpace([]byte(str)); len(s) > 0 && (s[0] == '{' || s[0] == '[') && json.Valid(s) {
				return asset.JSONValue(compact(s)), true, nil
			}
		}
	case "timestamp":
		if isStr {
			t, err := time.Parse(time.RFC3339Nano, str)
			if err != nil {
				return mv, false, fmt.Errorf("timestamp value %s: %w", excerpt(raw), err)
			}
			return asset.Float(float64(t.UnixNano()) / 1e9), true, nil
		}
		f, err := toFloat(raw, "", false)
		return asset.Float(f), err == nil, err
	}
	if err := mv.UnmarshalJSON(raw); err != nil {
		return mv, false, err
	}
	return mv, true, nil
}

// jsonString returns the content of a JSON string literal.
func jsonString(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func toInt(raw []byte, str string, isStr bool) (int64, error) {
	s := string(raw)
	if isStr {
		s = str
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("int value %s", excerpt(raw))
	}
	return int64(f), nil
}

func toFloat(raw []byte, str string, isStr bool) (float64, error) {
	s := string(raw)
	if isStr {
		s = str
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("float value %s", excerpt(raw))
	}
	return f, nil
}

func compact(raw []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// excerpt quotes at most 64 bytes of raw for an error.
func excerpt(raw []byte) string {
	if len(raw) > 64 {
		return string(raw[:64]) + "..."
	}
	return string(raw)
}
