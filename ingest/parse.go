package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/internal/jsondup"
)

// Parsing uses fastjson rather than encoding/json: decoding was most of
// the CPU an ingest request costs, and walking a parsed value ourselves
// also names the exact field at fault (unknown member, wrong type) where
// encoding/json's errors cannot. One Parser is reused for every event of
// a request, so a batch allocates little beyond the events themselves.

type decoder struct {
	now    time.Time
	newID  func() string
	max    int // most events in one body
	parser fastjson.Parser
	// keys interns asset keys already seen valid in this request: a batch
	// names the same few assets over and over, and each then costs one map
	// lookup instead of an allocation and a validation.
	keys map[string]asset.Key
	// shared, when set, is the server's cache (Decoder), used instead of keys.
	shared *keyCache
	meta   []metaEntry // scratch, reused by every event of the request
	fast   fastScratch // the fast path's (fastdecode.go)
}

// maxInterned bounds the key cache of one request.
const maxInterned = 4096

// intern returns b as a string, shared with an earlier valid key when
// there is one.
func (d *decoder) intern(b []byte) string {
	if k, ok := d.cachedKey(b); ok {
		return string(k)
	}
	return string(b)
}

// cachedKey returns the key b spells if it is known valid, without
// converting b.
func (d *decoder) cachedKey(b []byte) (asset.Key, bool) {
	if d.shared != nil {
		return d.shared.getBytes(b)
	}
	k, ok := d.keys[string(b)]
	return k, ok
}

// parseKey validates a key, once per distinct key per request (or per
// server, with a shared cache).
func (d *decoder) parseKey(s string) (asset.Key, error) {
	if d.shared != nil {
		if k, ok := d.shared.get(s); ok {
			return k, nil
		}
		k, err := asset.ParseKey(s)
		if err == nil {
			d.shared.add(k)
		}
		return k, err
	}
	if k, ok := d.keys[s]; ok {
		return k, nil
	}
	k, err := asset.ParseKey(s)
	if err == nil && len(d.keys) < maxInterned {
		if d.keys == nil {
			d.keys = make(map[string]asset.Key)
		}
		d.keys[s] = k
	}
	return k, err
}

// wireEvent is what a client sent, before validation. A nil pointer is an
// absent (or null) member.
type wireEvent struct {
	ID                                            *string
	Kind, Asset, Time, RunID, Partition, DataTime string
	Upstream                                      []string
	Metadata                                      []metaEntry
	Check                                         *wireCheck
	seen                                          uint16 // members met so far, by fieldBit
}

type metaEntry struct {
	name string
	v    asset.MetaValue
	raw  string // as sent, for row_count's error message
}

type wireCheck struct {
	Name, Severity string
	Passed         *bool
}

const knownFields = "id, kind, asset, time, run_id, partition, data_time, upstream, metadata, check"

// bom is the UTF-8 byte order mark some Windows tools put first.
var bom = []byte("\xef\xbb\xbf")

func (d *decoder) ndjson(body []byte) ([]asset.Event, error) {
	body = bytes.TrimPrefix(body, bom)
	// One event per line: size the slice once instead of growing it.
	lines := bytes.Count(body, []byte{'\n'}) + 1
	if lines > d.max && countEvents(body) > d.max {
		return nil, d.tooMany()
	}
	events := make([]asset.Event, 0, min(lines, d.max))
	for line := 1; len(body) > 0; line++ {
		text := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			text, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		ev, ok := d.fastEvent(text)
		if !ok {
			var verr *ValidationError
			if ev, verr = d.parseEvent(text, ""); verr != nil {
				verr.Line = line
				return nil, verr
			}
		}
		events = append(events, ev)
	}
	return events, nil
}

