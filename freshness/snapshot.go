package freshness

import (
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Source says where an asset's effective policy comes from.
type Source string

const (
	SourceFile Source = "file" // freshet.yaml (per asset or a selection)
	SourceAPI  Source = "api"  // set at run time; overrides the file
)

// EffectivePolicy is the policy that applies to an asset, and its source.
type EffectivePolicy struct {
	Policy asset.FreshnessPolicy `json:"policy"`
	Source Source                `json:"source"`
}

// ErrNoAPIPolicy is returned when removing an API policy that is not set.
var ErrNoAPIPolicy = errors.New("no policy was set through the API for this asset (policies from freshet.yaml are changed there)")

// Snapshot is an immutable view of one evaluation of every asset with a
// policy: what the freshness loop publishes and readers (API, metrics)
// take.
type Snapshot struct {
	At      time.Time
	Results map[asset.Key]Result
	// LastSuccess is each evaluated asset's latest successful
	// materialization (or observation) time.
	LastSuccess map[asset.Key]time.Time
	Groups      map[asset.Key]string
}

// Sorted returns the snapshot's results ordered worst first, then by key.
func (s *Snapshot) Sorted() []Result {
	out := slices.Collect(maps.Values(s.Results))
	slices.SortFunc(out, func(a, b Result) int {
		if a.State != b.State {
			return b.State.Severity() - a.State.Severity()
		}
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out
}
