package ingest

import (
	"fmt"
	"io"
	"mime"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/freshet-dev/freshet/asset"
)

// Limits on one event. The body limit bounds a request; these keep one
// event from being absurd within it.
const (
	MaxIDLen       = 200
	MaxTextLen     = 200 // run_id, partition, check name
	MaxUpstream    = 1000
	MaxMetadata    = 1000
	MaxMetaNameLen = 256
	// MaxClockSkew is how far in the future an event time (or a data time
	// past its event time) may be before it is rejected as a clock error.
	MaxClockSkew = 5 * time.Minute
)

// ValidationError says what is wrong with a request body: the field (a
// JSON path such as "check.passed" or "metadata.row_count"), and for
// NDJSON the 1-based line. The API answers it with 400.
type ValidationError struct {
	Line    int
	Field   string
	Code    string // missing_field, invalid_value, invalid_json, unknown_field
	Message string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// APIError lets the API render the error without importing this package's types.
func (e *ValidationError) APIError() (code, field, message string, line int) {
	return e.Code, e.Field, e.Message, e.Line
}

// IsNDJSON reports whether a Content-Type announces newline-delimited JSON.
func IsNDJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return true
	}
	return false
}

// Decode reads client events: NDJSON when contentType says so, otherwise
// one JSON object or an array of them (so `curl -d` works whatever type it
// sends). Each event is validated and completed: a missing id gets
// newID(), a missing time gets now. The batch is all-or-nothing: the first
// problem is returned as a *ValidationError and no events.
func Decode(r io.Reader, contentType string, now time.Time, newID func() string) ([]asset.Event, error) {
	return DecodeMax(r, contentType, now, newID, DefaultMaxEvents)
}

// DefaultMaxEvents is the most events one request may hold unless the
// server says otherwise (--max-events-per-request): a bound on the memory
// one request can take, whatever its byte size.
const DefaultMaxEvents = 100_000

// DecodeMax is Decode with a bound on the events in the body (a
// *ValidationError with code too_many_events beyond it).
func DecodeMax(r io.Reader, contentType string, now time.Time, newID func() string, maxEvents int) ([]asset.Event, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, err // the body could not be read (e.g. too large)
	}
	return decodeBody(body, contentType, now, newID, maxEvents, nil)
}

// decodeBody decodes a body read whole, with a key cache shared between
// requests (nil: one per request).
func decodeBody(body []byte, contentType string, now time.Time, newID func() string, maxEvents int, shared *keyCache) ([]asset.Event, error) {
	if maxEvents <= 0 {
		maxEvents = DefaultMaxEvents
	}
	d := decoder{now: now.UTC(), newID: newID, max: maxEvents, shared: shared}
	if IsNDJSON(contentType) {
		return d.ndjson(body)
	}
	return d.json(body)
}