func (d *decoder) json(body []byte) ([]asset.Event, error) {
	body = bytes.TrimSpace(bytes.TrimPrefix(body, bom))
	if len(body) == 0 {
		return nil, nil
	}
	if body[0] != '[' {
		if ev, ok := d.fastEvent(body); ok {
			return []asset.Event{ev}, nil
		}
		ev, verr := d.parseEvent(body, "")
		if verr != nil {
			return nil, verr
		}
		return []asset.Event{ev}, nil
	}
	// An array: parse it once, then walk each element.
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, syntaxError(err)
	}
	items, _ := v.Array()
	if len(items) > d.max {
		return nil, d.tooMany()
	}
	events := make([]asset.Event, 0, len(items))
	for i, item := range items {
		ev, verr := d.event(item, fmt.Sprintf("[%d].", i))
		if verr != nil {
			return nil, verr
		}
		events = append(events, ev)
	}
	return events, nil
}

func (d *decoder) parseEvent(text []byte, prefix string) (asset.Event, *ValidationError) {
	v, err := d.parser.ParseBytes(text)
	if err != nil {
		return asset.Event{}, syntaxError(err)
	}
	return d.event(v, prefix)
}

// syntaxError rewords fastjson's parse errors for people.
func syntaxError(err error) *ValidationError {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unexpected tail"):
		msg = "unexpected data after the event object (NDJSON needs one event per line)"
	case strings.HasSuffix(msg, `unparsed tail: ""`):
		msg = "invalid JSON: the JSON ends early"
	default:
		msg = "invalid JSON: " + strings.TrimPrefix(msg, "cannot parse JSON: ")
	}
	return &ValidationError{Code: "invalid_json", Message: msg}
}

// event walks one parsed event into a wireEvent and validates it.
func (d *decoder) event(v *fastjson.Value, prefix string) (asset.Event, *ValidationError) {
	field := func(name string) string {
		if name == "" {
			return strings.TrimSuffix(prefix, ".")
		}
		return prefix + name
	}
	obj, err := v.Object()
	if err != nil {
		return asset.Event{}, &ValidationError{Code: "invalid_json", Field: field(""), Message: "an event must be a JSON object, not " + typeName(v)}
	}
	var (
		w    wireEvent
		verr *ValidationError
	)
	setErr := func(e *ValidationError) {
		if verr == nil {
			verr = e
		}
	}
	str := func(name string, val *fastjson.Value, dst *string) {
		switch val.Type() {
		case fastjson.TypeNull:
		case fastjson.TypeString:
			*dst = string(val.GetStringBytes())
		default:
			setErr(typeError(field(name), "a string", val))
		}
	}
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if verr != nil {
			return
		}
		// A member sent twice would mean whichever copy a reader keeps:
		// each known member has a bit (unknown ones fail anyway).
		if bit := fieldBit(k); bit != 0 {
			if w.seen&bit != 0 {
				setErr(duplicateError(field(string(k)), string(k)))
				return
			}
			w.seen |= bit
		}
		switch name := string(k); name {
		case "id":
			if val.Type() != fastjson.TypeNull {
				var s string
				str(name, val, &s)
				w.ID = &s
			}
		case "kind":
			if b, err := val.StringBytes(); err == nil {
				w.Kind = clientKind(b) // a constant: no allocation
			} else {
				str(name, val, &w.Kind)
			}
		case "asset":
			if b, err := val.StringBytes(); err == nil {
				w.Asset = d.intern(b)
			} else {
				str(name, val, &w.Asset)
			}
		case "time", "data_time":
			// Absent or null means now (time) or unknown (data_time); an
			// empty string is neither, and is refused rather than guessed.
			if b, err := val.StringBytes(); err == nil && len(b) == 0 {
				setErr(&ValidationError{Code: "invalid_value", Field: field(name),
					Message: name + ` is empty: give an RFC 3339 time such as "2026-11-25T08:00:00Z", or leave the member out`})
				return
			}
			if name == "time" {
				str(name, val, &w.Time)
			} else {
				str(name, val, &w.DataTime)
			}
		case "run_id":
			str(name, val, &w.RunID)
		case "partition":
			str(name, val, &w.Partition)
		case "upstream":
			w.Upstream, verr = d.upstreamList(val, field(name), verr)
		case "metadata":
			w.Metadata, verr = metadata(d.meta[:0], val, field(name), verr)
			d.meta = w.Metadata[:0]
		case "check":
			w.Check, verr = check(val, field(name), verr)
		default:
			setErr(&ValidationError{Code: "unknown_field", Field: field(name),
				Message: fmt.Sprintf("unknown field %q (known: %s)", name, knownFields)})
		}
	})
	if verr != nil {
		return asset.Event{}, verr
	}
	return d.validate(&w, prefix)
}

