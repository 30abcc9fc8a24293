package monitor

import (
	"encoding/json"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
)

// changeEvent is the freshness_changed event for r.
func changeEvent(opts Options, now time.Time, r freshness.Result, prev freshness.State, known bool) asset.Event {
	md := asset.Metadata{
		"state":       asset.Text(r.State.String()),
		"reason":      asset.Text(r.Reason),
		"lag_seconds": asset.Float(r.Lag.Seconds()),
	}
	if known {
		md["previous_state"] = asset.Text(prev.String())
	}
	if r.RootCause != "" {
		md["root_cause"] = asset.Text(string(r.RootCause))
	}
	if !r.Deadline.IsZero() {
		md["deadline"] = asset.Text(r.Deadline.UTC().Format(time.RFC3339))
	}
	if !r.DataTime.IsZero() {
		md["data_time"] = asset.Text(r.DataTime.UTC().Format(time.RFC3339Nano))
	}
	if r.PredictedCompletion != nil {
		md["predicted_completion"] = asset.Text(r.PredictedCompletion.UTC().Format(time.RFC3339))
	}
	return asset.Event{
		ID:       opts.NewID(),
		Kind:     asset.KindFreshnessChanged,
		Asset:    r.Key,
		Time:     now.UTC(),
		Metadata: md,
	}
}

// policyEvent records an API policy change: the new policy (absent when
// removed), the effective policy before, and who made the change.
func policyEvent(opts Options, key asset.Key, p *asset.FreshnessPolicy, before freshness.EffectivePolicy, hadBefore bool, actor string) (asset.Event, error) {
	now := opts.Now().UTC()
	md := asset.Metadata{"actor": asset.Text(actor)}
	if p != nil {
		b, err := json.Marshal(p)
		if err != nil {
			return asset.Event{}, err
		}
		md["action"], md["policy"] = asset.Text("set"), asset.JSONValue(string(b))
	} else {
		md["action"] = asset.Text("delete")
	}
	if hadBefore {
		b, err := json.Marshal(before)
		if err != nil {
			return asset.Event{}, err
		}
		md["previous"] = asset.JSONValue(string(b))
	}
	return asset.Event{ID: opts.NewID(), Kind: asset.KindPolicyChanged, Asset: key, Time: now, Metadata: md}, nil
}

// policyFromEvent reads the API policy a policy change left (nil: removed).
func policyFromEvent(e *asset.Event) (*asset.FreshnessPolicy, error) {
	if e.Metadata["action"].Text == "delete" {
		return nil, nil
	}
	var p asset.FreshnessPolicy
	if err := json.Unmarshal([]byte(e.Metadata["policy"].Text), &p); err != nil {
		return nil, err
	}
	return &p, nil
}
