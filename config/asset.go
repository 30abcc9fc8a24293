package config

import (
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
)

// declared is what validation needs to know about an asset beyond its spec:
// where things were written.
type declared struct {
	line  int    // the key's line (the asset's line when key is missing)
	keyOK bool   // the key parsed; only such assets enter the graph
	deps  []item // deps as written, checked once every key is known
	// poolLine is the line of materialize.pool, 0 when not given.
	poolLine int
}

var (
	assetFields       = []string{"key", "description", "group", "owners", "tags", "kinds", "deps", "code_version", "partitions", "freshness", "checks", "materialize"}
	freshnessFields   = []string{"max_lag", "warn_after", "cron", "timezone", "grace"}
	partitionFields   = []string{"type", "start", "values"}
	checkFields       = []string{"name", "description", "severity"}
	materializeFields = []string{"argv", "env", "dir", "timeout", "retries", "pool"}
)

func (d *decoder) asset(n *yaml.Node, path string) (asset.Spec, declared) {
	spec := asset.Spec{Origin: asset.OriginDeclared}
	m := declared{}
	if n = d.resolve(n); n == nil {
		return spec, m
	}
	m.line = n.Line
	fs, ok := d.fields(n, path, assetFields)
	if !ok {
		return spec, m
	}
	if f, ok := fs["key"]; !ok {
		d.addf(n.Line, join(path, "key"), "key is required")
	} else if s, ok := d.str(f.val, join(path, "key")); ok {
		m.line = f.val.Line
		spec.Key = asset.Key(s)
		if _, err := asset.ParseKey(s); err != nil {
			d.addf(f.val.Line, join(path, "key"), "%v", err)
		} else {
			m.keyOK = true
		}
	}
	if f, ok := fs["description"]; ok {
		spec.Description, _ = d.str(f.val, join(path, "description"))
	}
	if f, ok := fs["group"]; ok {
		spec.Group, _ = d.str(f.val, join(path, "group"))
	}
	if f, ok := fs["code_version"]; ok {
		spec.CodeVersion, _ = d.str(f.val, join(path, "code_version"))
	}
	if f, ok := fs["owners"]; ok {
		spec.Owners = d.stringList(f.val, join(path, "owners"))
	}
	if f, ok := fs["tags"]; ok {
		spec.Tags = d.stringList(f.val, join(path, "tags"))
	}
	if f, ok := fs["kinds"]; ok {
		spec.Kinds = d.stringList(f.val, join(path, "kinds"))
	}
	if f, ok := fs["deps"]; ok {
		m.deps = d.list(f.val, join(path, "deps"), false)
	}
	if f, ok := present(d, fs, "partitions"); ok {
		spec.Partitions = d.partitions(f, join(path, "partitions"))
	}
	if f, ok := present(d, fs, "freshness"); ok {
		spec.Freshness = d.freshness(f, join(path, "freshness"))
	}
	if f, ok := fs["checks"]; ok {
		spec.Checks = d.checks(f.val, join(path, "checks"))
	}
	if f, ok := present(d, fs, "materialize"); ok {
		spec.Materialize, m.poolLine = d.materialize(f, join(path, "materialize"))
	}
	return spec, m
}

// present returns an optional block's resolved value; a block written with
// nothing after it (freshness:) is treated as absent.
func present(d *decoder, fs map[string]field, name string) (*yaml.Node, bool) {
	f, ok := fs[name]
	if !ok {
		return nil, false
	}
	n := d.resolve(f.val)
	if n == nil || isNull(n) {
		return nil, false
	}
	return n, true
}

// freshness decodes and compiles a per-asset policy. Compilation errors go
// under the freshness field itself: they are about the combination of its
// fields (warn_after >= max_lag, timezone without cron...).
func (d *decoder) freshness(n *yaml.Node, path string) *asset.FreshnessPolicy {
	fs, ok := d.fields(n, path, freshnessFields)
	if !ok {
		return nil
	}
	p, ok := d.policy(n, fs, path)
	if !ok {
		return nil
	}
	return &p
}