// The known event members' bits in wireEvent.seen.
const (
	fieldID uint16 = 1 << iota
	fieldKind
	fieldAsset
	fieldTime
	fieldRunID
	fieldPartition
	fieldDataTime
	fieldUpstream
	fieldMetadata
	fieldCheck
)

// fieldBit is the bit of a known event member in event's duplicate
// check; 0 for an unknown name. (A switch: one comparison where a loop
// over the names made up to ten.)
func fieldBit(k []byte) uint16 {
	switch string(k) { // compared without converting k
	case "id":
		return fieldID
	case "kind":
		return fieldKind
	case "asset":
		return fieldAsset
	case "time":
		return fieldTime
	case "run_id":
		return fieldRunID
	case "partition":
		return fieldPartition
	case "data_time":
		return fieldDataTime
	case "upstream":
		return fieldUpstream
	case "metadata":
		return fieldMetadata
	case "check":
		return fieldCheck
	}
	return 0
}

func duplicateError(field, name string) *ValidationError {
	return &ValidationError{Code: "duplicate_field", Field: field,
		Message: fmt.Sprintf("member %q appears more than once in the same object: send it once", name)}
}

func (d *decoder) upstreamList(v *fastjson.Value, field string, prev *ValidationError) ([]string, *ValidationError) {
	if prev != nil || v.Type() == fastjson.TypeNull {
		return nil, prev
	}
	items, err := v.Array()
	if err != nil {
		return nil, typeError(field, "an array of asset keys", v)
	}
	out := make([]string, len(items))
	for i, item := range items {
		b, err := item.StringBytes()
		if err != nil {
			return nil, typeError(fmt.Sprintf("%s[%d]", field, i), "a string", item)
		}
		out[i] = d.intern(b)
	}
	return out, nil
}

// clientKind returns the kind constant b spells, or b as a string (which
// validation then rejects with the list of kinds).
func clientKind(b []byte) string {
	for _, k := range asset.ClientKinds {
		if string(k) == string(b) {
			return string(k)
		}
	}
	return string(b)
}

