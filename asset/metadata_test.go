package asset

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func TestMetadataInference(t *testing.T) {
	t.Parallel()
	in := `{"row_count": 1200, "ratio": 0.5, "whole_float": 2.0, "big": 1e3, "ok": true,
		"uri": "s3://bucket/key", "web": "https://x.example/a", "note": "plain text",
		"not_url": "see http://x", "schema": {"a": [1, 2]}, "list": [1, "x"], "neg": -7}`
	var m Metadata
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	want := Metadata{
		"row_count": Int(1200), "ratio": Float(0.5), "whole_float": Float(2), "big": Float(1000), "ok": Bool(true),
		"uri": URL("s3://bucket/key"), "web": URL("https://x.example/a"), "note": Text("plain text"),
		"not_url": Text("see http://x"), "schema": JSONValue(`{"a":[1,2]}`), "list": JSONValue(`[1,"x"]`), "neg": Int(-7),
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %#v\nwant %#v", m, want)
	}
	// A round trip keeps every type, floats included.
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Metadata
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip changed metadata: %s", out)
	}
	if n, ok := m.RowCount(); !ok || n != 1200 {
		t.Errorf("RowCount = %d, %v", n, ok)
	}
}

func TestMetadataRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"a": null}`, `{"a": 1e999}`} {
		var m Metadata
		if err := json.Unmarshal([]byte(in), &m); err == nil {
			t.Errorf("Unmarshal(%s) accepted", in)
		}
	}
	if _, err := json.Marshal(Metadata{"x": Float(math.NaN())}); err == nil {
		t.Error("NaN marshalled")
	}
}
