package asset

import "time"

// Origin says where a spec came from.
type Origin string

const (
	OriginDeclared   Origin = "declared"   // freshet.yaml
	OriginDiscovered Origin = "discovered" // first seen in an event
	OriginAPI        Origin = "api"
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
	Origin      Origin           `json:"origin"`
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
