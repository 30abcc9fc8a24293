package config

import (
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Alerting is the alerts block of freshet.yaml: where notifications go
// (receivers) and what sends them there (rules). See docs/alerts.md.
type Alerting struct {
	Receivers []Receiver
	Rules     []AlertRule
}

// Receiver types.
const (
	ReceiverPagerDuty    = "pagerduty"
	ReceiverDatadog      = "datadog"
	ReceiverAlertmanager = "alertmanager"
	ReceiverWebhook      = "webhook"
)

// Receiver is one destination. Exactly one of the type blocks is set,
// the one Type names. Secrets are never in the file: fields ending in Env
// name the environment variable that holds them.
type Receiver struct {
	Name string
	Type string
	// RatePerMinute caps the notifications sent to it (0: no cap).
	RatePerMinute int

	PagerDuty    *PagerDutyReceiver
	Datadog      *DatadogReceiver
	Alertmanager *AlertmanagerReceiver
	Webhook      *WebhookReceiver
}

// PagerDutyReceiver: Events API v2.
type PagerDutyReceiver struct {
	RoutingKeyEnv string        // required
	Endpoint      string        // default https://events.pagerduty.com (EU: https://events.eu.pagerduty.com)
	Source        string        // default: the server's hostname
	Timeout       time.Duration // default 10s
}

// DatadogReceiver: DogStatsD over UDP (host:port) or a unix socket
// (unix:///path).
type DatadogReceiver struct {
	Addr string // default 127.0.0.1:8125
	Tags []string
}

// AlertmanagerReceiver: Alertmanager API v2 (POST /api/v2/alerts).
type AlertmanagerReceiver struct {
	URLs         []string // required, one per Alertmanager of an HA pair
	GeneratorURL string   // default: the server's own URL
	Timeout      time.Duration
}

// WebhookReceiver: JSON POST, HMAC-SHA256 signed when SecretEnv is set.
type WebhookReceiver struct {
	URL       string // required
	SecretEnv string
	Headers   map[string]string
	Timeout   time.Duration
}

// Conditions a rule fires on.
const (
	WhenFreshnessFail    = "freshness_fail"    // state FAIL (UNKNOWN past its grace included)
	WhenFreshnessAtRisk  = "freshness_at_risk" // state AT_RISK
	WhenFreshnessWarn    = "freshness_warn"    // state WARN
	WhenFreshnessUnknown = "freshness_unknown" // state UNKNOWN (within its grace)
	WhenMaterialization  = "materialization_failed"
	WhenCheckFailed      = "check_failed" // the latest result of a check failed, at CheckSeverity or above
	WhenRunFailed        = "run_failed"   // an executor run the asset was a step of failed
)

// AlertRule says which conditions of which assets notify which receivers.
type AlertRule struct {
	Name string
	When []string // one or more When* conditions
	// CheckSeverity is the least check severity check_failed fires on
	// (default error).
	CheckSeverity asset.Severity
	// Select chooses the assets; nil matches every asset.
	Select    *Selector
	Receivers []string // receiver names, at least one
	// Severity is the notification's severity: critical, error, warning
	// or info (default: error for FAIL and failures, warning otherwise).
	Severity string
	// RepeatInterval re-sends a still-firing alert this often (0: never).
	RepeatInterval time.Duration
	// QuietHours holds notifications back in a daily window; they are
	// sent when it ends if still firing. nil: none.
	QuietHours *QuietHours
}

// Selector matches assets by key, prefix, group, owner, tag and kind;
// every field set must match.
type Selector struct {
	Keys      []asset.Key
	KeyPrefix asset.Key
	Group     string
	Owner     string
	Tag       string
	Kind      string
}

// QuietHours is a daily window, in a time zone, on some weekdays.
type QuietHours struct {
	Start, End time.Duration // since midnight; End before Start wraps past midnight
	Location   *time.Location
	Days       []time.Weekday // empty: every day
}