// policy decodes the freshness fields of fs and validates them with
// freshness.CompilePolicy, so that a file that loads is a file whose
// policies the evaluator accepts.
func (d *decoder) policy(n *yaml.Node, fs map[string]field, path string) (asset.FreshnessPolicy, bool) {
	var p asset.FreshnessPolicy
	before := len(d.problems)
	if f, ok := fs["max_lag"]; ok {
		p.MaxLag, _ = d.duration(f.val, join(path, "max_lag"))
	}
	if f, ok := fs["warn_after"]; ok {
		p.WarnAfter, _ = d.duration(f.val, join(path, "warn_after"))
	}
	if f, ok := fs["grace"]; ok {
		p.Grace, _ = d.duration(f.val, join(path, "grace"))
	}
	if f, ok := fs["cron"]; ok {
		p.Cron, _ = d.str(f.val, join(path, "cron"))
	}
	if f, ok := fs["timezone"]; ok {
		p.Timezone, _ = d.str(f.val, join(path, "timezone"))
	}
	if len(d.problems) > before {
		return p, false // field problems already said what is wrong
	}
	if _, err := freshness.CompilePolicy(p); err != nil {
		d.addf(n.Line, path, "%v", err)
		return p, false
	}
	return p, true
}

func (d *decoder) partitions(n *yaml.Node, path string) *asset.PartitionsSpec {
	fs, ok := d.fields(n, path, partitionFields)
	if !ok {
		return nil
	}
	p := &asset.PartitionsSpec{}
	if f, ok := fs["type"]; !ok {
		d.addf(n.Line, join(path, "type"), "type is required: hourly, daily or static")
	} else if s, ok := d.str(f.val, join(path, "type")); ok {
		switch s {
		case "hourly", "daily", "static":
			p.Type = s
		default:
			d.addf(f.val.Line, join(path, "type"), "unknown partition type %q; use hourly, daily or static", s)
		}
	}
	if f, ok := fs["start"]; ok {
		if s, ok := d.str(f.val, join(path, "start")); ok {
			t, err := time.Parse(time.RFC3339, s)
			switch {
			case err != nil:
				d.addf(f.val.Line, join(path, "start"), "start %q is not an RFC 3339 time such as 2026-01-01T00:00:00Z", s)
			case p.Type == "static":
				d.addf(f.val.Line, join(path, "start"), "start applies to hourly and daily partitions, not static")
			default:
				p.Start = t
			}
		}
	} else if p.Type == "hourly" || p.Type == "daily" {
		d.addf(n.Line, join(path, "start"), "start is required for %s partitions", p.Type)
	}
	vpath, vline := join(path, "values"), n.Line
	before := len(d.problems)
	if f, ok := fs["values"]; ok {
		vline = f.val.Line
		items := d.list(f.val, vpath, true)
		if p.Type != "" && p.Type != "static" {
			d.addf(f.key.Line, vpath, "values apply to static partitions, not %s", p.Type)
		}
		seen := make(map[string]int, len(items))
		for i, it := range items {
			if first, dup := seen[it.value]; dup {
				d.addf(it.line, index(vpath, i), "duplicate partition %q (first at line %d)", it.value, first)
				continue
			}
			seen[it.value] = it.line
			p.Values = append(p.Values, it.value)
		}
	}
	if p.Type == "static" && len(p.Values) == 0 && len(d.problems) == before {
		d.addf(vline, vpath, "values is required for static partitions: a non-empty list of partition names")
	}
	return p
}

