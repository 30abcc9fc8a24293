package freshness

import (
	"encoding/json"
	"math"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Result is one asset's freshness at one instant, with the why.
type Result struct {
	Key   asset.Key
	State State
	// Lag is now minus DataTime (never negative); zero when UNKNOWN.
	Lag time.Duration
	// DataTime is the data time of the latest success; zero when UNKNOWN.
	DataTime time.Time
	// Deadline is when the asset FAILs unless new data lands: DataTime+max_lag,
	// or the first cron tick its data does not cover. For FAIL it is the
	// deadline already missed. Zero when UNKNOWN.
	Deadline time.Time
	// Reason is for humans: "data is 3h10m old, over max lag 2h; root cause raw/x ...".
	Reason string
	// RootCause is the most upstream asset whose own data is too old for
	// this asset's requirement (see docs/freshness.md), or the asset itself;
	// empty for PASS.
	RootCause asset.Key
	// PredictedCompletion is set for AT_RISK: when a rebuild started now
	// would land, from recent run durations.
	PredictedCompletion *time.Time
	EvaluatedAt         time.Time
	// Base is the state before the AT_RISK prediction: PASS or WARN for an
	// AT_RISK result, State otherwise. The monitor's hysteresis shows it
	// while AT_RISK has not held long enough to be entered. Not in JSON.
	Base State
}

// resultJSON is Result's wire form. Lag travels as seconds because JSON
// readers (the UI, alert templates) should not need to know Go's
// nanosecond durations.
type resultJSON struct {
	Key                 asset.Key  `json:"key"`
	State               State      `json:"state"`
	LagSeconds          float64    `json:"lag_seconds"`
	DataTime            time.Time  `json:"data_time,omitzero"`
	Deadline            time.Time  `json:"deadline,omitzero"`
	Reason              string     `json:"reason"`
	RootCause           asset.Key  `json:"root_cause,omitempty"`
	PredictedCompletion *time.Time `json:"predicted_completion,omitempty"`
	EvaluatedAt         time.Time  `json:"evaluated_at"`
}

// MarshalJSON writes the result with its state as a string, its lag in
// seconds and every time in UTC (cron deadlines are computed in their
// policy's zone; readers should not see two offsets side by side).
func (r Result) MarshalJSON() ([]byte, error) {
	var predicted *time.Time
	if r.PredictedCompletion != nil {
		p := r.PredictedCompletion.UTC()
		predicted = &p
	}
	return json.Marshal(resultJSON{
		Key: r.Key, State: r.State, LagSeconds: r.Lag.Seconds(), DataTime: r.DataTime.UTC(),
		Deadline: r.Deadline.UTC(), Reason: r.Reason, RootCause: r.RootCause,
		PredictedCompletion: predicted, EvaluatedAt: r.EvaluatedAt.UTC(),
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var w resultJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Result{
		Key: w.Key, State: w.State, Lag: time.Duration(math.Round(w.LagSeconds * float64(time.Second))),
		DataTime: w.DataTime, Deadline: w.Deadline, Reason: w.Reason, RootCause: w.RootCause,
		PredictedCompletion: w.PredictedCompletion, EvaluatedAt: w.EvaluatedAt,
	}
	return nil
}
