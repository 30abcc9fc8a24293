package alerts

import (
	"errors"
	"fmt"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Status says whether a notification opens (Firing) or closes (Resolved)
// the incident named by its Key.
type Status string

// The two statuses.
const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Severity grades a notification. The values are PagerDuty's, which the
// other receivers map onto their own scales.
type Severity string

// Severities, most urgent first.
const (
	Critical Severity = "critical"
	Error    Severity = "error"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool {
	switch s {
	case Critical, Error, Warning, Info:
		return true
	}
	return false
}

// Notification is one alert message as the pipeline hands it to receivers.
//
// Key is the stable identity of the incident: the pipeline derives it from
// the root-cause asset and the rule, so every firing and the final resolve of
// one incident carry the same Key, and receivers use it as their dedup key
// (PagerDuty dedup_key, Datadog aggregation key, an Alertmanager label).
// Fields other than Key, Status, Severity and Summary are optional.
type Notification struct {
	Key      string   `json:"key"`
	Status   Status   `json:"status"`
	Severity Severity `json:"severity"`
	// Summary is one line a person reads first (PagerDuty caps it at 1024 bytes).
	Summary string `json:"summary"`

	// RootCause is the most upstream stale asset; Asset is the asset the
	// rule matched (often the same). Impacted lists the downstream assets
	// that are stale because of RootCause.
	RootCause asset.Key   `json:"root_cause,omitempty"`
	Asset     asset.Key   `json:"asset,omitempty"`
	Impacted  []asset.Key `json:"impacted,omitempty"`

	Group  string   `json:"group,omitempty"`  // the asset group, if any
	Rule   string   `json:"rule,omitempty"`   // the name of the rule that fired
	Owners []string `json:"owners,omitempty"` // owners of the asset, e.g. "team:data-eng" or an email

	Lag      time.Duration `json:"lag_ns,omitempty"`  // now - data time of the latest success; 0 if unknown
	Deadline time.Time     `json:"deadline,omitzero"` // when data was due, if a deadline policy applies

	// Links are named URLs: "asset" (the asset's page in Freshet),
	// "runbook", "dashboard", ...
	Links map[string]string `json:"links,omitempty"`

	// StartsAt is when the incident began; EndsAt when it resolved (zero
	// while firing; receivers use the send time when a resolve has none).
	StartsAt time.Time `json:"starts_at,omitzero"`
	EndsAt   time.Time `json:"ends_at,omitzero"`

	// Details are extra facts (policy, reason, run id, ...), shown as is.
	Details map[string]string `json:"details,omitempty"`
}

// ErrInvalid is wrapped by Validate's errors.
var ErrInvalid = errors.New("invalid notification")

// Validate checks the fields every receiver relies on. Receivers reject an
// invalid notification without sending anything.
func (n *Notification) Validate() error {
	switch {
	case n.Key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	case n.Status != Firing && n.Status != Resolved:
		return fmt.Errorf("%w: key %q: status %q is neither %q nor %q", ErrInvalid, n.Key, n.Status, Firing, Resolved)
	case !n.Severity.Valid():
		return fmt.Errorf("%w: key %q: severity %q is not one of critical, error, warning, info", ErrInvalid, n.Key, n.Severity)
	case n.Summary == "":
		return fmt.Errorf("%w: key %q: empty summary", ErrInvalid, n.Key)
	}
	return nil
}

// Subject is the asset a notification is about: its root cause, else the
// matched asset.
func (n *Notification) Subject() asset.Key {
	if n.RootCause != "" {
		return n.RootCause
	}
	return n.Asset
}
