package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func seqIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("gen-%d", n) }
}

func TestDecodeBadInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 201)
	tests := []struct {
		name, body  string
		ndjson      bool
		code, field string
		line        int
		msg         string
	}{
		{"syntax", `{"kind":`, false, "invalid_json", "", 0, "ends early"},
		{"syntax mid-object", `{"kind" "x"}`, false, "invalid_json", "", 0, "invalid JSON"},
		{"not an object", `"materialization"`, false, "invalid_json", "", 0, "JSON object"},
		{"array of non-objects", `[1]`, false, "invalid_json", "[0]", 0, "JSON object"},
		{"trailing data", `{"kind":"observation","asset":"a"} {"kind":"observation"}`, false, "invalid_json", "", 0, "one event per line"},
		{"unknown field", `{"kind":"observation","asset":"a","colour":"red"}`, false, "unknown_field", "colour", 0, "colour"},
		{"unknown check field", `{"kind":"check_result","asset":"a","check":{"name":"x","passed":true,"level":1}}`, false, "unknown_field", "check.level", 0, "level"},
		{"missing kind", `{"asset":"a"}`, false, "missing_field", "kind", 0, "required"},
		{"unknown kind", `{"kind":"materialisation","asset":"a"}`, false, "invalid_value", "kind", 0, "materialisation"},
		{"server-only kind", `{"kind":"freshness_changed","asset":"a"}`, false, "invalid_value", "kind", 0, "freshness_changed"},
		{"kind wrong type", `{"kind":1,"asset":"a"}`, false, "invalid_value", "kind", 0, "a string"},
		{"missing asset", `{"kind":"observation"}`, false, "missing_field", "asset", 0, "required"},
		{"empty key part", `{"kind":"observation","asset":"a//b"}`, false, "invalid_value", "asset", 0, ""},
		{"key with control char", `{"kind":"observation","asset":"a/\u0007"}`, false, "invalid_value", "asset", 0, ""},
		{"key with leading slash", `{"kind":"observation","asset":"/a"}`, false, "invalid_value", "asset", 0, ""},
		{"asset wrong type", `{"kind":"observation","asset":["a"]}`, false, "invalid_value", "asset", 0, "a string"},
		{"bad time", `{"kind":"observation","asset":"a","time":"yesterday"}`, false, "invalid_value", "time", 0, "RFC 3339"},
		{"time without zone", `{"kind":"observation","asset":"a","time":"2026-11-25T10:00:00"}`, false, "invalid_value", "time", 0, "RFC 3339"},
		{"future time", `{"kind":"observation","asset":"a","time":"2026-11-26T12:00:00Z"}`, false, "invalid_value", "time", 0, "future"},
		{"ancient time", `{"kind":"observation","asset":"a","time":"1969-01-01T00:00:00Z"}`, false, "invalid_value", "time", 0, "1970"},
		{"data_time after time", `{"kind":"materialization","asset":"a","time":"2026-11-25T10:00:00Z","data_time":"2026-11-25T11:00:00Z"}`, false, "invalid_value", "data_time", 0, "future"},
		{"bad data_time", `{"kind":"materialization","asset":"a","data_time":"11/25/2026"}`, false, "invalid_value", "data_time", 0, "RFC 3339"},
		{"id wrong type", `{"id":12,"kind":"observation","asset":"a"}`, false, "invalid_value", "id", 0, "a string"},
		{"empty id", `{"id":"","kind":"observation","asset":"a"}`, false, "invalid_value", "id", 0, ""},
		{"id with space", `{"id":"a b","kind":"observation","asset":"a"}`, false, "invalid_value", "id", 0, "' '"},
		{"id too long", `{"id":"` + long + `","kind":"observation","asset":"a"}`, false, "invalid_value", "id", 0, "at most"},
		{"run_id too long", `{"kind":"observation","asset":"a","run_id":"` + long + `"}`, false, "invalid_value", "run_id", 0, "at most"},
		{"partition control char", `{"kind":"observation","asset":"a","partition":"2026\n"}`, false, "invalid_value", "partition", 0, ""},
		{"upstream not array", `{"kind":"materialization","asset":"a","upstream":"b"}`, false, "invalid_value", "upstream", 0, "an array"},
		{"upstream bad key", `{"kind":"materialization","asset":"a","upstream":["b","c//d"]}`, false, "invalid_value", "upstream[1]", 0, ""},
		{"upstream self", `{"kind":"materialization","asset":"a","upstream":["a"]}`, false, "invalid_value", "upstream[0]", 0, "own upstream"},
		{"metadata not object", `{"kind":"materialization","asset":"a","metadata":[1]}`, false, "invalid_value", "metadata", 0, "an object"},
		{"metadata null value", `{"kind":"materialization","asset":"a","metadata":{"x":null}}`, false, "invalid_value", "metadata.x", 0, "null"},
		{"metadata empty name", `{"kind":"materialization","asset":"a","metadata":{"":1}}`, false, "invalid_value", "metadata", 0, ""},
		{"row_count float", `{"kind":"materialization","asset":"a","metadata":{"row_count":1.5}}`, false, "invalid_value", "metadata.row_count", 0, "non-negative integer"},
		{"row_count negative", `{"kind":"materialization","asset":"a","metadata":{"row_count":-1}}`, false, "invalid_value", "metadata.row_count", 0, "non-negative integer"},
		{"row_count overflow", `{"kind":"materialization","asset":"a","metadata":{"row_count":99999999999999999999}}`, false, "invalid_value", "metadata.row_count", 0, ""},
		{"column_lineage a string", `{"kind":"materialization","asset":"a","metadata":{"column_lineage":"x<-y"}}`, false, "invalid_value", "metadata.column_lineage", 0, "JSON object of columns"},
		{"column_lineage input without asset", `{"kind":"materialization","asset":"a","metadata":{"column_lineage":{"x":[{"column":"y"}]}}}`, false, "invalid_value", "metadata.column_lineage", 0, "names no asset"},
		{"column_lineage input without column", `{"kind":"materialization","asset":"a","metadata":{"column_lineage":{"x":[{"asset":"b"}]}}}`, false, "invalid_value", "metadata.column_lineage", 0, "column name is empty"},
		{"column_lineage input with a bad key", `{"kind":"materialization","asset":"a","metadata":{"column_lineage":{"x":[{"asset":"b/../c","column":"y"}]}}}`, false, "invalid_value", "metadata.column_lineage", 0, "input 0"},
		{"column_lineage inputs not a list", `{"kind":"materialization","asset":"a","metadata":{"column_lineage":{"x":{"asset":"b","column":"y"}}}}`, false, "invalid_value", "metadata.column_lineage", 0, ""},
		{"metadata NaN", `{"kind":"observation","asset":"a","metadata":{"x":NaN}}`, false, "", "", 0, ""},
		{"metadata nan", `{"kind":"observation","asset":"a","metadata":{"x":nan}}`, false, "", "", 0, ""},
		{"metadata -Inf", `{"kind":"observation","asset":"a","metadata":{"x":-Inf}}`, false, "", "", 0, ""},
		{"metadata 1-2", `{"kind":"observation","asset":"a","metadata":{"x":1-2}}`, false, "invalid_value", "metadata.x", 0, "not a JSON number"},
		{"metadata +1", `{"kind":"observation","asset":"a","metadata":{"x":+1}}`, false, "", "", 0, ""},
		{"metadata 01", `{"kind":"observation","asset":"a","metadata":{"x":01}}`, false, "", "", 0, ""},
		{"nested bad number", `{"kind":"observation","asset":"a","metadata":{"x":[1-2]}}`, false, "invalid_value", "metadata.x", 0, "not valid JSON"},
		{"nested nan", `{"kind":"observation","asset":"a","metadata":{"x":{"a":nan}}}`, false, "invalid_value", "metadata.x", 0, "not valid JSON"},
		{"nested invalid UTF-8", "{\"kind\":\"observation\",\"asset\":\"a\",\"metadata\":{\"x\":[\"\xff\"]}}", false, "invalid_value", "metadata.x", 0, "UTF-8"},
		{"nested control char", "{\"kind\":\"observation\",\"asset\":\"a\",\"metadata\":{\"x\":[\"a\x01b\"]}}", false, "invalid_value", "metadata.x", 0, "not valid JSON"},
		{"offset time before 1970", `{"kind":"observation","asset":"a","time":"1970-01-01T00:00:00+23:59"}`, false, "invalid_value", "time", 0, "1970"},
		{"check missing", `{"kind":"check_result","asset":"a"}`, false, "missing_field", "check", 0, "check"},
		{"check on materialization", `{"kind":"materialization","asset":"a","check":{"name":"x","passed":true}}`, false, "invalid_value", "check", 0, "only allowed"},
		{"check name missing", `{"kind":"check_result","asset":"a","check":{"passed":true}}`, false, "missing_field", "check.name", 0, ""},
		{"check name bad", `{"kind":"check_result","asset":"a","check":{"name":"not null","passed":true}}`, false, "invalid_value", "check.name", 0, ""},
		{"check passed missing", `{"kind":"check_result","asset":"a","check":{"name":"x"}}`, false, "missing_field", "check.passed", 0, ""},
		{"check passed string", `{"kind":"check_result","asset":"a","check":{"name":"x","passed":"yes"}}`, false, "invalid_value", "check.passed", 0, "true or false"},
		{"check severity", `{"kind":"check_result","asset":"a","check":{"name":"x","passed":true,"severity":"fatal"}}`, false, "invalid_value", "check.severity", 0, "warn or error"},
		{"array element field", `[{"kind":"observation","asset":"a"},{"kind":"observation"}]`, false, "missing_field", "[1].asset", 0, ""},
		{"ndjson second line", "{\"kind\":\"observation\",\"asset\":\"a\"}\n{\"kind\":\"nope\",\"asset\":\"a\"}\n", true, "invalid_value", "kind", 2, ""},
		{"ndjson blank lines count", "\n\n{\"kind\":\"observation\"}\n", true, "missing_field", "asset", 3, ""},
		{"ndjson syntax", "{\"kind\":\"observation\",\"asset\":\"a\"}\n{oops}\n", true, "invalid_json", "", 2, ""},
		{"ndjson array line", "[]\n", true, "invalid_json", "", 1, "JSON object"},
		// A member twice means whichever copy a reader keeps: refused at every level.
		{"duplicate asset", `{"kind":"observation","asset":"a","asset":"b"}`, false, "duplicate_field", "asset", 0, `"asset" appears more than once`},
		{"duplicate kind", `{"kind":"observation","asset":"a","kind":"materialization"}`, false, "duplicate_field", "kind", 0, "kind"},
		{"duplicate time", `{"kind":"observation","asset":"a","time":"2026-11-25T10:00:00Z","time":"2026-11-25T11:00:00Z"}`, false, "duplicate_field", "time", 0, ""},
		{"duplicate null id", `{"id":null,"kind":"observation","asset":"a","id":"x"}`, false, "duplicate_field", "id", 0, ""},
		{"duplicate escaped", `{"kind":"observation","asset":"a","\u0061sset":"b"}`, false, "duplicate_field", "asset", 0, ""},
		{"duplicate metadata", `{"kind":"observation","asset":"a","metadata":{"x":1,"y":2,"x":3}}`, false, "duplicate_field", "metadata.x", 0, `"x"`},
		{"duplicate metadata member", `{"kind":"observation","asset":"a","metadata":{},"metadata":{}}`, false, "duplicate_field", "metadata", 0, ""},
		{"duplicate nested", `{"kind":"observation","asset":"a","metadata":{"s":{"cols":{"a":1,"a":2}}}}`, false, "duplicate_field", "metadata.s.cols.a", 0, `"a"`},
		{"duplicate in nested array", `{"kind":"observation","asset":"a","metadata":{"s":[1,{"k":1,"k":1}]}}`, false, "duplicate_field", "metadata.s[1].k", 0, ""},
		{"duplicate empty name", `{"kind":"observation","asset":"a","metadata":{"s":{"":1,"":2}}}`, false, "duplicate_field", `metadata.s.""`, 0, ""},
		{"duplicate check member", `{"kind":"check_result","asset":"a","check":{"name":"x","passed":true,"passed":false}}`, false, "duplicate_field", "check.passed", 0, ""},
		{"duplicate in array element", `[{"kind":"observation","asset":"a"},{"kind":"observation","asset":"a","asset":"a"}]`, false, "duplicate_field", "[1].asset", 0, ""},
		{"duplicate ndjson", "{\"kind\":\"observation\",\"asset\":\"a\"}\n{\"kind\":\"observation\",\"upstream\":[],\"asset\":\"a\",\"upstream\":[\"b\"]}\n", true, "duplicate_field", "upstream", 2, ""},
		{"empty time", `{"kind":"observation","asset":"a","time":""}`, false, "invalid_value", "time", 0, "time is empty"},
		{"empty data_time", `{"kind":"materialization","asset":"a","data_time":""}`, false, "invalid_value", "data_time", 0, "data_time is empty"},
		{"empty time in batch", `[{"kind":"observation","asset":"a","time":""}]`, false, "invalid_value", "[0].time", 0, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctype := "application/json"
			if tt.ndjson {
				ctype = "application/x-ndjson; charset=utf-8"
			}
			events, err := Decode(strings.NewReader(tt.body), ctype, testNow, seqIDs())
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v (%d events), want a ValidationError", err, len(events))
			}
			if events != nil {
				t.Errorf("a failed batch returned %d events", len(events))
			}
			if tt.code == "" { // any rejection will do (fastjson reports some of these as syntax errors)
				tt.code, tt.field = ve.Code, ve.Field
			}
			if ve.Code != tt.code || ve.Field != tt.field || ve.Line != tt.line {
				t.Errorf("got code %q field %q line %d, want %q %q %d (%v)", ve.Code, ve.Field, ve.Line, tt.code, tt.field, tt.line, ve)
			}
			if !strings.Contains(ve.Error(), tt.msg) {
				t.Errorf("message %q does not mention %q", ve.Error(), tt.msg)
			}
		})
	}
}

