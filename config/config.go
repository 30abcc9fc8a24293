// Package config loads freshet.yaml, the file that declares assets, their
// dependencies, freshness policies, checks and how to rebuild them.
//
// Loading never stops at the first mistake: Parse walks the whole YAML tree
// and returns every problem, each with its line and field path, so one run
// of `freshet check-config` shows everything to fix. See docs/config.md for
// the schema.
package config

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/freshet-dev/freshet/asset"
)

// File is a valid definitions file.
type File struct {
	Name   string       // as given to Parse or Load
	Assets []asset.Spec // in file order, each with Origin asset.OriginDeclared

	// MaxConcurrent bounds how many steps the executor runs at once; 0 when
	// the file does not say (the executor then uses the CPU count).
	MaxConcurrent int
	// Pools are the named concurrency limits (pools:), nil when none.
	Pools map[string]Pool
	// Automation says whether stale assets are rebuilt automatically
	// (off unless the file turns it on).
	Automation Automation
	// Alerts are the alert receivers and rules (empty: nothing is sent).
	Alerts Alerting
	// OpenLineage says where runs' OpenLineage events go; nil: nowhere.
	OpenLineage *OpenLineage
	// Executor says where materialize commands run (executor:; local
	// child processes unless it says kubernetes).
	Executor Executor
	// Retention says how long history is kept (zero: forever).
	Retention Retention

	sels []selection
}

// SelectPolicy returns the first selection policy (freshness_policies)
// that matches s, as a copy, or nil. Declared assets already carry theirs;
// this is for assets that appear later, through events or the API, so a
// selection covers them from the moment they are known.
func (f *File) SelectPolicy(s asset.Spec) *asset.FreshnessPolicy {
	if f == nil || s.Freshness != nil {
		return s.Freshness
	}
	for i := range f.sels {
		if f.sels[i].matches(&s) {
			p := f.sels[i].policy
			return &p
		}
	}
	return nil
}

// HasSelections reports whether the file has freshness_policies.
func (f *File) HasSelections() bool { return f != nil && len(f.sels) > 0 }

// Load reads and parses the file at path. An unreadable file is a plain
// error; an invalid one is a Problems.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a definitions file; name only labels problems.
// When anything is wrong it returns a nil File and a Problems listing every
// problem found, sorted by line.
func Parse(name string, data []byte) (*File, error) {
	d := &decoder{file: name}
	f := &File{Name: name}
	if root := d.parseYAML(data); root != nil {
		assets, decl, sels := d.top(root, f)
		d.validate(assets, decl)
		d.checkPools(assets, decl, d.poolNames)
		applySelections(assets, sels)
		d.checkRetention(f.Retention, assets, sels)
		f.Assets, f.sels = assets, sels
	}
	if len(d.problems) > 0 {
		return nil, sortProblems(d.problems)
	}
	return f, nil
}

var topFields = []string{"assets", "freshness_policies", "max_concurrent", "pools", "automation", "alerts", "openlineage", "executor", "retention"}

// top decodes the top-level mapping; the executor limits go straight to f.
func (d *decoder) top(root *yaml.Node, f *File) ([]asset.Spec, []declared, []selection) {
	if root = d.resolve(root); root == nil {
		return nil, nil, nil
	}
	if !isNull(root) && root.Kind != yaml.MappingNode {
		d.addf(root.Line, "", "expected a mapping with an assets list at the top of the file, got %s", describe(root))
		return nil, nil, nil
	}
	fs, _ := d.fields(root, "", topFields)
	if v, ok := fs["max_concurrent"]; ok {
		f.MaxConcurrent, _ = d.integer(v.val, "max_concurrent", 1, maxLimit)
	}
	if v, ok := fs["pools"]; ok {
		f.Pools, d.poolNames = d.pools(v.val, "pools")
	}
	if v, ok := fs["automation"]; ok {
		f.Automation = d.automation(v.val, "automation")
	}
	if v, ok := fs["alerts"]; ok {
		f.Alerts = d.alerting(v.val, "alerts")
	}
	if v, ok := fs["openlineage"]; ok {
		f.OpenLineage = d.openLineage(v.val, "openlineage")
	}
	f.Executor = Executor{Launcher: LauncherLocal}
	if v, ok := fs["executor"]; ok {
		f.Executor = d.executor(v.val, "executor")
	}
	if v, ok := fs["retention"]; ok {
		f.Retention = d.retention(v.val, "retention")
	}
	var (
		assets []asset.Spec
		decl   []declared
		sels   []selection
	)
	if v, ok := fs["assets"]; ok {
		for i, n := range d.seq(v.val, "assets") {
			a, m := d.asset(n, index("assets", i))
			assets = append(assets, a)
			decl = append(decl, m)
		}
	}
	if v, ok := fs["freshness_policies"]; ok {
		for i, n := range d.seq(v.val, "freshness_policies") {
			if s, ok := d.selection(n, index("freshness_policies", i)); ok {
				sels = append(sels, s)
			}
		}
	}
	return assets, decl, sels
}

// seq returns the items of a list (none for null), reporting anything else.
func (d *decoder) seq(n *yaml.Node, path string) []*yaml.Node {
	if n = d.resolve(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, path, "expected a list, got %s", describe(n))
		return nil
	}
	return n.Content
}
