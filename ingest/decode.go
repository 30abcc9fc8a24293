package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

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
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	return e.Code, e.Field, msg, e.Line
}

// NewEventID returns a UUIDv7: unique, and time-ordered so ids assigned
// by the server sort roughly by arrival.
func NewEventID() string {
	id, err := uuid.NewV7()
	if err != nil { // only if the system's randomness fails
		return uuid.NewString()
	}
	return id.String()
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
	d := decoder{now: now.UTC(), newID: newID}
	if IsNDJSON(contentType) {
		return d.ndjson(r)
	}
	return d.json(r)
}

type decoder struct {
	now   time.Time
	newID func() string
}

func (d decoder) ndjson(r io.Reader) ([]asset.Event, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var events []asset.Event
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: gather the rest of it.
			long := append([]byte(nil), b...)
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err // the body could not be read (e.g. too large)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			ev, verr := d.event(t, "")
			if verr != nil {
				verr.Line = line
				return nil, verr
			}
			events = append(events, ev)
		}
		if err != nil {
			return events, nil
		}
	}
}

func (d decoder) json(r io.Reader) ([]asset.Event, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, nil
	case body[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, jsonError(err, "")
		}
		events := make([]asset.Event, 0, len(raws))
		for i, raw := range raws {
			ev, verr := d.event(raw, fmt.Sprintf("[%d].", i))
			if verr != nil {
				return nil, verr
			}
			events = append(events, ev)
		}
		return events, nil
	default:
		ev, verr := d.event(body, "")
		if verr != nil {
			return nil, verr
		}
		return []asset.Event{ev}, nil
	}
}

// wireEvent is the JSON a client sends. Pointers and raw values let the
// decoder tell "absent" from "zero" and name the field at fault.
type wireEvent struct {
	ID        *string                    `json:"id"`
	Kind      string                     `json:"kind"`
	Asset     string                     `json:"asset"`
	Time      string                     `json:"time"`
	RunID     string                     `json:"run_id"`
	Partition string                     `json:"partition"`
	DataTime  string                     `json:"data_time"`
	Upstream  []string                   `json:"upstream"`
	Metadata  map[string]json.RawMessage `json:"metadata"`
	Check     json.RawMessage            `json:"check"`
}

type wireCheck struct {
	Name     string `json:"name"`
	Passed   *bool  `json:"passed"`
	Severity string `json:"severity"`
}

// event decodes and validates one event; prefix goes before field names
// (for events inside a JSON array).
func (d decoder) event(b []byte, prefix string) (asset.Event, *ValidationError) {
	fail := func(code, field, format string, args ...any) (asset.Event, *ValidationError) {
		if field == "" {
			field = strings.TrimSuffix(prefix, ".")
		} else {
			field = prefix + field
		}
		return asset.Event{}, &ValidationError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if len(b) == 0 || b[0] != '{' {
		return fail("invalid_json", "", "an event must be a JSON object")
	}
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return asset.Event{}, jsonError(err, prefix)
	}
	if dec.More() {
		return fail("invalid_json", "", "unexpected data after the event object (NDJSON needs one event per line)")
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
	key, err := asset.ParseKey(w.Asset)
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
	seen := make(map[asset.Key]bool, len(w.Upstream))
	for i, u := range w.Upstream {
		field := fmt.Sprintf("upstream[%d]", i)
		k, err := asset.ParseKey(u)
		if err != nil {
			return fail("invalid_value", field, "%v", err)
		}
		if k == ev.Asset {
			return fail("invalid_value", field, "an asset cannot be its own upstream")
		}
		if !seen[k] { // duplicates are harmless; keep one
			seen[k] = true
			ev.Upstream = append(ev.Upstream, k)
		}
	}

	if len(w.Metadata) > MaxMetadata {
		return fail("invalid_value", "metadata", "metadata has %d entries; at most %d are allowed", len(w.Metadata), MaxMetadata)
	}
	if len(w.Metadata) > 0 {
		ev.Metadata = make(asset.Metadata, len(w.Metadata))
		for name, raw := range w.Metadata {
			field := "metadata." + name
			if msg := checkName(name, MaxMetaNameLen); msg != "" {
				return fail("invalid_value", "metadata", "metadata name %q: %s", name, msg)
			}
			var v asset.MetaValue
			if err := v.UnmarshalJSON(raw); err != nil {
				return fail("invalid_value", field, "%v", err)
			}
			if name == asset.RowCountKey && (v.Type != asset.MetaInt || v.Int < 0) {
				return fail("invalid_value", field, "row_count must be a non-negative integer, not %s", raw)
			}
			ev.Metadata[name] = v
		}
	}

	hasCheck := len(w.Check) > 0 && string(w.Check) != "null"
	switch {
	case ev.Kind == asset.KindCheckResult && !hasCheck:
		return fail("missing_field", "check", `a check_result needs "check": {"name": ..., "passed": true|false}`)
	case ev.Kind != asset.KindCheckResult && hasCheck:
		return fail("invalid_value", "check", "check is only allowed on check_result events, not %s", ev.Kind)
	case hasCheck:
		var c wireCheck
		dec := json.NewDecoder(bytes.NewReader(w.Check))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return asset.Event{}, jsonError(err, prefix+"check.")
		}
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
	if t.Year() < 1970 {
		return time.Time{}, fmt.Sprintf("%s is before 1970", s)
	}
	return t.UTC(), ""
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

// jsonError turns an encoding/json error into a ValidationError naming the
// field where the JSON says which one.
func jsonError(err error, prefix string) *ValidationError {
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		return &ValidationError{Code: "invalid_value", Field: prefix + field,
			Message: fmt.Sprintf("%s must be %s, not a JSON %s", fieldName(field), jsonType(typeErr.Type.Kind().String()), typeErr.Value)}
	case errors.As(err, &syntaxErr):
		return &ValidationError{Code: "invalid_json", Message: fmt.Sprintf("invalid JSON at byte %d: %v", syntaxErr.Offset, err)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &ValidationError{Code: "unknown_field", Field: prefix + name,
			Message: fmt.Sprintf("unknown field %q (known: id, kind, asset, time, run_id, partition, data_time, upstream, metadata, check)", name)}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return &ValidationError{Code: "invalid_json", Message: "the JSON ends early"}
	default:
		return &ValidationError{Code: "invalid_json", Message: err.Error()}
	}
}

func fieldName(f string) string {
	if f == "" {
		return "the value"
	}
	return f
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return goKind
}
