package dbt

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/freshet-dev/freshet/asset"
)

// Manifest is what Freshet reads of a manifest.json: the project's nodes,
// sources and groups, each already checked.
type Manifest struct {
	Version      int // the schema version: 10, 11 or 12
	DBTVersion   string
	ProjectName  string
	AdapterType  string
	InvocationID string
	Nodes        map[string]*Node // models, seeds, snapshots, tests, ... by unique_id
	Sources      map[string]*Node
	Groups       map[string]Group // by group name
}

// Node is a manifest node or source, the members Freshet uses.
type Node struct {
	UniqueID     string          `json:"unique_id"`
	ResourceType string          `json:"resource_type"`
	PackageName  string          `json:"package_name"`
	Name         string          `json:"name"`
	Database     *string         `json:"database"`
	Schema       string          `json:"schema"`
	Alias        *string         `json:"alias"`      // nodes
	Identifier   *string         `json:"identifier"` // sources
	RelationName *string         `json:"relation_name"`
	FQN          []string        `json:"fqn"`
	Description  string          `json:"description"`
	Tags         []string        `json:"tags"`
	Meta         map[string]any  `json:"meta"`
	Group        *string         `json:"group"`
	Config       NodeConfig      `json:"config"`
	Columns      Columns         `json:"columns"`
	DependsOn    DependsOn       `json:"depends_on"`
	Checksum     *Checksum       `json:"checksum"`
	TestMetadata *TestMetadata   `json:"test_metadata"`
	ColumnName   *string         `json:"column_name"`
	AttachedNode *string         `json:"attached_node"`
	SourceName   string          `json:"source_name"`
	Loader       string          `json:"loader"`
	Freshness    *FreshnessRules `json:"freshness"`
	SourceMeta   map[string]any  `json:"source_meta"`
	CompiledCode string          `json:"compiled_code"`
}

// NodeConfig is the part of a node's config Freshet uses.
type NodeConfig struct {
	Materialized string         `json:"materialized"`
	Severity     string         `json:"severity"`
	Meta         map[string]any `json:"meta"`
	Group        *string        `json:"group"`
}

// DependsOn lists the unique ids a node reads.
type DependsOn struct {
	Nodes []string `json:"nodes"`
}

// Checksum of the node's file: its code version.
type Checksum struct {
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
}

// TestMetadata names a generic test (unique, not_null, ...) and its
// arguments.
type TestMetadata struct {
	Name      string         `json:"name"`
	Namespace *string        `json:"namespace"`
	Kwargs    map[string]any `json:"kwargs"`
}

// FreshnessRules are a source's freshness criteria.
type FreshnessRules struct {
	WarnAfter  *Period `json:"warn_after"`
	ErrorAfter *Period `json:"error_after"`
}

// Period is dbt's {"count": 12, "period": "hour"}.
type Period struct {
	Count  *int64 `json:"count"`
	Period string `json:"period"`
}

// Column is one declared column.
type Column struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	DataType    *string `json:"data_type"`
}

// Columns keeps the columns in the order the manifest lists them (a
// project's YAML order, which is how people read a table).
type Columns []Column

// UnmarshalJSON reads dbt's {"name": {...}, ...} object in order.
func (cs *Columns) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*cs = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: mapType, Field: ""}
	}
	var out Columns
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string) // an object's member names are strings
		var c Column
		if err := dec.Decode(&c); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				te.Field = join(name, te.Field)
				return te
			}
			return err
		}
		if c.Name == "" {
			c.Name = name
		}
		out = append(out, c)
	}
	*cs = out
	return nil
}

// manifestVersions are the manifest schema versions read: dbt 1.6 wrote
// v10, 1.7 v11, 1.8 and later v12.
var manifestVersions = []int{10, 11, 12}

var schemaVersion = regexp.MustCompile(`^https://schemas\.getdbt\.com/dbt/([a-z-]+)/v(\d+)\.json$`)

// checkVersion reads metadata.dbt_schema_version and accepts the
// versions given of the named schema.
func checkVersion(artifact, schema string, meta *metadata, versions []int, dbts string) (int, error) {
	if meta == nil {
		return 0, missingField(artifact, "metadata", "metadata is required (is this a dbt %s?)", artifact)
	}
	v := meta.SchemaVersion
	if v == "" {
		return 0, missingField(artifact, "metadata.dbt_schema_version", "dbt_schema_version is required, e.g. https://schemas.getdbt.com/dbt/%s/v%d.json", schema, versions[len(versions)-1])
	}
	m := schemaVersion.FindStringSubmatch(v)
	if m == nil {
		return 0, fieldErr(artifact, "metadata.dbt_schema_version", "%q is not a dbt schema URL such as https://schemas.getdbt.com/dbt/%s/v%d.json", v, schema, versions[len(versions)-1])
	}
	if m[1] != schema {
		return 0, fieldErr(artifact, "metadata.dbt_schema_version", "%q is a dbt %s, not a %s", v, m[1], schema)
	}
	n, _ := strconv.Atoi(m[2])
	if !slices.Contains(versions, n) {
		return 0, fieldErr(artifact, "metadata.dbt_schema_version", "%s schema v%d is not supported: Freshet reads v%d to v%d (%s)",
			schema, n, versions[0], versions[len(versions)-1], dbts)
	}
	return n, nil
}

