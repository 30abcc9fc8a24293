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
// object, at any depth ("a.b", "items[2].name"; an empty name is written
// ""), and whether there is one. The path starts with prefix, the path
// of v itself ("metadata.schema"), if any. It allocates only for objects
// of more than 16 members, for deep nesting and for the path it returns.
func Find(v *fastjson.Value, prefix string) (path string, found bool) {
	var (
		buf [32][]byte
		f   = finder{names: buf[:0]}
	)
	if !f.find(v) {
		return "", false
	}
	b := []byte(prefix)
	for i := len(f.path) - 1; i >= 0; i-- { // f.path is innermost first
		seg := f.path[i]
		switch {
		case seg.index >= 0:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(seg.index), 10)
			b = append(b, ']')
			continue
		case len(b) > 0:
			b = append(b, '.')
		}
		if seg.name == "" {
			b = append(b, `""`...)
		}
		b = append(b, seg.name...)
	}
	return string(b), true
}

// FindIn parses body and finds a repeated member as Find does; err is a
// syntax error.
func FindIn(body []byte) (path string, found bool, err error) {
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return "", false, err
	}
	path, found = Find(v, "")
	return path, found, nil
}

// finder walks a value; names is a stack of the member names of the
// objects being walked, path the found member's path, innermost first.
type finder struct {
	names [][]byte
	path  []segment
}

// segment is a member name, or an array index when index >= 0.
type segment struct {
	name  string
	index int
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
				f.path = append(f.path, segment{index: i})
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
			f.path = append(f.path, segment{name: string(k), index: -1})
			return
		}
		if t := val.Type(); (t == fastjson.TypeObject || t == fastjson.TypeArray) && f.find(val) {
			f.path = append(f.path, segment{name: string(k), index: -1})
			found = true
		}
	})
	return found
}
