package openlineage

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/freshet-dev/freshet/asset"
)

// KeyPrefix is the first part of every asset key made from an OpenLineage
// dataset.
const KeyPrefix = "ol"

// DatasetKey returns the asset key of the dataset (namespace, name):
//
//	ol/<namespace as one escaped part>/<name, split on '/', each part escaped>
//
// The namespace (a data source such as "postgres://db:5432", "s3://lake",
// "bigquery" or "file") is one part, escaped with asset.EscapePart, so the
// key says where the name starts. The name keeps its own '/' hierarchy
// (object store and file paths) as key parts; '.' is not split on, since
// a table name's dots may sit inside quoted identifiers. A '/' that would
// leave a part empty (a leading, trailing or doubled '/', as in
// "/tmp/data.csv") is escaped as %2F instead, and so are '%', control
// characters and white space around a part: ParseDatasetKey reverses the
// mapping exactly, for every namespace and name.
func DatasetKey(namespace, name string) (asset.Key, error) {
	if namespace == "" {
		return "", errors.New("the dataset namespace is empty")
	}
	if name == "" {
		return "", errors.New("the dataset name is empty")
	}
	if !utf8.ValidString(namespace) || !utf8.ValidString(name) {
		return "", errors.New("the dataset namespace or name is not valid UTF-8")
	}
	var b strings.Builder
	b.Grow(len(KeyPrefix) + len(namespace) + len(name) + 8)
	b.WriteString(KeyPrefix)
	b.WriteByte('/')
	b.WriteString(asset.EscapePart(namespace))
	b.WriteByte('/')
	start := 0
	for i := 0; i < len(name); i++ {
		// A '/' separates parts only when a part lies on either side of
		// it: not first, and not followed by another '/' or the end.
		if name[i] != '/' || i == 0 || i+1 == len(name) || name[i+1] == '/' {
			continue
		}
		b.WriteString(asset.EscapePart(name[start:i]))
		b.WriteByte('/')
		start = i + 1
	}
	b.WriteString(asset.EscapePart(name[start:]))
	return asset.ParseKey(b.String())
}

// ParseDatasetKey returns the namespace and name a DatasetKey key was made
// from; ok is false for a key DatasetKey does not make (another prefix, or
// a spelling it would not write, such as "ol/ns/a%2Fb" for "ol/ns/a/b").
func ParseDatasetKey(k asset.Key) (namespace, name string, ok bool) {
	parts := k.Parts()
	if len(parts) < 3 || parts[0] != KeyPrefix {
		return "", "", false
	}
	namespace, err := asset.UnescapePart(parts[1])
	if err != nil {
		return "", "", false
	}
	names := make([]string, len(parts)-2)
	for i, p := range parts[2:] {
		if names[i], err = asset.UnescapePart(p); err != nil {
			return "", "", false
		}
	}
	name = strings.Join(names, "/")
	if again, err := DatasetKey(namespace, name); err != nil || again != k {
		return "", "", false
	}
	return namespace, name, true
}

// keyError words a DatasetKey error for a field error's message.
func keyError(err error) string {
	var ke *asset.KeyError
	if errors.As(err, &ke) {
		return fmt.Sprintf("the asset key made from namespace and name is invalid: %s", ke.Reason)
	}
	return err.Error()
}
