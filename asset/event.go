package asset

import (
	"time"

	"github.com/google/uuid"
)

// NewEventID returns a UUIDv7: unique, and time-ordered so ids assigned by
// the server sort roughly by arrival (and cluster in the ClickHouse id
// index).
func NewEventID() string {
	id, err := uuid.NewV7()
	if err != nil { // only if the system's randomness fails
		return uuid.NewString()
	}
	return id.String()
}

// Later reports whether the event at (t, id) comes after the one at
// (t2, id2) in history order: by time, ties broken by id. Every "latest"
// in Freshet (catalog, stores, freshness) means this order.
func Later(t time.Time, id string, t2 time.Time, id2 string) bool {
	if !t.Equal(t2) {
		return t.After(t2)
	}
	return id > id2
}

// After reports whether e comes after o in history order (see Later).
func (e *Event) After(o *Event) bool { return Later(e.Time, e.ID, o.Time, o.ID) }

// Kind is what an event records.
type Kind string

// Event kinds. The first four come from clients; the rest are written by
// Freshet itself (executor, freshness evaluator, alerts) in later stages.
const (
	KindMaterialization       Kind = "materialization"
	KindMaterializationFailed Kind = "materialization_failed"
	KindObservation           Kind = "observation"
	KindCheckResult           Kind = "check_result"
	KindRunStarted            Kind = "run_started"
	KindRunSucceeded          Kind = "run_succeeded"
	KindRunFailed             Kind = "run_failed"
	KindRunCanceled           Kind = "run_canceled"
	KindFreshnessChanged      Kind = "freshness_changed"
	KindPolicyChanged         Kind = "freshness_policy_changed" // an SLA set or removed through the API: the audit trail
	KindAlertSent             Kind = "alert_sent"
	// KindAutomationDecision records what the automation decided for an
	// asset (requested a run, waiting, declined) and why.
	KindAutomationDecision Kind = "automation_decision"
)

// ClientKinds are the kinds a client may send to the events API.
var ClientKinds = []Kind{KindMaterialization, KindMaterializationFailed, KindObservation, KindCheckResult}

// IsClientKind reports whether k may be sent by a client.
func IsClientKind(k Kind) bool {
	for _, c := range ClientKinds {
		if c == k {
			return true
		}
	}
	return false
}

// Severity of a check result.
type Severity string

const (
	SeverityWarn  Severity = "warn"
	SeverityError Severity = "error"
)

// CheckResult is the outcome of one data quality check on an asset.
type CheckResult struct {
	Name     string   `json:"name"`
	Passed   bool     `json:"passed"`
	Severity Severity `json:"severity,omitempty"`
}

// Event is an immutable fact about an asset. ID is unique: storing an event
// whose ID is already stored is a no-op, which makes client retries and
// write-ahead-log replays safe.
type Event struct {
	ID        string       `json:"id"`
	Kind      Kind         `json:"kind"`
	Asset     Key          `json:"asset"`
	Time      time.Time    `json:"time"`
	RunID     string       `json:"run_id,omitempty"`
	Partition string       `json:"partition,omitempty"`
	DataTime  *time.Time   `json:"data_time,omitempty"` // the time the data is current as of, when known
	Upstream  []Key        `json:"upstream,omitempty"`  // assets this materialization consumed
	Metadata  Metadata     `json:"metadata,omitempty"`
	Check     *CheckResult `json:"check,omitempty"`
}

// Edge is a lineage edge: Upstream feeds Downstream.
type Edge struct {
	Upstream   Key `json:"upstream"`
	Downstream Key `json:"downstream"`
}
