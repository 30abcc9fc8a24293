package pipes

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

func TestParse(t *testing.T) {
	t.Parallel()
	ok := []struct {
		line   string
		method Method
	}{
		{`{"__dagster_pipes_version": "0.1", "method": "opened", "params": {"extras": {}}}`, MethodOpened},
		{` {"__dagster_pipes_version":"0.1","method":"closed","params":null}` + "\r", MethodClosed},
		{`{"method": "log", "params": {"message": "x", "level": "INFO"}, "__dagster_pipes_version": "0.2"}`, MethodLog},
	}
	for _, c := range ok {
		m, err := Parse([]byte(c.line))
		if err != nil || m.Method != c.method {
			t.Errorf("Parse(%s) = %+v, %v", c.line, m, err)
		}
	}
	bad := map[string]string{
		``:                                   "not a JSON object",
		`plain text`:                         "not a JSON object",
		`[1,2]`:                              "not a JSON object",
		`{"method": "log"}`:                  "no __dagster_pipes_version",
		`{"__dagster_pipes_version": "0.1"}`: "no method",
		`{"__dagster_pipes_version": "0.1", "method": "shout", "params": {}}`:            `unknown method "shout"`,
		`{"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "cut`: "not JSON",
		`{"__dagster_pipes_version": 1, "method": "log"}`:                                "not JSON",
	}
	for line, want := range bad {
		if _, err := Parse([]byte(line)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) err = %v, want %q", line, err, want)
		}
	}
}

func parse(t *testing.T, line string) Message {
	t.Helper()
	m, err := Parse([]byte(line))
	if err != nil {
		t.Fatalf("Parse(%s): %v", line, err)
	}
	return m
}

