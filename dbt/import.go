package dbt

import (
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Artifacts are the files of one dbt invocation's target/ directory, as
// read. Manifest is required; RunResults and Sources are optional.
type Artifacts struct {
	Manifest   []byte
	RunResults []byte
	Sources    []byte
}

// Options tune the mapping.
type Options struct {
	// Namespace is the warehouse's OpenLineage namespace (what dbt-ol
	// reports, e.g. "postgres://warehouse:5432"); when set, keys are the
	// ones dbt-ol's events use (see Key).
	Namespace string
	// Now bounds event times (at most five minutes ahead); zero: time.Now.
	Now time.Time
}

// Import is what a dbt project's artifacts make.
type Import struct {
	Project string // metadata.project_name
	Specs   []asset.Spec
	Events  []asset.Event
	Counts  Counts
}

// Map reads and maps the artifacts. Nothing is partial: an error (a
// *FieldError) means nothing of them may be stored.
func Map(a Artifacts, opts Options) (*Import, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	m, err := DecodeManifest(a.Manifest)
	if err != nil {
		return nil, err
	}
	p, err := mapManifest(m, opts.Namespace)
	if err != nil {
		return nil, err
	}
	out := &Import{Project: m.ProjectName, Specs: p.specs}
	out.Counts.Assets = len(p.specs)
	out.Counts.ColumnLineage = p.inferred
	for _, s := range p.specs {
		out.Counts.Checks += len(s.Checks)
	}
	if len(a.RunResults) > 0 {
		evs, c, err := p.runEvents(a.RunResults, m, opts.Now)
		if err != nil {
			return nil, err
		}
		out.Events = append(out.Events, evs...)
		out.Counts.add(c)
	}
	if len(a.Sources) > 0 {
		evs, c, err := p.sourceEvents(a.Sources, m, opts.Now)
		if err != nil {
			return nil, err
		}
		out.Events = append(out.Events, evs...)
		out.Counts.add(c)
	}
	return out, nil
}

func (c *Counts) add(o Counts) {
	c.Materializations += o.Materializations
	c.Failures += o.Failures
	c.Tests += o.Tests
	c.TestsFailed += o.TestsFailed
	c.Observations += o.Observations
	c.Skipped += o.Skipped
}
