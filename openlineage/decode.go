package openlineage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/internal/jsondup"
)

// Limits on one OpenLineage event, beyond the request's body limit.
const (
	// MaxDatasets bounds a RunEvent's or JobEvent's inputs, and its
	// outputs (each output is one Freshet event).
	MaxDatasets = 1000
	// MaxErrors bounds the problems reported for one request body.
	MaxErrors = 20
)

// FieldError is one problem with a request body: the field (a JSON path
// such as "run.runId", prefixed with the index in a JSON array, e.g.
// "[3].run.runId") and for NDJSON the 1-based line.
type FieldError struct {
	Line    int
	Field   string
	Code    string // missing_field, invalid_value or invalid_json
	Message string
}

func (e *FieldError) Error() string {
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

// APIError gives the API the parts of its JSON error.
func (e *FieldError) APIError() (code, field, message string, line int) {
	return e.Code, e.Field, e.Message, e.Line
}

// Errors is every problem found in a request body (at most MaxErrors), in
// the order of the body. A decode error is always a non-empty Errors.
type Errors []*FieldError

func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	}
	return fmt.Sprintf("%v (and %d more)", es[0], len(es)-1)
}

// APIError is the first problem's.
func (es Errors) APIError() (code, field, message string, line int) {
	return es[0].APIError()
}

// Decode reads one OpenLineage event (a JSON object) and returns the
// Freshet events it maps to: none for an event that names no dataset (a
// DAG's START, say), which is valid and has nothing to store. now is the
// server's time, against which eventTime may not be in the future.
func Decode(body []byte, now time.Time) ([]asset.Event, error) {
	d := newDecoder(now)
	defer d.release()
	body = bytes.TrimSpace(bytes.TrimPrefix(body, bom))
	switch {
	case len(body) == 0:
		return nil, Errors{{Code: "missing_field", Message: "the request body is empty: send one OpenLineage event"}}
	case body[0] == '[':
		return nil, Errors{{Code: "invalid_json", Message: "send one event as a JSON object here; a JSON array goes to the batch endpoint (/api/v1/lineage/batch)"}}
	}
	events := d.event(body, nil)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return events, nil
}

// DecodeBatch reads many OpenLineage events: a JSON array of them, or
// NDJSON (one per line, blank lines ignored), told apart by the first
// character. It returns the Freshet events of all of them, in order, and
// how many OpenLineage events it read; any problem fails the whole batch.
// maxEvents (0: ingest.DefaultMaxEvents) bounds both the OpenLineage
// events and the Freshet events they make (one per output): beyond it the
// batch is refused with code too_many_events.
func DecodeBatch(body []byte, now time.Time, maxEvents int) (events []asset.Event, count int, err error) {
	if maxEvents <= 0 {
		maxEvents = ingest.DefaultMaxEvents
	}
	tooMany := Errors{{Code: "too_many_events",
		Message: fmt.Sprintf("a request holds at most %d events, counting one per output dataset; split the batch", maxEvents)}}
	d := newDecoder(now)
	defer d.release()
	body = bytes.TrimSpace(bytes.TrimPrefix(body, bom))
	if len(body) > 0 && body[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, 0, Errors{{Code: "invalid_json", Message: "invalid JSON array: " + err.Error()}}
		}
		if len(items) > maxEvents {
			return nil, 0, tooMany
		}
		for i, raw := range items {
			d.prefix = fmt.Sprintf("[%d].", i)
			if events = d.event(raw, events); len(events) > maxEvents {
				return nil, 0, tooMany
			}
		}
		count = len(items)
	} else {
		if bytes.Count(body, []byte{'\n'}) >= maxEvents && countLines(body) > maxEvents {
			return nil, 0, tooMany
		}
		for line := 1; len(body) > 0; line++ {
			text := body
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				text, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			if text = bytes.TrimSpace(text); len(text) == 0 {
				continue
			}
			d.line = line
			if events = d.event(text, events); len(events) > maxEvents {
				return nil, 0, tooMany
			}
			count++
		}
	}
	if len(d.errs) > 0 {
		return nil, 0, d.errs
	}
	return events, count, nil
}

// countLines counts the non-blank lines of an NDJSON body.
func countLines(body []byte) int {
	n := 0
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}

// bom is the UTF-8 byte order mark some Windows tools put first.
var bom = []byte("\xef\xbb\xbf")

var parsers fastjson.ParserPool

// decoder holds one request's state: where in the body it is (for the
// field paths) and the problems found so far.
type decoder struct {
	now     time.Time
	prefix  string // "[3]." inside a JSON array
	line    int    // NDJSON line, 1-based
	errs    Errors
	parser  *fastjson.Parser
	compact bytes.Buffer
}

func newDecoder(now time.Time) *decoder {
	return &decoder{now: now.UTC(), parser: parsers.Get()}
}

func (d *decoder) release() { parsers.Put(d.parser) }

// fail records a problem with field (a path inside the current event).
func (d *decoder) fail(code, field, format string, args ...any) {
	if len(d.errs) >= MaxErrors {
		return
	}
	path := d.prefix + field
	if field == "" {
		path = strings.TrimSuffix(d.prefix, ".")
	}
	d.errs = append(d.errs, &FieldError{Line: d.line, Field: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

// event parses, validates and maps one OpenLineage event, appending its
// Freshet events to out; on a problem it records it and appends nothing.
func (d *decoder) event(raw []byte, out []asset.Event) []asset.Event {
	v, err := d.parser.ParseBytes(raw)
	if err != nil {
		d.fail("invalid_json", "", "invalid JSON: %s", strings.TrimPrefix(err.Error(), "cannot parse JSON: "))
		return out
	}
	// fastjson also takes NaN, Infinity and a few other non-JSON forms:
	// hold the event to JSON's grammar (and UTF-8), since it is stored
	// as JSON.
	d.compact.Reset()
	if err := json.Compact(&d.compact, raw); err != nil {
		d.fail("invalid_json", "", "invalid JSON: %v", err)
		return out
	}
	if !utf8.Valid(d.compact.Bytes()) {
		d.fail("invalid_json", "", "the event is not valid UTF-8")
		return out
	}
	// Two members with one name mean whichever a reader keeps.
	if dup, ok := jsondup.Find(v, ""); ok {
		d.fail("duplicate_field", dup, "member %q appears more than once in the same object: send it once", dup[strings.LastIndexAny(dup, ".]")+1:])
		return out
	}
	before := len(d.errs)
	ev := d.walk(v)
	if len(d.errs) > before || ev == nil {
		return out
	}
	return ev.appendEvents(out, d.compact.String())
}

func typeName(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeNumber:
		return "a number"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a boolean"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeObject:
		return "an object"
	}
	return "null"
}

// quote quotes a value for a message, cut short if long.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return fmt.Sprintf("%q", s)
}
