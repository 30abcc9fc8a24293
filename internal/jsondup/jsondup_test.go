package jsondup

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"unicode/utf8"
)

func TestFindIn(t *testing.T) {
	t.Parallel()
	many := `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":0,"k11":1,"k12":2,"k13":3,"k14":4,"k15":5,"k16":6,"k3":7}`
	tests := []struct{ body, want string }{
		{`{}`, ""},
		{`{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}`, ""},
		{`{"a":1,"a":1}`, "a"},
		{`{"a":1,"\u0061":2}`, "a"},
		{`{"a":{"b":{"c":1,"c":2}}}`, "a.b.c"},
		{`{"a":[0,{"x":1},{"x":1,"x":1}]}`, "a[2].x"},
		{`[{"x":1},[{"y":1,"y":2}]]`, "[1][0].y"},
		{`{"a":[[{"z":1,"z":1}]]}`, "a[0][0].z"},
		{many, "k3"}, // past the small-object scan: the map
		{`{"":0,"":1}`, `""`},
		{`{"a":{"":0,"":1}}`, `a.""`},
		{`{"[0]":{"x":1,"x":2}}`, `[0].x`},
		{`"a"`, ""},
	}
	for _, tt := range tests {
		got, found, err := FindIn([]byte(tt.body))
		if err != nil || got != tt.want || found != (tt.want != "") {
			t.Errorf("FindIn(%s) = %q, %v, %v; want %q", tt.body, got, found, err, tt.want)
		}
	}
	if _, _, err := FindIn([]byte(`{"a":`)); err == nil {
		t.Error("a syntax error was not reported")
	}
}

// hasDup is a reference: encoding/json's tokens, with the names of each
// open object on a stack.
func hasDup(body []byte) (dup, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object  bool
		names   map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false, len(stack) == 0
		}
		if err != nil {
			return false, false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			name, _ := tok.(string)
			if d, isDelim := tok.(json.Delim); isDelim && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			if top.names[name] {
				return true, true
			}
			top.names[name] = true
			top.wantKey = false
			continue
		}
		if top != nil && top.object {
			top.wantKey = true // this token is a value (or opens one)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, names: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// FuzzFindIn: no input panics, and on UTF-8 JSON that encoding/json reads,
// FindIn finds a duplicate exactly when the reference does.
func FuzzFindIn(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[{"c":1},{"c":1,"c":2}]}}`, `[{"x":1},{"y":[{"z":1,"z":1}]}]`, `{"\u0061":1,"a":2}`, `{}`, `[]`, `1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		path, found, err := FindIn(body)
		// encoding/json reads invalid UTF-8 as U+FFFD, so two distinct
		// invalid names are one to it; Freshet refuses invalid UTF-8
		// anyway.
		if err != nil || !json.Valid(body) || !utf8.Valid(body) {
			return
		}
		if found && path == "" {
			t.Fatalf("FindIn(%q) found a duplicate with an empty path", body)
		}
		want, ok := hasDup(body)
		if ok && want != found {
			t.Fatalf("FindIn(%q) = %q, %v; the reference says duplicate: %v", body, path, found, want)
		}
	})
}