func TestDecodeGood(t *testing.T) {
	t.Parallel()
	body := `{"id":"e1","kind":"materialization","asset":"raw/orders","time":"2026-11-25T10:00:00+01:00",` +
		`"run_id":"run 7","partition":"2026-11-24","data_time":"2026-11-25T08:30:00Z",` +
		`"upstream":["raw/customers","raw/customers","ext/feed"],` +
		`"metadata":{"row_count":1200,"uri":"s3://bucket/orders","note":"text","ratio":0.5,"ok":true,"schema":{"cols":["a"]}}}` + "\n" +
		`{"kind":"check_result","asset":"raw/orders","check":{"name":"not_null","passed":false,"severity":"warn"}}

{"kind":"observation","asset":"ext/ünïcode/表","check":null}
`
	events, err := Decode(strings.NewReader(body), "application/x-ndjson", testNow, seqIDs())
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("got %d events", len(events))
	}
	e := events[0]
	wantTime := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	if e.ID != "e1" || e.Kind != asset.KindMaterialization || e.Asset != "raw/orders" || !e.Time.Equal(wantTime) || e.Time.Location() != time.UTC {
		t.Errorf("event 0 = %+v", e)
	}
	if e.DataTime == nil || !e.DataTime.Equal(time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)) {
		t.Errorf("data_time = %v", e.DataTime)
	}
	if fmt.Sprint(e.Upstream) != "[raw/customers ext/feed]" {
		t.Errorf("upstream = %v (duplicates should collapse, order kept)", e.Upstream)
	}
	wantMeta := map[string]asset.MetaType{"row_count": asset.MetaInt, "uri": asset.MetaURL, "note": asset.MetaText,
		"ratio": asset.MetaFloat, "ok": asset.MetaBool, "schema": asset.MetaJSON}
	for name, typ := range wantMeta {
		if e.Metadata[name].Type != typ {
			t.Errorf("metadata %s type = %v, want %v", name, e.Metadata[name].Type, typ)
		}
	}
	if n, _ := e.Metadata.RowCount(); n != 1200 {
		t.Errorf("row_count = %d", n)
	}
	c := events[1]
	if c.ID != "gen-1" || !c.Time.Equal(testNow) || c.Check == nil || c.Check.Passed || c.Check.Severity != asset.SeverityWarn {
		t.Errorf("event 1 = %+v check %+v", c, c.Check)
	}
	if events[2].Asset != "ext/ünïcode/表" || events[2].ID != "gen-2" {
		t.Errorf("event 2 = %+v", events[2])
	}
}

func TestDecodeForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ctype, body string
		want              int
	}{
		{"single object", "application/json", `{"kind":"observation","asset":"a"}`, 1},
		{"array", "application/json", `[{"kind":"observation","asset":"a"},{"kind":"observation","asset":"b"}]`, 2},
		{"curl default type", "application/x-www-form-urlencoded", `{"kind":"observation","asset":"a"}`, 1},
		{"no content type", "", `{"kind":"observation","asset":"a"}`, 1},
		{"empty body", "application/json", "  \n", 0},
		{"empty ndjson", "application/x-ndjson", "\n\n", 0},
		{"ndjson without final newline", "application/x-ndjson", "{\"kind\":\"observation\",\"asset\":\"a\"}\n{\"kind\":\"observation\",\"asset\":\"b\"}", 2},
		{"jsonl type", "application/jsonl", "{\"kind\":\"observation\",\"asset\":\"a\"}\r\n", 1},
		{"long ndjson line", "application/x-ndjson", `{"kind":"observation","asset":"a","metadata":{"blob":"` + strings.Repeat("z", 200_000) + `"}}`, 1},
		{"default severity", "application/json", `{"kind":"check_result","asset":"a","check":{"name":"x","passed":true}}`, 1},
		{"byte order mark", "application/json", "\xef\xbb\xbf" + `{"kind":"observation","asset":"a"}`, 1},
		{"byte order mark, NDJSON", "application/x-ndjson", "\xef\xbb\xbf" + `{"kind":"observation","asset":"a"}` + "\n", 1},
		{"nested JSON compacted", "application/json", `{"kind":"observation","asset":"a","metadata":{"s":{ "a" : [1, 2] }}}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, err := Decode(strings.NewReader(tt.body), tt.ctype, testNow, seqIDs())
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.want {
				t.Fatalf("got %d events, want %d", len(events), tt.want)
			}
			for _, e := range events {
				if e.Check != nil && e.Check.Severity != asset.SeverityError {
					t.Errorf("severity defaults to error, got %q", e.Check.Severity)
				}
			}
		})
	}
}

// FuzzDecode: no input panics, and whatever is accepted is a valid event
// that survives a JSON round trip.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"kind":"materialization","asset":"raw/orders","metadata":{"row_count":1}}`,
		`[{"kind":"observation","asset":"a"}]`,
		"{\"kind\":\"check_result\",\"asset\":\"a\",\"check\":{\"name\":\"x\",\"passed\":true}}\n{}",
		`{"kind":"materialization","asset":"a","upstream":["b"],"data_time":"2026-01-01T00:00:00Z","time":"2026-01-02T00:00:00Z"}`,
		`{"metadata":{"x":[1,{"y":null}]}}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, body string, ndjson bool) {
		ctype := "application/json"
		if ndjson {
			ctype = "application/x-ndjson"
		}
		events, err := Decode(strings.NewReader(body), ctype, testNow, seqIDs())
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Code == "" {
				t.Fatalf("error %v is not a coded ValidationError", err)
			}
			return
		}
		for _, e := range events {
			if _, err := asset.ParseKey(string(e.Asset)); err != nil || e.ID == "" || !asset.IsClientKind(e.Kind) || e.Time.IsZero() {
				t.Fatalf("accepted an invalid event: %+v", e)
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("accepted event does not marshal: %v", err)
			}
			var back asset.Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("accepted event does not round-trip: %v\n%s", err, b)
			}
			if b2, _ := json.Marshal(back); string(b2) != string(b) {
				t.Fatalf("accepted event changes in a JSON round trip:\n%s\n%s", b, b2)
			}
		}
	})
}