// metadata types each value by its JSON form (see asset.Metadata).
func metadata(out []metaEntry, v *fastjson.Value, field string, prev *ValidationError) ([]metaEntry, *ValidationError) {
	if prev != nil || v.Type() == fastjson.TypeNull {
		return nil, prev
	}
	obj, err := v.Object()
	if err != nil {
		return nil, typeError(field, "an object", v)
	}
	var verr *ValidationError
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if verr != nil {
			return
		}
		name := string(k)
		e := metaEntry{name: name}
		switch val.Type() {
		case fastjson.TypeString:
			b := val.GetStringBytes()
			if !utf8.Valid(b) {
				verr = &ValidationError{Code: "invalid_value", Field: field + "." + name, Message: "text is not valid UTF-8"}
				return
			}
			if s := string(b); asset.LooksLikeURL(s) {
				e.v = asset.URL(s)
			} else {
				e.v = asset.Text(s)
			}
			if name == asset.RowCountKey { // raw is only quoted back in row_count's error
				e.raw = strconv.Quote(string(b))
			}
		case fastjson.TypeNumber:
			// fastjson also takes NaN, Inf and forms like 1-2 or +1, which
			// are not JSON and could not be written back out: hold every
			// number to JSON's grammar. An integer literal that fits is
			// int; anything else float.
			raw := val.String()
			if !isJSONNumber(raw) {
				verr = &ValidationError{Code: "invalid_value", Field: field + "." + name, Message: raw + " is not a JSON number"}
				return
			}
			if n, err := val.Int64(); err == nil {
				e.v = asset.Int(n)
			} else if f, err := val.Float64(); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				e.v = asset.Float(f)
			} else {
				verr = &ValidationError{Code: "invalid_value", Field: field + "." + name, Message: "number " + raw + " is out of range"}
				return
			}
			if name == asset.RowCountKey {
				e.raw = val.String()
			}
		case fastjson.TypeTrue, fastjson.TypeFalse:
			e.v, e.raw = asset.Bool(val.Type() == fastjson.TypeTrue), val.String()
		case fastjson.TypeObject, fastjson.TypeArray:
			if dup, ok := jsondup.Find(val, field+"."+name); ok {
				verr = duplicateError(dup, dup[strings.LastIndexByte(dup, '.')+1:])
				return
			}
			// fastjson copies nested values as written; check them with
			// encoding/json (and compact them) so that what is stored is
			// valid JSON in valid UTF-8.
			b := val.MarshalTo(nil)
			var buf bytes.Buffer
			if !utf8.Valid(b) || json.Compact(&buf, b) != nil {
				verr = &ValidationError{Code: "invalid_value", Field: field + "." + name, Message: "the object or array is not valid JSON in UTF-8"}
				return
			}
			e.v = asset.JSONValue(buf.String())
			e.raw = e.v.Text
		default:
			verr = &ValidationError{Code: "invalid_value", Field: field + "." + name, Message: "metadata value is null: leave the entry out instead"}
			return
		}
		out = append(out, e)
	})
	return out, verr
}

// isJSONNumber checks JSON's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber[T string | []byte](s T) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func check(v *fastjson.Value, field string, prev *ValidationError) (*wireCheck, *ValidationError) {
	if prev != nil || v.Type() == fastjson.TypeNull {
		return nil, prev
	}
	obj, err := v.Object()
	if err != nil {
		return nil, typeError(field, "an object", v)
	}
	c := &wireCheck{}
	var (
		verr *ValidationError
		seen [3]bool // name, severity, passed
	)
	obj.Visit(func(k []byte, val *fastjson.Value) {
		if verr != nil {
			return
		}
		name := string(k)
		if i := slices.Index([]string{"name", "severity", "passed"}, name); i >= 0 {
			if seen[i] {
				verr = duplicateError(field+"."+name, name)
				return
			}
			seen[i] = true
		}
		switch name {
		case "name", "severity":
			if val.Type() == fastjson.TypeNull {
				return
			}
			b, err := val.StringBytes()
			if err != nil {
				verr = typeError(field+"."+name, "a string", val)
				return
			}
			if name == "name" {
				c.Name = string(b)
			} else {
				c.Severity = string(b)
			}
		case "passed":
			switch val.Type() {
			case fastjson.TypeNull:
			case fastjson.TypeTrue, fastjson.TypeFalse:
				passed := val.Type() == fastjson.TypeTrue
				c.Passed = &passed
			default:
				verr = typeError(field+".passed", "true or false", val)
			}
		default:
			verr = &ValidationError{Code: "unknown_field", Field: field + "." + name,
				Message: fmt.Sprintf("unknown field %q (known: name, passed, severity)", name)}
		}
	})
	return c, verr
}

func typeError(field, want string, v *fastjson.Value) *ValidationError {
	return &ValidationError{Code: "invalid_value", Field: field, Message: fmt.Sprintf("%s must be %s, not %s", field, want, typeName(v))}
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

// countEvents counts the non-blank lines of an NDJSON body.
func countEvents(body []byte) int {
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

func (d *decoder) tooMany() *ValidationError {
	return &ValidationError{Code: "too_many_events", Message: fmt.Sprintf("a request holds at most %d events; split the batch", d.max)}
}
