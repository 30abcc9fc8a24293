package dbt

import (
	"fmt"
	"strings"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/openlineage"
)

// KeyPrefix is the first part of the keys Key makes without a namespace.
const KeyPrefix = "dbt"

// Key is the asset key of a node or source: the relation it builds or
// reads, so that a table is one asset however it is reached.
//
//   - Without a namespace: dbt/<database>/<schema>/<identifier>, each part
//     escaped with asset.EscapePart (dbt/<schema>/<identifier> on
//     adapters without databases). Two dbt projects that share a table
//     (one builds it, the other reads it as a source) meet on one asset.
//   - With the OpenLineage namespace of the warehouse (what dbt-ol reports,
//     e.g. "postgres://warehouse:5432", "snowflake://acme-eu1",
//     "bigquery"): openlineage.DatasetKey(namespace,
//     "<database>.<schema>.<identifier>"), the very key dbt-ol's events
//     land on, so the import's specs and dbt-ol's runs make one asset.
//
// The identifier is the alias of a model, seed or snapshot (its name
// when there is none) and the identifier of a source. Ephemeral models
// build no relation and are no assets.
func Key(n *Node, namespace string) (asset.Key, error) {
	db, schema, ident := n.relation()
	if namespace != "" {
		name := schema + "." + ident
		if db != "" {
			name = db + "." + name
		}
		return openlineage.DatasetKey(namespace, name)
	}
	parts := []string{KeyPrefix}
	if db != "" {
		parts = append(parts, asset.EscapePart(db))
	}
	parts = append(parts, asset.EscapePart(schema), asset.EscapePart(ident))
	return asset.KeyFromParts(parts...)
}

// relation is the node's database, schema and identifier.
func (n *Node) relation() (db, schema, ident string) {
	if n.Database != nil {
		db = *n.Database
	}
	ident = n.Name
	switch {
	case n.ResourceType == "source" && n.Identifier != nil && *n.Identifier != "":
		ident = *n.Identifier
	case n.ResourceType != "source" && n.Alias != nil && *n.Alias != "":
		ident = *n.Alias
	}
	return db, n.Schema, ident
}

// CheckName is the check a test becomes: its name, with characters a check
// name may not hold (letters, digits, '_', '.', '-') replaced by '_', at
// most 200 bytes.
func CheckName(test string) string {
	var b strings.Builder
	for _, r := range test {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// keyErr words a key that cannot be made.
func keyErr(n *Node, err error) string {
	db, schema, ident := n.relation()
	return fmt.Sprintf("the relation %q.%q.%q makes no valid asset key: %v", db, schema, ident, err)
}