func (d *decoder) checks(n *yaml.Node, path string) []asset.CheckSpec {
	var out []asset.CheckSpec
	seen := make(map[string]int)
	for i, c := range d.seq(n, path) {
		p := index(path, i)
		if c = d.resolve(c); c == nil {
			continue
		}
		fs, ok := d.fields(c, p, checkFields)
		if !ok {
			continue
		}
		check := asset.CheckSpec{Severity: asset.SeverityError}
		if f, ok := fs["name"]; !ok {
			d.addf(c.Line, join(p, "name"), "name is required")
		} else if s, ok := d.str(f.val, join(p, "name")); ok {
			switch first, dup := seen[s]; {
			case !validCheckName(s):
				d.addf(f.val.Line, join(p, "name"), "invalid check name %q: use letters, digits, '_', '.' and '-'", s)
			case dup:
				d.addf(f.val.Line, join(p, "name"), "duplicate check name %q (first at line %d)", s, first)
			default:
				seen[s] = f.val.Line
			}
			check.Name = s
		}
		if f, ok := fs["description"]; ok {
			check.Description, _ = d.str(f.val, join(p, "description"))
		}
		if f, ok := fs["severity"]; ok {
			if s, ok := d.str(f.val, join(p, "severity")); ok {
				switch sev := asset.Severity(s); sev {
				case "":
				case asset.SeverityWarn, asset.SeverityError:
					check.Severity = sev
				default:
					d.addf(f.val.Line, join(p, "severity"), "unknown severity %q; use warn or error", s)
				}
			}
		}
		out = append(out, check)
	}
	return out
}

// validCheckName: check names travel in events, metric labels and URLs,
// so they stay within a conservative alphabet.
func validCheckName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// materialize decodes a materialize block; poolLine is the line of its pool
// field (0 without one), for checking it against the declared pools.
func (d *decoder) materialize(n *yaml.Node, path string) (m *asset.MaterializeSpec, poolLine int) {
	fs, ok := d.fields(n, path, materializeFields)
	if !ok {
		return nil, 0
	}
	m = &asset.MaterializeSpec{}
	argvPath := join(path, "argv")
	if f, ok := fs["argv"]; ok {
		before := len(d.problems)
		for _, it := range d.list(f.val, argvPath, false) {
			m.Argv = append(m.Argv, it.value)
		}
		switch {
		case len(d.problems) > before:
		case len(m.Argv) == 0:
			d.addf(f.val.Line, argvPath, "argv must not be empty: give the command to run, e.g. [dbt, build]")
		case m.Argv[0] == "":
			d.addf(f.val.Line, index(argvPath, 0), "the program name must not be empty")
		}
	} else {
		d.addf(n.Line, argvPath, "argv is required: the command to run, e.g. [dbt, build]")
	}
	if f, ok := fs["env"]; ok {
		m.Env = d.env(f.val, join(path, "env"))
	}
	if f, ok := fs["dir"]; ok {
		m.Dir, _ = d.str(f.val, join(path, "dir"))
	}
	if f, ok := fs["timeout"]; ok {
		m.Timeout, _ = d.duration(f.val, join(path, "timeout"))
	}
	if f, ok := fs["retries"]; ok {
		m.Retries, _ = d.integer(f.val, join(path, "retries"), 0, 100)
	}
	if f, ok := fs["pool"]; ok {
		m.Pool, _ = d.str(f.val, join(path, "pool"))
		poolLine = f.val.Line
	}
	return m, poolLine
}

// env decodes a map of environment variables. Names are free-form (they are
// the user's), but must be usable in an environment: non-empty, no '='.
func (d *decoder) env(n *yaml.Node, path string) map[string]string {
	if n = d.resolve(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "expected a mapping of NAME: value, got %s", describe(n))
		return nil
	}
	env := make(map[string]string, len(n.Content)/2)
	lines := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.addf(k.Line, path, "variable names must be plain strings, got %s", describeKey(k))
			continue
		}
		p := join(path, k.Value)
		switch first, dup := lines[k.Value]; {
		case k.Value == "" || strings.Contains(k.Value, "="):
			d.addf(k.Line, p, "invalid variable name %q: it must be non-empty and contain no '='", k.Value)
		case dup:
			d.addf(k.Line, p, "duplicate variable %q (first at line %d)", k.Value, first)
		default:
			lines[k.Value] = k.Line
			v, ok := d.str(n.Content[i+1], p)
			if !ok {
				continue
			}
			// ${NAME} is expanded at launch from the server's environment;
			// only its syntax can be checked now.
			if _, err := ExpandEnv(v, func(string) (string, bool) { return "", true }); err != nil {
				d.addf(n.Content[i+1].Line, p, "%v", err)
				continue
			}
			env[k.Value] = v
		}
	}
	return env
}