type metadata struct {
	SchemaVersion string `json:"dbt_schema_version"`
	DBTVersion    string `json:"dbt_version"`
	GeneratedAt   string `json:"generated_at"`
	InvocationID  string `json:"invocation_id"`
	ProjectName   string `json:"project_name"`
	AdapterType   string `json:"adapter_type"`
}

type group struct {
	Name  string `json:"name"`
	Owner struct {
		Name  *string `json:"name"`
		Email *string `json:"email"`
	} `json:"owner"`
}

// Group is a dbt group: a name and its owner.
type Group struct {
	Name  string
	Owner string // the owner's email, else name
}

// DecodeManifest reads and checks a manifest.json: the schema version,
// the members Freshet uses and their types, and that every dependency
// names a node or source of the manifest.
//
// One pass decodes the whole file into its types. Only if that fails is
// it read again, node by node, to name the value at fault: encoding/json
// names a member by a dotted path, which cannot tell the dots of dbt's
// unique ids from its own.
func DecodeManifest(data []byte) (*Manifest, error) {
	const art = ArtifactManifest
	var top struct {
		Metadata *metadata         `json:"metadata"`
		Nodes    map[string]*Node  `json:"nodes"`
		Sources  map[string]*Node  `json:"sources"`
		Groups   map[string]*group `json:"groups"`
	}
	if err := decodeTop(art, data, &top); err != nil {
		return nil, decodeManifestSlow(data, err)
	}
	v, err := checkVersion(art, "manifest", top.Metadata, manifestVersions, "dbt 1.6 and later")
	if err != nil {
		return nil, err
	}
	if top.Nodes == nil {
		return nil, missingField(art, "nodes", "nodes is required (an object of the project's models, seeds, snapshots and tests)")
	}
	m := &Manifest{Version: v, DBTVersion: top.Metadata.DBTVersion, ProjectName: top.Metadata.ProjectName,
		AdapterType: top.Metadata.AdapterType, InvocationID: top.Metadata.InvocationID,
		Nodes: top.Nodes, Sources: top.Sources, Groups: make(map[string]Group, len(top.Groups))}
	if m.Sources == nil {
		m.Sources = map[string]*Node{}
	}
	for _, id := range slices.Sorted(maps.Keys(m.Nodes)) {
		if err := checkNode(entry("nodes", id), id, m.Nodes[id]); err != nil {
			return nil, err
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.Sources)) {
		path := entry("sources", id)
		n := m.Sources[id]
		if err := checkNode(path, id, n); err != nil {
			return nil, err
		}
		if n.ResourceType != "source" {
			return nil, fieldErr(art, path+".resource_type", "a source's resource_type must be source, not %q", n.ResourceType)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(top.Groups)) {
		path := entry("groups", id)
		g := top.Groups[id]
		if g == nil {
			return nil, fieldErr(art, path, "must be an object, not null")
		}
		if g.Name == "" {
			return nil, missingField(art, path+".name", "a group needs a name")
		}
		owner := ""
		switch {
		case g.Owner.Email != nil && *g.Owner.Email != "":
			owner = *g.Owner.Email
		case g.Owner.Name != nil:
			owner = *g.Owner.Name
		}
		m.Groups[g.Name] = Group{Name: g.Name, Owner: owner}
	}
	for _, id := range slices.Sorted(maps.Keys(m.Nodes)) {
		for i, dep := range m.Nodes[id].DependsOn.Nodes {
			if m.Nodes[dep] == nil && m.Sources[dep] == nil && !otherResource(dep) {
				return nil, fieldErr(art, index(entry("nodes", id)+".depends_on.nodes", i), "no such node or source %q in the manifest", dep)
			}
		}
	}
	return m, nil
}

// decodeManifestSlow finds the value the one-pass decode failed on:
// members one by one, then each node, in key order. err is the one-pass
// error, returned as it is if this pass finds nothing more precise.
func decodeManifestSlow(data []byte, err error) error {
	const art = ArtifactManifest
	var fe *FieldError
	if errors.As(err, &fe) && fe.Path == "" {
		return err // not JSON, or not an object: nothing more to find
	}
	var top struct {
		Metadata json.RawMessage            `json:"metadata"`
		Nodes    map[string]json.RawMessage `json:"nodes"`
		Sources  map[string]json.RawMessage `json:"sources"`
		Groups   map[string]json.RawMessage `json:"groups"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return decodeErr(art, "", data, err)
	}
	var meta metadata
	if err := json.Unmarshal(top.Metadata, &meta); len(top.Metadata) > 0 && err != nil {
		return decodeErr(art, "metadata", top.Metadata, err)
	}
	if _, err := checkVersion(art, "manifest", &meta, manifestVersions, "dbt 1.6 and later"); err != nil {
		return err
	}
	for _, sec := range []struct {
		name string
		m    map[string]json.RawMessage
		v    func() any
	}{{"nodes", top.Nodes, func() any { return new(Node) }}, {"sources", top.Sources, func() any { return new(Node) }},
		{"groups", top.Groups, func() any { return new(group) }}} {
		for _, id := range slices.Sorted(maps.Keys(sec.m)) {
			if err := json.Unmarshal(sec.m[id], sec.v()); err != nil {
				return decodeErr(art, entry(sec.name, id), sec.m[id], err)
			}
		}
	}
	return err
}

// otherResource: depends_on may name metrics, semantic models and the
// like, which live in other members of the manifest and are not assets.
func otherResource(id string) bool {
	kind, _, _ := strings.Cut(id, ".")
	switch kind {
	case "metric", "semantic_model", "saved_query", "exposure", "unit_test":
		return true
	}
	return false
}

// nodeTypes are the resource types a node may have; an unknown one is
// refused so that a typo or a future dbt's new kind is not silently
// taken for something else.
var nodeTypes = []string{"model", "seed", "snapshot", "test", "source", "analysis", "operation", "sql_operation", "rpc", "sql", "unit_test"}

// checkNode checks what the types cannot: required members, the key,
// the resource type, freshness periods.
func checkNode(path, id string, n *Node) error {
	const art = ArtifactManifest
	switch {
	case n == nil:
		return fieldErr(art, path, "must be an object, not null")
	case n.UniqueID == "":
		return missingField(art, path+".unique_id", "unique_id is required")
	case n.UniqueID != id:
		return fieldErr(art, path+".unique_id", "%q differs from the node's key", n.UniqueID)
	case n.ResourceType == "":
		return missingField(art, path+".resource_type", "resource_type is required")
	case !slices.Contains(nodeTypes, n.ResourceType):
		return fieldErr(art, path+".resource_type", "unknown resource_type %q: want one of %s", n.ResourceType, strings.Join(nodeTypes, ", "))
	case n.Name == "":
		return missingField(art, path+".name", "name is required")
	}
	if n.builds() || n.ResourceType == "source" {
		if n.Schema == "" {
			return missingField(art, path+".schema", "schema is required for a %s", n.ResourceType)
		}
	}
	if len(n.Columns) > asset.MaxColumns {
		return fieldErr(art, path+".columns", "%d columns, more than the %d an asset may have", len(n.Columns), asset.MaxColumns)
	}
	for i, d := range n.DependsOn.Nodes {
		if d == "" {
			return fieldErr(art, index(path+".depends_on.nodes", i), "must not be empty")
		}
	}
	if f := n.Freshness; f != nil {
		for _, p := range []struct {
			name string
			p    *Period
		}{{"warn_after", f.WarnAfter}, {"error_after", f.ErrorAfter}} {
			if p.p == nil || p.p.Count == nil {
				continue
			}
			if _, err := p.p.duration(); err != nil {
				return fieldErr(art, path+".freshness."+p.name, "%v", err)
			}
		}
	}
	return nil
}

// builds reports whether the node makes a relation (or, ephemeral, a
// CTE): the resource types that become assets besides sources.
func (n *Node) builds() bool {
	switch n.ResourceType {
	case "model", "seed", "snapshot":
		return true
	}
	return false
}

// decodeTop decodes an artifact's top level, naming the problem if the
// bytes are not a JSON object of the expected shape.
func decodeTop(art string, data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return missingField(art, "", "the %s is empty", art)
	}
	if data[0] != '{' {
		return fieldErr(art, "", "must be a JSON object (the file dbt writes as target/%s.json)", art)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return decodeErr(art, "", data, err)
	}
	return nil
}

func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '{':
		return "object"
	}
	return "number"
}

var mapType = reflect.TypeFor[map[string]Column]()
