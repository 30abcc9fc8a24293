package config

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree against the schema by hand, instead of
// yaml.Unmarshal into structs, so that every problem carries its line and
// field path and decoding goes on after the first problem.
type decoder struct {
	file     string
	problems Problems

	// poolNames are the pools written under pools:, nil without that
	// block; materialize.pool references are checked against them.
	poolNames map[string]bool

	// Aliases make the node tree a DAG that can be exponentially larger
	// than the file ("billion laughs"). Expanding an alias costs the size
	// of its target; the total is capped relative to the document size.
	aliasBudget   int
	aliasReported bool
	sizes         map[*yaml.Node]int
}

func (d *decoder) addf(line int, field, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// yamlLine extracts the line from yaml.v3's error text ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data into its document's root node, or returns nil after
// recording the syntax error. An empty file yields nil without a problem.
func (d *decoder) parseYAML(data []byte) (root *yaml.Node) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := safeDecode(dec, &doc); {
	case err == io.EOF:
		return nil
	case err != nil:
		d.syntaxError(err)
		return nil
	}
	// A second document would be silently ignored by the server: say so.
	var next yaml.Node
	switch err := safeDecode(dec, &next); {
	case err == io.EOF:
	case err != nil:
		d.syntaxError(err)
		return nil
	default:
		d.addf(next.Line, "", "a second YAML document (after ---) is not allowed; put every asset in one document")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	d.aliasBudget = 10*d.size(doc.Content[0]) + 1000
	return doc.Content[0]
}

func (d *decoder) syntaxError(err error) {
	// yaml.v3 may report several errors joined; the first is enough
	// because later ones are usually consequences of it.
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")
	msg, _, _ = strings.Cut(msg, "\n")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.addf(line, "", "invalid YAML: %s", msg)
}

// safeDecode turns a panic inside the third-party YAML parser into an
// error: a malformed file must produce a problem, never crash the server.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// size counts n's nodes, counting an alias as one node (its expansion is
// charged when it is followed).
func (d *decoder) size(n *yaml.Node) int {
	if s, ok := d.sizes[n]; ok {
		return s
	}
	s := 1
	if n.Kind != yaml.AliasNode {
		for _, c := range n.Content {
			s += d.size(c)
		}
	}
	if d.sizes == nil {
		d.sizes = make(map[*yaml.Node]int)
	}
	d.sizes[n] = s
	return s
}

// resolve follows an alias to its anchored node. It returns nil (after one
// problem for the whole file) once the alias budget is spent.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	if n == nil || n.Kind != yaml.AliasNode {
		return n
	}
	if n.Alias == nil {
		return nil
	}
	d.aliasBudget -= d.size(n.Alias)
	if d.aliasBudget < 0 {
		if !d.aliasReported {
			d.aliasReported = true
			d.addf(n.Line, "", "too many alias expansions; the file expands to much more than it contains")
		}
		return nil
	}
	return n.Alias
}

// describe names a node's YAML type for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a string"
	}
	return "a document"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// field is one key/value pair of a mapping.
type field struct {
	key, val *yaml.Node
}

// fields returns the pairs of mapping n by name, reporting non-string,
// duplicate and unknown names. Merge keys (<<: *defaults) are honoured;
// fields written in n win over merged ones. A null n is an empty mapping.
// ok is false when n is not a mapping at all.
func (d *decoder) fields(n *yaml.Node, path string, known []string) (fs map[string]field, ok bool) {
	if n = d.resolve(n); n == nil {
		return nil, false
	}
	fs = make(map[string]field)
	if isNull(n) {
		return fs, true
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "expected a mapping, got %s", describe(n))
		return nil, false
	}
	d.collect(n, path, known, fs, false)
	return fs, true
}

func (d *decoder) collect(n *yaml.Node, path string, known []string, fs map[string]field, merged bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.addf(k.Line, path, "field names must be strings, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name := k.Value
		if prev, dup := fs[name]; dup {
			if !merged {
				d.addf(k.Line, join(path, name), "duplicate field %q (first at line %d)", name, prev.key.Line)
			}
			continue
		}
		if !slices.Contains(known, name) {
			d.addf(k.Line, join(path, name), "unknown field %q; known fields: %s", name, strings.Join(known, ", "))
			continue
		}
		fs[name] = field{key: k, val: v}
	}
	for _, m := range merges {
		m = d.resolve(m)
		if m == nil {
			continue
		}
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			if src = d.resolve(src); src == nil {
				continue
			}
			if src.Kind != yaml.MappingNode {
				d.addf(src.Line, join(path, "<<"), "a merge key needs a mapping or a list of mappings, got %s", describe(src))
				continue
			}
			d.collect(src, path, known, fs, true)
		}
	}
}

// str decodes a string field. Any scalar is taken as written (so
// code_version: 3 is "3"); null is the empty string.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n = d.resolve(n); n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.addf(n.Line, path, "expected a string, got %s", describe(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// item is a string list element with its line, kept for later checks.
type item struct {
	value string
	line  int
}

// list decodes a list of strings; null is an empty list. With nonEmpty,
// empty strings are reported (an empty owner or tag is always a mistake).
func (d *decoder) list(n *yaml.Node, path string, nonEmpty bool) []item {
	if n = d.resolve(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, path, "expected a list of strings such as [a, b], got %s", describe(n))
		return nil
	}
	items := make([]item, 0, len(n.Content))
	for i, c := range n.Content {
		p := index(path, i)
		s, ok := d.str(c, p)
		if !ok {
			continue
		}
		if nonEmpty && s == "" {
			d.addf(c.Line, p, "must not be empty")
			continue
		}
		items = append(items, item{s, c.Line})
	}
	return items
}

func (d *decoder) stringList(n *yaml.Node, path string) []string {
	items := d.list(n, path, true)
	if len(items) == 0 {
		return nil
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.value
	}
	return out
}

// duration decodes a duration written as a string ("2h", "1d12h"). A bare
// number is an error rather than seconds or nanoseconds: nobody should have
// to guess the unit.
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	if n = d.resolve(n); n == nil {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode {
		d.addf(n.Line, path, "expected a duration such as 2h, got %s", describe(n))
		return 0, false
	}
	switch n.ShortTag() {
	case "!!null":
		return 0, true
	case "!!int", "!!float":
		d.addf(n.Line, path, "%s has no unit; give a unit, e.g. 2h", n.Value)
		return 0, false
	}
	v, err := asset.ParseDuration(n.Value)
	if err != nil {
		d.addf(n.Line, path, "%v", err)
		return 0, false
	}
	return v, true
}

// integer decodes an integer in [lo, hi].
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int) (int, bool) {
	if n = d.resolve(n); n == nil {
		return 0, false
	}
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.addf(n.Line, path, "expected an integer, got %s", describe(n))
		return 0, false
	}
	if v < lo || v > hi {
		d.addf(n.Line, path, "%d is out of range %d..%d", v, lo, hi)
		return 0, false
	}
	return v, true
}