// validate checks a decoded event and completes it (id, time).
func (d *decoder) validate(w *wireEvent, prefix string) (asset.Event, *ValidationError) {
	fail := func(code, field, format string, args ...any) (asset.Event, *ValidationError) {
		return asset.Event{}, &ValidationError{Code: code, Field: prefix + field, Message: fmt.Sprintf(format, args...)}
	}
	ev := asset.Event{Time: d.now, RunID: w.RunID, Partition: w.Partition}
	if w.ID == nil {
		ev.ID = d.newID()
	} else {
		ev.ID = *w.ID
		if msg := checkName(ev.ID, MaxIDLen); msg != "" {
			return fail("invalid_value", "id", "id %s", msg)
		}
	}

	switch {
	case w.Kind == "":
		return fail("missing_field", "kind", "kind is required: one of %s", kindList())
	case !asset.IsClientKind(asset.Kind(w.Kind)):
		return fail("invalid_value", "kind", "unknown kind %q: use one of %s", w.Kind, kindList())
	}
	ev.Kind = asset.Kind(w.Kind)

	if w.Asset == "" {
		return fail("missing_field", "asset", "asset is required, e.g. \"raw/orders\"")
	}
	key, err := d.parseKey(w.Asset)
	if err != nil {
		return fail("invalid_value", "asset", "%v", err)
	}
	ev.Asset = key

	if w.Time != "" {
		t, msg := parseTime(w.Time)
		if msg != "" {
			return fail("invalid_value", "time", "%s", msg)
		}
		if t.After(d.now.Add(MaxClockSkew)) {
			return fail("invalid_value", "time", "time %s is in the future (server time is %s): check the sender's clock", w.Time, d.now.Format(time.RFC3339))
		}
		ev.Time = t
	}
	if msg := checkText(w.RunID, MaxTextLen, true); msg != "" {
		return fail("invalid_value", "run_id", "run_id %s", msg)
	}
	if msg := checkText(w.Partition, MaxTextLen, true); msg != "" {
		return fail("invalid_value", "partition", "partition %s", msg)
	}
	if w.DataTime != "" {
		t, msg := parseTime(w.DataTime)
		if msg != "" {
			return fail("invalid_value", "data_time", "%s", msg)
		}
		if t.After(ev.Time.Add(MaxClockSkew)) {
			return fail("invalid_value", "data_time", "data_time %s is after the event time %s: data cannot be current as of the future", w.DataTime, ev.Time.Format(time.RFC3339))
		}
		ev.DataTime = &t
	}

	if len(w.Upstream) > MaxUpstream {
		return fail("invalid_value", "upstream", "upstream lists %d assets; at most %d are allowed", len(w.Upstream), MaxUpstream)
	}
	var seen map[asset.Key]bool // only for long lists; short ones are scanned
	if len(w.Upstream) > 16 {
		seen = make(map[asset.Key]bool, len(w.Upstream))
	}
	for i, u := range w.Upstream {
		k, err := d.parseKey(u)
		if err != nil {
			return fail("invalid_value", fmt.Sprintf("upstream[%d]", i), "%v", err)
		}
		if k == ev.Asset {
			return fail("invalid_value", fmt.Sprintf("upstream[%d]", i), "an asset cannot be its own upstream")
		}
		dup := seen[k]
		if seen == nil {
			dup = slices.Contains(ev.Upstream, k)
		}
		if !dup { // duplicates are harmless; keep one
			ev.Upstream = append(ev.Upstream, k)
			if seen != nil {
				seen[k] = true
			}
		}
	}
	if len(ev.Upstream) > 0 {
		ev.Upstream = slices.Clip(ev.Upstream)
	}

	if len(w.Metadata) > MaxMetadata {
		return fail("invalid_value", "metadata", "metadata has %d entries; at most %d are allowed", len(w.Metadata), MaxMetadata)
	}
	if len(w.Metadata) > 0 {
		ev.Metadata = make(asset.Metadata, len(w.Metadata))
		for _, m := range w.Metadata {
			if msg := checkName(m.name, MaxMetaNameLen); msg != "" {
				return fail("invalid_value", "metadata", "metadata name %q: %s", m.name, msg)
			}
			if m.name == asset.RowCountKey && (m.v.Type != asset.MetaInt || m.v.Int < 0) {
				return fail("invalid_value", "metadata."+m.name, "row_count must be a non-negative integer, not %s", m.raw)
			}
			if m.name == asset.ColumnLineageKey {
				if _, err := asset.ColumnLineageOf(asset.Metadata{m.name: m.v}); err != nil {
					return fail("invalid_value", "metadata."+m.name, `%v; column_lineage maps each column to its inputs: {"total": [{"asset": "raw/orders", "column": "amount"}]}`, err)
				}
			}
			ev.Metadata[m.name] = m.v
		}
		if len(ev.Metadata) < len(w.Metadata) { // a name came twice: say which
			seen := make(map[string]bool, len(w.Metadata))
			for _, m := range w.Metadata {
				if seen[m.name] {
					return asset.Event{}, duplicateError(prefix+"metadata."+m.name, m.name)
				}
				seen[m.name] = true
			}
		}
	}

	switch c := w.Check; {
	case ev.Kind == asset.KindCheckResult && c == nil:
		return fail("missing_field", "check", `a check_result needs "check": {"name": ..., "passed": true|false}`)
	case ev.Kind != asset.KindCheckResult && c != nil:
		return fail("invalid_value", "check", "check is only allowed on check_result events, not %s", ev.Kind)
	case c != nil:
		switch {
		case c.Name == "":
			return fail("missing_field", "check.name", "check.name is required")
		case !checkNamePattern.MatchString(c.Name) || len(c.Name) > MaxTextLen:
			return fail("invalid_value", "check.name", "check name %q must be 1-%d letters, digits, '_', '.' or '-'", c.Name, MaxTextLen)
		case c.Passed == nil:
			return fail("missing_field", "check.passed", "check.passed is required (true or false)")
		}
		sev := asset.Severity(c.Severity)
		switch sev {
		case "":
			sev = asset.SeverityError
		case asset.SeverityWarn, asset.SeverityError:
		default:
			return fail("invalid_value", "check.severity", "severity must be warn or error, not %q", c.Severity)
		}
		ev.Check = &asset.CheckResult{Name: c.Name, Passed: *c.Passed, Severity: sev}
	}
	return ev, nil
}

var checkNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func kindList() string {
	names := make([]string, len(asset.ClientKinds))
	for i, k := range asset.ClientKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// parseTime accepts RFC 3339 with any offset and returns UTC.
func parseTime(s string) (time.Time, string) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Sprintf("%q is not an RFC 3339 time such as 2026-11-25T08:00:00Z", s)
	}
	if t = t.UTC(); t.Before(time.Unix(0, 0)) {
		return time.Time{}, fmt.Sprintf("%s is before 1970", s)
	}
	return t, ""
}

// checkName validates a required identifier: like checkText, but not
// empty and without whitespace.
func checkName(s string, max int) string {
	if s == "" {
		return "must not be empty"
	}
	return checkText(s, max, false)
}

// checkText validates an identifier-like string: valid UTF-8, no control
// characters, bounded length, and (unless spaces is set) no whitespace.
func checkText(s string, max int, spaces bool) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("is %d bytes; at most %d are allowed", len(s), max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) || !spaces && unicode.IsSpace(r) {
			return fmt.Sprintf("must not contain %q", r)
		}
	}
	return ""
}
