package dbt

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Origin is the origin of the specs an import makes.
const Origin = asset.OriginDBT

// FreshnessCheck is the check a source's freshness results report as
// (pass, warn or error), besides the observation with its data time.
const FreshnessCheck = "dbt_source_freshness"

// project is a manifest mapped to specs, with what mapping the run
// results needs: the key of each node and source, and each test's checks.
type project struct {
	specs []asset.Spec
	keys  map[string]asset.Key // unique_id -> key, for nodes and sources that are assets
	deps  map[string][]asset.Key
	tests map[string]test // test unique_id -> the checks it reports
	// relations are the names compiled SQL may give each asset:
	// "db.schema.identifier" and "schema.identifier", lower-cased.
	relations map[asset.Key][]string
	inferred  int // columns given inferred lineage
}

// test is a data test as checks: its check name on each asset it tests.
type test struct {
	check    string
	severity asset.Severity
	assets   []asset.Key
}

// mapManifest makes the specs: one per model, seed, snapshot and source
// (two that share a relation are one asset), with tests as checks.
func mapManifest(m *Manifest, namespace string) (*project, error) {
	p := &project{keys: map[string]asset.Key{}, deps: map[string][]asset.Key{}, tests: map[string]test{}, relations: map[asset.Key][]string{}}
	byKey := map[asset.Key]*asset.Spec{}
	var order []asset.Key
	add := func(path string, n *Node) error {
		k, err := Key(n, namespace)
		if err != nil {
			return fieldErr(ArtifactManifest, path, "%s", keyErr(n, err))
		}
		p.keys[n.UniqueID] = k
		db, schema, ident := n.relation()
		names := []string{strings.ToLower(schema + "." + ident)}
		if db != "" {
			names = append(names, strings.ToLower(db+"."+schema+"."+ident))
		}
		for _, name := range names {
			if !slices.Contains(p.relations[k], name) {
				p.relations[k] = append(p.relations[k], name)
			}
		}
		s := m.spec(n, k)
		if old := byKey[k]; old != nil {
			mergeSpec(old, s)
			return nil
		}
		byKey[k] = &s
		order = append(order, k)
		return nil
	}
	// Sources first: when a model builds the table a source reads, the
	// model's description and owners win (merged in second).
	for _, id := range slices.Sorted(maps.Keys(m.Sources)) {
		if err := add(entry("sources", id), m.Sources[id]); err != nil {
			return nil, err
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.Nodes)) {
		if n := m.Nodes[id]; n.isAsset() {
			if err := add(entry("nodes", id), n); err != nil {
				return nil, err
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.Nodes)) {
		n := m.Nodes[id]
		if !n.isAsset() {
			continue
		}
		k := p.keys[id]
		deps := p.resolve(m, n.DependsOn.Nodes, k, nil, map[string]bool{})
		p.deps[id] = deps
		s := byKey[k]
		for _, d := range deps {
			if !slices.Contains(s.Deps, d) {
				s.Deps = append(s.Deps, d)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.Nodes)) {
		n := m.Nodes[id]
		if n.ResourceType != "test" {
			continue
		}
		t := test{check: CheckName(n.Name), severity: severity(n.Config.Severity)}
		targets := n.DependsOn.Nodes
		if n.AttachedNode != nil && *n.AttachedNode != "" {
			if _, ok := p.keys[*n.AttachedNode]; !ok {
				return nil, fieldErr(ArtifactManifest, entry("nodes", id)+".attached_node", "no such model, seed, snapshot or source %q", *n.AttachedNode)
			}
			targets = []string{*n.AttachedNode}
		}
		t.assets = p.resolve(m, targets, "", nil, map[string]bool{})
		if len(t.assets) == 0 {
			continue // a test of nothing Freshet keeps (an ephemeral-free singular test of a macro)
		}
		p.tests[id] = t
		for _, k := range t.assets {
			s := byKey[k]
			if !slices.ContainsFunc(s.Checks, func(c asset.CheckSpec) bool { return c.Name == t.check }) {
				s.Checks = append(s.Checks, asset.CheckSpec{Name: t.check, Description: testDescription(n), Severity: t.severity})
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.Nodes)) {
		if n := m.Nodes[id]; n.isAsset() && n.CompiledCode != "" {
			p.inferred += addColumnLineage(byKey[p.keys[id]], n, p.deps[id], byKey, p.relations)
		}
	}
	p.specs = make([]asset.Spec, len(order))
	for i, k := range order {
		p.specs[i] = *byKey[k]
	}
	slices.SortFunc(p.specs, func(a, b asset.Spec) int { return strings.Compare(string(a.Key), string(b.Key)) })
	return p, nil
}

// resolve appends the assets among ids to out, once each and never self:
// an ephemeral model is no asset (it builds no relation, and never
// materializes), so a node reading one reads what it reads.
func (p *project) resolve(m *Manifest, ids []string, self asset.Key, out []asset.Key, seen map[string]bool) []asset.Key {
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if k, ok := p.keys[id]; ok {
			if k != self && !slices.Contains(out, k) {
				out = append(out, k)
			}
			continue
		}
		if n := m.Nodes[id]; n != nil && n.ephemeral() {
			out = p.resolve(m, n.DependsOn.Nodes, self, out, seen)
		}
	}
	return out
}

// spec is a node's or source's spec, without deps and checks (which need
// every key first).
func (m *Manifest) spec(n *Node, k asset.Key) asset.Spec {
	s := asset.Spec{Key: k, Description: n.Description, Origin: Origin, Kinds: []string{"dbt", n.kind()}}
	s.Group = n.groupName()
	if s.Group == "" && len(n.FQN) > 1 {
		s.Group = strings.Join(n.FQN[:len(n.FQN)-1], ".")
	}
	for _, meta := range []map[string]any{n.Meta, n.Config.Meta, n.SourceMeta} {
		s.Owners = appendOwners(s.Owners, meta["owner"])
	}
	if g, ok := m.Groups[n.groupName()]; ok && g.Owner != "" && !slices.Contains(s.Owners, g.Owner) {
		s.Owners = append(s.Owners, g.Owner)
	}
	for _, t := range n.Tags {
		if t != "" && !slices.Contains(s.Tags, t) {
			s.Tags = append(s.Tags, t)
		}
	}
	if n.Checksum != nil && n.Checksum.Checksum != "" && n.Checksum.Name != "none" {
		s.CodeVersion = n.Checksum.Checksum
	}
	for _, c := range n.Columns {
		col := asset.Column{Name: c.Name, Description: c.Description}
		if c.DataType != nil {
			col.Type = *c.DataType
		}
		s.Columns = append(s.Columns, col)
	}
	if n.ResourceType == "source" {
		if p := n.Freshness.policy(); p != nil {
			s.Freshness = p
			s.Checks = append(s.Checks, asset.CheckSpec{Name: FreshnessCheck,
				Description: freshnessDescription(p), Severity: asset.SeverityError})
		}
	}
	return s
}

// kind is the second kind of the node's asset: the materialization of a
// model (table, view, incremental, ephemeral, materialized_view, ...),
// else the resource type (seed, snapshot, source).
func (n *Node) kind() string {
	if n.ResourceType == "model" && n.Config.Materialized != "" {
		return n.Config.Materialized
	}
	return n.ResourceType
}

// isAsset: models (but ephemeral ones), seeds and snapshots are assets.
func (n *Node) isAsset() bool { return n.builds() && !n.ephemeral() }

func (n *Node) ephemeral() bool {
	return n.ResourceType == "model" && n.Config.Materialized == "ephemeral"
}

func (n *Node) groupName() string {
	switch {
	case n.Config.Group != nil && *n.Config.Group != "":
		return *n.Config.Group
	case n.Group != nil:
		return *n.Group
	}
	return ""
}

// appendOwners adds meta.owner: a string, or a list of strings.
func appendOwners(owners []string, v any) []string {
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(owners, s) {
			owners = append(owners, s)
		}
	}
	switch o := v.(type) {
	case string:
		add(o)
	case []any:
		for _, x := range o {
			if s, ok := x.(string); ok {
				add(s)
			}
		}
	}
	return owners
}

// mergeSpec folds b (another node on a's relation) into a.
func mergeSpec(a *asset.Spec, b asset.Spec) {
	if b.Description != "" {
		a.Description = b.Description
	}
	if b.Group != "" {
		a.Group = b.Group
	}
	if b.CodeVersion != "" {
		a.CodeVersion = b.CodeVersion
	}
	if a.Freshness == nil {
		a.Freshness = b.Freshness
	}
	for _, o := range b.Owners {
		if !slices.Contains(a.Owners, o) {
			a.Owners = append(a.Owners, o)
		}
	}
	for _, t := range b.Tags {
		if !slices.Contains(a.Tags, t) {
			a.Tags = append(a.Tags, t)
		}
	}
	for _, k := range b.Kinds {
		if !slices.Contains(a.Kinds, k) {
			a.Kinds = append(a.Kinds, k)
		}
	}
	for _, c := range b.Checks {
		if !slices.ContainsFunc(a.Checks, func(x asset.CheckSpec) bool { return x.Name == c.Name }) {
			a.Checks = append(a.Checks, c)
		}
	}
	if len(b.Columns) > 0 {
		a.Columns = b.Columns
	}
}

func severity(s string) asset.Severity {
	if strings.EqualFold(s, "warn") {
		return asset.SeverityWarn
	}
	return asset.SeverityError
}

// testDescription: the test's own description, else what a generic test
// checks ("not_null of order_id").
func testDescription(n *Node) string {
	if n.Description != "" {
		return n.Description
	}
	if n.TestMetadata == nil {
		return "dbt singular test " + n.Name
	}
	d := "dbt test " + n.TestMetadata.Name
	if n.ColumnName != nil && *n.ColumnName != "" {
		d += " of " + *n.ColumnName
	}
	return d
}

// policy is the source's freshness criteria as a policy: error_after as
// the max lag, warn_after (when shorter) as the warning. A source with
// only warn_after has no policy: Freshet's policies fail, and dbt's
// warning alone must not.
func (f *FreshnessRules) policy() *asset.FreshnessPolicy {
	if f == nil || f.ErrorAfter == nil || f.ErrorAfter.Count == nil {
		return nil
	}
	maxLag, err := f.ErrorAfter.duration()
	if err != nil {
		return nil
	}
	p := &asset.FreshnessPolicy{MaxLag: maxLag}
	if f.WarnAfter != nil && f.WarnAfter.Count != nil {
		if w, err := f.WarnAfter.duration(); err == nil && w < maxLag {
			p.WarnAfter = w
		}
	}
	return p
}

// duration reads {"count": 12, "period": "hour"}.
func (p *Period) duration() (time.Duration, error) {
	var unit time.Duration
	switch p.Period {
	case "minute":
		unit = time.Minute
	case "hour":
		unit = time.Hour
	case "day":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("period must be minute, hour or day, not %q", p.Period)
	}
	n := *p.Count
	if n <= 0 || n > 100_000 {
		return 0, fmt.Errorf("count must be between 1 and 100000, not %d", n)
	}
	return time.Duration(n) * unit, nil
}

func freshnessDescription(p *asset.FreshnessPolicy) string {
	d := "dbt source freshness: error after " + asset.FormatDuration(p.MaxLag)
	if p.WarnAfter > 0 {
		d += ", warn after " + asset.FormatDuration(p.WarnAfter)
	}
	return d
}

// addColumnLineage gives the spec's columns the lineage inferred from the
// node's compiled SQL (inferColumns), over the relations of its deps
// whose columns the manifest declares; a column the SQL selects that the
// spec does not declare is added. It returns how many columns got some.
func addColumnLineage(s *asset.Spec, n *Node, deps []asset.Key, byKey map[asset.Key]*asset.Spec, relations map[asset.Key][]string) int {
	rel := map[string]relationColumns{}
	for _, k := range deps {
		d := byKey[k]
		if d == nil || len(d.Columns) == 0 {
			continue // columns unknown: nothing to resolve against
		}
		cols := make(map[string]string, len(d.Columns))
		for _, c := range d.Columns {
			cols[strings.ToLower(c.Name)] = c.Name
		}
		for _, name := range relations[k] {
			rel[name] = relationColumns{key: k, cols: cols}
		}
	}
	if len(rel) == 0 {
		return 0
	}
	lineage := inferColumns(n.CompiledCode, rel)
	count := 0
	for _, name := range slices.Sorted(maps.Keys(lineage)) {
		i := slices.IndexFunc(s.Columns, func(c asset.Column) bool { return strings.EqualFold(c.Name, name) })
		if i < 0 && len(s.Columns) >= asset.MaxColumns {
			continue
		}
		if i < 0 {
			s.Columns = append(s.Columns, asset.Column{Name: name})
			i = len(s.Columns) - 1
		}
		if len(s.Columns[i].Deps) == 0 {
			s.Columns[i].Deps = lineage[name]
			count++
		}
	}
	return count
}
