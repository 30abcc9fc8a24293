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
// prefix is prepended to the path (e.g. "metadata.").
func Find(v *fastjson.Value, prefix string) string {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		return findObject(o, prefix)
	case fastjson.TypeArray:
		items, _ := v.Array()
		for i, item := range items {
			if t := item.Type(); t != fastjson.TypeObject && t != fastjson.TypeArray {
				continue
			}
			if p := Find(item, trimDot(prefix)+"["+strconv.Itoa(i)+"]."); p != "" {
				return p
			}
		}
	}
	return ""
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

func findObject(o *fastjson.Object, prefix string) string {
	var (
		dup   string
		small [smallObject][]byte
		names = small[:0]
		seen  map[string]struct{}
	)
	if o.Len() > smallObject {
		seen = make(map[string]struct{}, o.Len())
	}
	o.Visit(func(k []byte, val *fastjson.Value) {
		if dup != "" {
			return
		}
		if seen != nil {
			if _, ok := seen[string(k)]; ok {
				dup = prefix + string(k)
				return
			}
			seen[string(k)] = struct{}{}
		} else {
			for _, n := range names {
				if bytes.Equal(n, k) {
					dup = prefix + string(k)
					return
				}
			}
			names = append(names, k)
		}
		if t := val.Type(); t == fastjson.TypeObject || t == fastjson.TypeArray {
			dup = Find(val, prefix+string(k)+".")
		}
	})
	return dup
}

func trimDot(prefix string) string {
	if n := len(prefix); n > 0 && prefix[n-1] == '.' {
		return prefix[:n-1]
	}
	return prefix
}