func describeKey(k *yaml.Node) string {
	if k.ShortTag() == "!!merge" {
		return "a merge key (<<)"
	}
	return describe(k)
}

// selection is a freshness policy for every asset matching all of its
// selectors that has no policy of its own.
type selection struct {
	group, owner, tag, kind string
	prefix                  asset.Key
	policy                  asset.FreshnessPolicy
}

var (
	selectionFields = []string{"select", "max_lag", "warn_after", "cron", "timezone", "grace"}
	selectorFields  = []string{"group", "owner", "tag", "kind", "key_prefix"}
)

func (d *decoder) selection(n *yaml.Node, path string) (selection, bool) {
	var s selection
	if n = d.resolve(n); n == nil {
		return s, false
	}
	fs, ok := d.fields(n, path, selectionFields)
	if !ok {
		return s, false
	}
	before := len(d.problems)
	selPath := join(path, "select")
	if f, ok := fs["select"]; !ok {
		d.addf(n.Line, selPath, "select is required: one or more of %s", strings.Join(selectorFields, ", "))
	} else {
		s, _ = d.selector(f, selPath)
	}
	p, ok := d.policy(n, fs, path)
	if !ok || len(d.problems) > before {
		return s, false
	}
	s.policy = p
	return s, true
}

// selector decodes a select mapping (group, owner, tag, kind,
// key_prefix) at f; an empty one is an error: it would match every asset,
// which is almost always a forgotten selector.
func (d *decoder) selector(f field, selPath string) (selection, bool) {
	var s selection
	before := len(d.problems)
	sel, ok := d.fields(f.val, selPath, selectorFields)
	if !ok {
		return s, false
	}
	if len(sel) == 0 && len(d.problems) == before {
		d.addf(f.key.Line, selPath, "select is empty; give at least one of group, owner, tag, kind, key_prefix")
	}
	for name, f := range sel {
		p := join(selPath, name)
		v, ok := d.str(f.val, p)
		if !ok {
			continue
		}
		if v == "" {
			d.addf(f.val.Line, p, "must not be empty")
			continue
		}
		switch name {
		case "group":
			s.group = v
		case "owner":
			s.owner = v
		case "tag":
			s.tag = v
		case "kind":
			s.kind = v
		case "key_prefix":
			k, err := asset.ParseKey(v)
			if err != nil {
				d.addf(f.val.Line, p, "%v", err)
			}
			s.prefix = k
		}
	}
	return s, len(d.problems) == before
}

func (s *selection) matches(a *asset.Spec) bool {
	return (s.group == "" || a.Group == s.group) &&
		(s.owner == "" || slices.Contains(a.Owners, s.owner)) &&
		(s.tag == "" || slices.Contains(a.Tags, s.tag)) &&
		(s.kind == "" || slices.Contains(a.Kinds, s.kind)) &&
		(s.prefix == "" || a.Key.HasPrefix(s.prefix))
}

// applySelections gives each asset without its own policy the first
// matching selection policy: the file reads top to bottom, most specific
// policy first. Per-asset policies always win.
func applySelections(assets []asset.Spec, sels []selection) {
	for i := range assets {
		if assets[i].Freshness != nil {
			continue
		}
		for j := range sels {
			if sels[j].matches(&assets[i]) {
				p := sels[j].policy // a copy per asset: specs must not share it
				assets[i].Freshness = &p
				break
			}
		}
	}
}