func TestMessageParams(t *testing.T) {
	t.Parallel()
	l, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"hi","level":"WARNING"}}`).Log()
	if err != nil || l.Message != "hi" || l.Level != "WARNING" {
		t.Errorf("log = %+v, %v", l, err)
	}
	if l, _ := parse(t, `{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"hi"}}`).Log(); l.Level != "info" {
		t.Errorf("default level = %q", l.Level)
	}
	for _, p := range []string{`null`, `{}`, `{"message": 3}`, `"x"`} {
		if _, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"log","params":`+p+`}`).Log(); err == nil {
			t.Errorf("log params %s accepted", p)
		}
	}

	mat, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":"a/b","data_version":"v1","metadata":{"rows":{"raw_value":3,"type":"int"},"plain":5}}}`).Materialization()
	if err != nil || mat.AssetKey != "a/b" || mat.DataVersion != "v1" || mat.Metadata["rows"].Type != "int" || mat.Metadata["plain"].Type != TypeInfer {
		t.Errorf("materialization = %+v, %v", mat, err)
	}
	mat, err = parse(t, `{"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"asset_key":null,"data_version":null,"metadata":null}}`).Materialization()
	if err != nil || mat.AssetKey != "" || mat.Metadata != nil {
		t.Errorf("null materialization = %+v, %v", mat, err)
	}

	c, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"report_asset_check","params":{"asset_key":"a","check_name":"nn","passed":false,"severity":"warn","metadata":{}}}`).Check()
	if err != nil || c.CheckName != "nn" || c.Passed || c.Severity != "WARN" {
		t.Errorf("check = %+v, %v", c, err)
	}
	if c, _ := parse(t, `{"__dagster_pipes_version":"0.1","method":"report_asset_check","params":{"check_name":"nn","passed":true}}`).Check(); c.Severity != "ERROR" {
		t.Errorf("default severity = %q", c.Severity)
	}
	for _, p := range []string{`{"passed": true}`, `{"check_name": "x"}`, `{"check_name": " ", "passed": true}`, `{"check_name": "x", "passed": true, "severity": "FATAL"}`, `{"check_name": "x", "passed": "yes"}`} {
		if _, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"report_asset_check","params":`+p+`}`).Check(); err == nil {
			t.Errorf("check params %s accepted", p)
		}
	}

	exc, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"closed","params":{"exception":{"message":"ValueError: x\n","stack":["a"],"name":"ValueError","cause":null,"context":{"message":"KeyError: k"}}}}`).Closed()
	if err != nil || exc == nil || exc.Name != "ValueError" || exc.Context.Message != "KeyError: k" {
		t.Errorf("closed = %+v, %v", exc, err)
	}
	if exc, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"closed","params":{}}`).Closed(); exc != nil || err != nil {
		t.Errorf("clean close = %+v, %v", exc, err)
	}
	if p, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"report_custom_message","params":{"payload":{"k":[1]}}}`).Custom(); err != nil || string(p) != `{"k":[1]}` {
		t.Errorf("custom = %s, %v", p, err)
	}
	if s, err := parse(t, `{"__dagster_pipes_version":"0.1","method":"log_external_stream","params":{"stream":"stdout","text":"a\nb\n","extras":{}}}`).ExternalStream(); err != nil || s.Stream != "stdout" || s.Text != "a\nb\n" {
		t.Errorf("external stream = %+v, %v", s, err)
	}
}

func TestNewMessageAndLooksLike(t *testing.T) {
	t.Parallel()
	m, err := NewMessage(MethodLog, map[string]string{"message": "a\nb", "level": "INFO"})
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(m)
	if bytes.ContainsRune(line, '\n') || !LooksLikeMessage(string(line)) {
		t.Errorf("line %s", line)
	}
	back, err := Parse(line)
	if err != nil || back.Version != Version {
		t.Fatalf("parse back: %+v %v", back, err)
	}
	if l, _ := back.Log(); l.Message != "a\nb" {
		t.Errorf("message %q", l.Message)
	}
	for _, s := range []string{"", "hello", `{"a": 1}`, `"__dagster_pipes_version"`} {
		if LooksLikeMessage(s) {
			t.Errorf("LooksLikeMessage(%q)", s)
		}
	}
	if _, err := NewMessage(MethodLog, func() {}); err == nil {
		t.Errorf("unencodable params accepted")
	}
}

func TestMetadataAsset(t *testing.T) {
	t.Parallel()
	var md Metadata
	if err := json.Unmarshal([]byte(`{
		"i": {"type": "int", "raw_value": 120},
		"i_float": {"type": "int", "raw_value": 3.0},
		"i_str": {"type": "int", "raw_value": "42"},
		"f": {"type": "float", "raw_value": 0.5},
		"f_int": {"type": "float", "raw_value": 2},
		"b": {"type": "bool", "raw_value": false},
		"t": {"type": "text", "raw_value": "hello"},
		"t_num": {"type": "text", "raw_value": 12},
		"md": {"type": "md", "raw_value": "# x"},
		"p": {"type": "path", "raw_value": "/a/b"},
		"u": {"type": "url", "raw_value": "https://x.io"},
		"j": {"type": "json", "raw_value": {"a": [1, 2]}},
		"j_str": {"type": "json", "raw_value": "{\"a\": 1}"},
		"tbl": {"type": "table", "raw_value": {"records": []}},
		"ts": {"type": "timestamp", "raw_value": 1700000000.5},
		"ts_str": {"type": "timestamp", "raw_value": "2026-01-02T03:04:05Z"},
		"n": {"type": "null", "raw_value": null},
		"n2": {"type": "int", "raw_value": null},
		"inf_i": {"type": "__infer__", "raw_value": 7},
		"inf_f": {"type": "__infer__", "raw_value": 7.5},
		"inf_s": {"type": "__infer__", "raw_value": "s3://b/k"},
		"inf_o": {"type": "__infer__", "raw_value": {"k": "v"}},
		"unknown": {"type": "code_reference", "raw_value": "x"},
		"plain": 3,
		"bad_i": {"type": "int", "raw_value": "many"},
		"bad_i2": {"type": "int", "raw_value": 1.5},
		"bad_f": {"type": "float", "raw_value": "NaN"},
		"bad_b": {"type": "bool", "raw_value": 1},
		"bad_u": {"type": "url", "raw_value": 3},
		"bad_ts": {"type": "timestamp", "raw_value": "yesterday"}
	}`), &md); err != nil {
		t.Fatal(err)
	}
	got, err := md.Asset()
	want := asset.Metadata{
		"i": asset.Int(120), "i_float": asset.Int(3), "i_str": asset.Int(42),
		"f": asset.Float(0.5), "f_int": asset.Float(2), "b": asset.Bool(false),
		"t": asset.Text("hello"), "t_num": asset.Text("12"), "md": asset.Text("# x"), "p": asset.Text("/a/b"),
		"u": asset.URL("https://x.io"), "j": asset.JSONValue(`{"a":[1,2]}`), "j_str": asset.JSONValue(`{"a":1}`),
		"tbl": asset.JSONValue(`{"records":[]}`), "ts": asset.Float(1700000000.5), "ts_str": asset.Float(1767323045),
		"inf_i": asset.Int(7), "inf_f": asset.Float(7.5), "inf_s": asset.URL("s3://b/k"), "inf_o": asset.JSONValue(`{"k":"v"}`),
		"unknown": asset.Text("x"), "plain": asset.Int(3),
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %+v, want %+v", name, got[name], w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected entry %s = %+v", name, got[name])
		}
	}
	for _, name := range []string{"bad_i", "bad_i2", "bad_f", "bad_b", "bad_u", "bad_ts"} {
		if err == nil || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
	if m, err := Metadata(nil).Asset(); m != nil || err != nil {
		t.Errorf("nil metadata: %v %v", m, err)
	}
	var v MetadataValue
	if err := json.Unmarshal([]byte(`{"type": 3, "raw_value": 1}`), &v); err == nil {
		t.Errorf("type 3 accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"x","level":"INFO"}}`))
	f.Add([]byte(`{"__dagster_pipes_version":"0.1","method":"report_asset_materialization","params":{"metadata":{"a":{"type":"int","raw_value":1}},"data_version":"v"}}`))
	f.Add([]byte(`{"__dagster_pipes_version":"0.1","method":"report_asset_check","params":{"check_name":"c","passed":true,"metadata":{"x":{"type":"timestamp","raw_value":"2020-01-01T00:00:00Z"}}}}`))
	f.Add([]byte(`{"__dagster_pipes_version":"0.1","method":"closed","params":{"exception":{"message":"m"}}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := Parse(line)
		if err != nil {
			return
		}
		_, _ = m.Log()
		_, _ = m.Closed()
		_, _ = m.Custom()
		_, _ = m.ExternalStream()
		if mat, err := m.Materialization(); err == nil {
			md, _ := mat.Metadata.Asset()
			if _, err := json.Marshal(md); err != nil {
				t.Errorf("converted metadata does not encode: %v", err)
			}
		}
		if c, err := m.Check(); err == nil {
			_, _ = c.Metadata.Asset()
		}
	})
}
