package receiver

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/asset"
)

// describe renders a notification as plain text, one fact a line, for the
// bodies that take free text (Alertmanager description, Datadog event text).
func describe(n *alerts.Notification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", strings.ToUpper(string(n.Status)), n.Severity, n.Summary)
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "\n%s: %s", label, value)
		}
	}
	line("Root cause", string(n.RootCause))
	if n.Asset != n.RootCause {
		line("Asset", string(n.Asset))
	}
	line("Group", n.Group)
	line("Rule", n.Rule)
	if n.Lag > 0 {
		line("Lag", fmtLag(n.Lag))
	}
	if !n.Deadline.IsZero() {
		line("Deadline", n.Deadline.UTC().Format(time.RFC3339))
	}
	if len(n.Impacted) > 0 {
		line(fmt.Sprintf("Impacted (%d)", len(n.Impacted)), joinKeys(n.Impacted))
	}
	line("Owners", strings.Join(n.Owners, ", "))
	for _, k := range sortedKeys(n.Links) {
		line(k, n.Links[k])
	}
	for _, k := range sortedKeys(n.Details) {
		line(k, n.Details[k])
	}
	return b.String()
}

// details is the structured form of a notification's facts, for PagerDuty's
// custom_details. Empty facts are left out.
func details(n *alerts.Notification) map[string]any {
	d := map[string]any{"key": n.Key}
	put := func(k string, v any, ok bool) {
		if ok {
			d[k] = v
		}
	}
	put("root_cause", string(n.RootCause), n.RootCause != "")
	put("asset", string(n.Asset), n.Asset != "")
	put("group", n.Group, n.Group != "")
	put("rule", n.Rule, n.Rule != "")
	put("lag", fmtLag(n.Lag), n.Lag > 0)
	put("lag_seconds", n.Lag.Seconds(), n.Lag > 0)
	put("deadline", n.Deadline.UTC().Format(time.RFC3339), !n.Deadline.IsZero())
	put("impacted", keyStrings(n.Impacted), len(n.Impacted) > 0)
	put("impacted_count", len(n.Impacted), len(n.Impacted) > 0)
	put("owners", n.Owners, len(n.Owners) > 0)
	put("links", n.Links, len(n.Links) > 0)
	put("details", n.Details, len(n.Details) > 0)
	return d
}

// fmtLag prints a lag rounded to the second ("2h3m0s").
func fmtLag(d time.Duration) string { return d.Round(time.Second).String() }

func keyStrings(keys []asset.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}

func joinKeys(keys []asset.Key) string { return strings.Join(keyStrings(keys), ", ") }

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// endsAt is when a resolved notification ended: its EndsAt, else now.
func endsAt(n *alerts.Notification, now time.Time) time.Time {
	if !n.EndsAt.IsZero() {
		return n.EndsAt
	}
	return now
}
