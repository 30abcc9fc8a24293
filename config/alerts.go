package config

import (
	"slices"
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
	// ReceiverLog writes notifications to the server's log: for trying
	// rules out (the demo uses it); it has no block.
	ReceiverLog = "log"
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

// Matches reports whether spec is selected: its key is one of Keys (when
// Keys is set) and every other selector set matches, as in
// freshness_policies (KeyPrefix matches the key itself and keys under it).
// A nil Selector matches every asset.
func (s *Selector) Matches(spec asset.Spec) bool {
	if s == nil {
		return true
	}
	if len(s.Keys) > 0 && !slices.Contains(s.Keys, spec.Key) {
		return false
	}
	sel := selection{group: s.Group, owner: s.Owner, tag: s.Tag, kind: s.Kind, prefix: s.KeyPrefix}
	return sel.matches(&spec)
}

// Contains reports whether t falls in a quiet window.
//
// A window opens at Start on each of Days (every day when Days is empty)
// and closes at End the same day, or the next day when End is not after
// Start: with Days [sat, sun], 22:00 to 07:00 covers Saturday 22:00 to
// Sunday 07:00 and Sunday 22:00 to Monday 07:00. Start and End are wall
// clock times in Location (UTC when nil), so a window keeps its clock
// times across DST changes and lasts an hour more or less that night; a
// time that does not exist that day (02:30 when clocks jump from 02:00 to
// 03:00) moves forward by the jump, and one that occurs twice is its
// second occurrence. Start equal to End is an empty window.
func (q *QuietHours) Contains(t time.Time) bool {
	_, ok := q.window(t)
	return ok
}

// EndOf returns when the quiet hours that t falls in end: the end of its
// window, or of the window after that when the next one opens as it closes
// (00:00 to 24:00 on consecutive days). It returns t when t is not in a
// window, so EndOf(now) is always when a held notification may go. It
// follows at most a week of back-to-back windows: for quiet hours that
// never end (00:00 to 24:00 every day) it returns the end of the eighth.
//
// (A method cannot be named End: that is the field.)
func (q *QuietHours) EndOf(t time.Time) time.Time {
	end, ok := q.window(t)
	if !ok {
		return t
	}
	for range 7 {
		next, ok := q.window(end)
		if !ok {
			break
		}
		end = next
	}
	return end
}

// window returns the end of the window containing t.
func (q *QuietHours) window(t time.Time) (end time.Time, ok bool) {
	if q == nil || q.Start == q.End {
		return time.Time{}, false
	}
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	// A window containing t opened on t's date or the day before; a
	// window's start never moves to an earlier date (DST gaps move times
	// forward).
	for _, day := range []int{d - 1, d} {
		if len(q.Days) > 0 && !slices.Contains(q.Days, time.Date(y, m, day, 12, 0, 0, 0, time.UTC).Weekday()) {
			continue
		}
		// time.Date normalizes the nanoseconds on the wall clock, so these
		// are clock readings on that date, whatever DST does.
		start := time.Date(y, m, day, 0, 0, 0, int(q.Start), loc)
		endDay := day
		if q.End <= q.Start {
			endDay++
		}
		end := time.Date(y, m, endDay, 0, 0, 0, int(q.End), loc)
		if !t.Before(start) && t.Before(end) {
			return end, true
		}
	}
	return time.Time{}, false
}
