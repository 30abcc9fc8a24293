package asset

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Origin says where a spec came from.
type Origin string

const (
	OriginDeclared   Origin = "declared"   // freshet.yaml
	OriginDiscovered Origin = "discovered" // first seen in an event
	OriginAPI        Origin = "api"
	OriginDBT        Origin = "dbt" // a dbt project's manifest.json (package dbt)
)

// Spec describes an asset: what it is, who owns it, what it depends on and
// (filled in by later stages) how fresh it must be and how to rebuild it.
type Spec struct {
	Key         Key              `json:"key"`
	Description string           `json:"description,omitempty"`
	Group       string           `json:"group,omitempty"`
	Owners      []string         `json:"owners,omitempty"`
	Tags        []string         `json:"tags,omitempty"`
	Kinds       []string         `json:"kinds,omitempty"`
	Deps        []Key            `json:"deps,omitempty"`
	CodeVersion string           `json:"code_version,omitempty"`
	Partitions  *PartitionsSpec  `json:"partitions,omitempty"`
	Freshness   *FreshnessPolicy `json:"freshness,omitempty"`
	Checks      []CheckSpec      `json:"checks,omitempty"`
	Materialize *MaterializeSpec `json:"materialize,omitempty"`
	// Columns are the table's columns as declared (a dbt manifest), with
	// their upstream columns when the declaration gives them.
	Columns []Column `json:"columns,omitempty"`
	Origin  Origin   `json:"origin"`
}

// Clone returns a deep copy: changing it never changes s.
func (s Spec) Clone() Spec {
	s.Owners = slices.Clone(s.Owners)
	s.Tags = slices.Clone(s.Tags)
	s.Kinds = slices.Clone(s.Kinds)
	s.Deps = slices.Clone(s.Deps)
	s.Checks = slices.Clone(s.Checks)
	if s.Columns != nil {
		cols := make([]Column, len(s.Columns))
		for i, c := range s.Columns {
			c.Deps = slices.Clone(c.Deps)
			cols[i] = c
		}
		s.Columns = cols
	}
	if s.Partitions != nil {
		p := *s.Partitions
		p.Values = slices.Clone(p.Values)
		s.Partitions = &p
	}
	if s.Freshness != nil {
		f := *s.Freshness
		s.Freshness = &f
	}
	if s.Materialize != nil {
		m := *s.Materialize
		m.Argv = slices.Clone(m.Argv)
		m.Env = maps.Clone(m.Env)
		s.Materialize = &m
	}
	return s
}

// PartitionsSpec: daily, hourly, or a static list of partition names.
type PartitionsSpec struct {
	Type   string    `json:"type"` // "daily", "hourly" or "static"
	Start  time.Time `json:"start,omitzero"`
	Values []string  `json:"values,omitempty"`
}

// FreshnessPolicy: either a max lag (optionally with an earlier warning) or a
// cron deadline at each tick of which data must be at most MaxLag old.
type FreshnessPolicy struct {
	MaxLag    time.Duration `json:"max_lag"`
	WarnAfter time.Duration `json:"warn_after,omitempty"`
	Cron      string        `json:"cron,omitempty"`
	Timezone  string        `json:"timezone,omitempty"`
	// Grace is how long an asset may stay UNKNOWN (never materialized, or
	// built from a dependency that never was) before it FAILs; 0 means the
	// default, max_lag (for a cron policy without one: until the first
	// tick after it became unknown).
	Grace time.Duration `json:"grace,omitempty"`
}

// CheckSpec declares a data quality check reported against the asset.
type CheckSpec struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Severity    Severity `json:"severity,omitempty"`
}

// MaterializeSpec is the command that rebuilds the asset.
type MaterializeSpec struct {
	Argv    []string          `json:"argv"`
	Env     map[string]string `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
	Timeout time.Duration     `json:"timeout,omitempty"`
	Retries int               `json:"retries,omitempty"`
	Pool    string            `json:"pool,omitempty"`
}

// policyJSON is FreshnessPolicy's wire form: durations as strings such as
// "2h" or "1d12h" (see ParseDuration), which people can read and write.
type policyJSON struct {
	MaxLag    json.RawMessage `json:"max_lag,omitempty"`
	WarnAfter json.RawMessage `json:"warn_after,omitempty"`
	Cron      string          `json:"cron,omitempty"`
	Timezone  string          `json:"timezone,omitempty"`
	Grace     json.RawMessage `json:"grace,omitempty"`
}

// MarshalJSON writes durations as strings.
func (p FreshnessPolicy) MarshalJSON() ([]byte, error) {
	type out struct {
		MaxLag    string `json:"max_lag,omitempty"` // absent: a cron policy's default
		WarnAfter string `json:"warn_after,omitempty"`
		Cron      string `json:"cron,omitempty"`
		Timezone  string `json:"timezone,omitempty"`
		Grace     string `json:"grace,omitempty"`
	}
	o := out{Cron: p.Cron, Timezone: p.Timezone}
	if p.Grace != 0 {
		o.Grace = FormatDuration(p.Grace)
	}
	if p.MaxLag != 0 || p.Cron == "" {
		o.MaxLag = FormatDuration(p.MaxLag)
	}
	if p.WarnAfter != 0 {
		o.WarnAfter = FormatDuration(p.WarnAfter)
	}
	return json.Marshal(o)
}

// UnmarshalJSON reads durations as strings ("90m", "2d") or as integer
// nanoseconds.
func (p *FreshnessPolicy) UnmarshalJSON(b []byte) error {
	var w policyJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	*p = FreshnessPolicy{Cron: w.Cron, Timezone: w.Timezone}
	if p.MaxLag, err = jsonDuration("max_lag", w.MaxLag); err != nil {
		return err
	}
	if p.WarnAfter, err = jsonDuration("warn_after", w.WarnAfter); err != nil {
		return err
	}
	p.Grace, err = jsonDuration("grace", w.Grace)
	return err
}

// materializeJSON is MaterializeSpec's wire form: the timeout as a string
// such as "30m", like every other duration Freshet writes.
type materializeJSON struct {
	Argv    []string          `json:"argv"`
	Env     map[string]string `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
	Timeout json.RawMessage   `json:"timeout,omitempty"`
	Retries int               `json:"retries,omitempty"`
	Pool    string            `json:"pool,omitempty"`
}

// MarshalJSON writes the timeout as a duration string.
func (m MaterializeSpec) MarshalJSON() ([]byte, error) {
	w := materializeJSON{Argv: m.Argv, Env: m.Env, Dir: m.Dir, Retries: m.Retries, Pool: m.Pool}
	if m.Timeout != 0 {
		w.Timeout = json.RawMessage(`"` + FormatDuration(m.Timeout) + `"`)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the timeout as a string, or as integer nanoseconds
// (how specs stored before this form wrote it).
func (m *MaterializeSpec) UnmarshalJSON(b []byte) error {
	var w materializeJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := jsonDuration("timeout", w.Timeout)
	if err != nil {
		return err
	}
	*m = MaterializeSpec{Argv: w.Argv, Env: w.Env, Dir: w.Dir, Timeout: t, Retries: w.Retries, Pool: w.Pool}
	return nil
}

func jsonDuration(field string, raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
		return d, nil
	}
	var ns int64
	if err := json.Unmarshal(raw, &ns); err != nil || ns < 0 {
		return 0, fmt.Errorf("%s must be a duration such as \"2h\" or \"1d\", not %s", field, raw)
	}
	return time.Duration(ns), nil
}
