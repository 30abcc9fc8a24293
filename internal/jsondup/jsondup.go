// Package jsondup finds a member that appears twice in one JSON object.
// encoding/json and fastjson both accept {"a":1,"a":2} (the last or the
// first wins), so two readers of the same body may disagree about what it
// says; Freshet refuses such bodies instead, naming the member.
package jsondup

import (
	"bytes"
	"strconv"

	"github.com/valyala/fastjson"
)

// smallObject is the member count up to which an object is checked by
// scanning the names seen so far rather than with a map.
const smallObject = 16

// Find returns the path of the first member that repeats a name of its
// object, at any depth ("a.b", "items[2].name"); "" when there is none.
// The path starts with prefix, the path of v itself ("metadata.schema"),
// if any. It allocates only for objects of more than 16 members, for
// deep nesting and for the path it returns.
func Find(v *fastjson.Value, prefix string) string {
	var (
		buf [32][]byte
		f   = finder{names: buf[:0]}
	)
	if !f.find(v) {
		return ""
	}
	b := []byte(prefix)
	for i := len(f.path) - 1; i >= 0; i-- { // f.path is innermost first
		if seg := f.path[i]; seg[0] != '[' && len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, f.path[i]...)
	}
	return string(b)
}

// FindIn parses body and finds a repeated member as Find does; err is a
// syntax error.
func FindIn(body []byte) (string, error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return "", err
	}
	return Find(v, ""), nil
}

// finder walks a value; names is a stack of the member names of the
// objects being walked, path the found member's path, innermost first.
type finder struct {
	names [][]byte
	path  []string
}

func (f *finder) find(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		return f.object(o)
	case fastjson.TypeArray:
		items, _ := v.Array()
		for i, item := range items {
			if t := item.Type(); (t == fastjson.TypeObject || t == fastjson.TypeArray) && f.find(item) {
				f.path = append(f.path, "["+strconv.Itoa(i)+"]")
				return true
			}
		}
	}
	return false
}

func (f *finder) object(o *fastjson.Object) bool {
	start := len(f.names)
	defer func() { f.names = f.names[:start] }()
	var seen map[string]struct{}
	if o.Len() > smallObject {
		seen = make(map[string]struct{}, o.Len())
	}
	found := false
	o.Visit(func(k []byte, val *fastjson.Value) {
		if found {
			return
		}
		if seen != nil {
			if _, dup := seen[string(k)]; dup {
				found = true
			} else {
				seen[string(k)] = struct{}{}
			}
		} else {
			for _, n := range f.names[start:] {
				if bytes.Equal(n, k) {
					found = true
					break
				}
			}
			f.names = append(f.names, k)
		}
		if found {
			f.path = append(f.path, string(k))
			return
		}
		if t := val.Type(); (t == fastjson.TypeObject || t == fastjson.TypeArray) && f.find(val) {
			f.path = append(f.path, string(k))
			found = true
		}
	})
	return found
}
