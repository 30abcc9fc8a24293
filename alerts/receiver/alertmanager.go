package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/alerts"
)

// AlertmanagerConfig configures an Alertmanager API v2 receiver.
type AlertmanagerConfig struct {
	// Name is the receiver's name (default "alertmanager").
	Name string
	// URLs are the base URLs of the Alertmanagers ("http://am-0:9093");
	// /api/v2/alerts is appended. At least one is required.
	URLs []string
	// GeneratorURL is the alerts' generatorURL when a notification has no
	// "asset" link (e.g. Freshet's external URL).
	GeneratorURL string
	// FiringEndsAfter, when set, gives firing alerts endsAt = send time +
	// FiringEndsAfter. Alertmanager resolves a firing alert by itself at its
	// endsAt, or resolve_timeout (5m by default) after it was last received
	// when there is none, so firing notifications must be sent again within
	// that time while the incident lasts (Prometheus re-sends every
	// evaluation for the same reason).
	FiringEndsAfter time.Duration
	// Timeout bounds one POST (default DefaultTimeout); ignored when
	// HTTPClient is set.
	Timeout    time.Duration
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Alertmanager pushes notifications to Alertmanager's API v2 (POST
// /api/v2/alerts), as Prometheus does: the same one-alert array to every
// URL. The labels (alertname, asset, root_cause, rule, severity, group,
// dedup_key) are the alert's identity in Alertmanager, so a resolve carries
// the same ones with endsAt set.
//
// With several URLs (an HA cluster) a notification is delivered when one
// Alertmanager accepted it, as in Prometheus' notifier, since the cluster
// gossips it to the rest; the failures are logged. When all fail, it is
// retryable if any failure was, else rejected.
type Alertmanager struct {
	name    string
	urls    []string
	gen     string
	endsAft time.Duration
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
}

// AlertmanagerAlert is one element of the POST /api/v2/alerts body
// (postableAlert in Alertmanager's OpenAPI document).
type AlertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// NewAlertmanager checks the URLs and builds the receiver.
func NewAlertmanager(cfg AlertmanagerConfig) (*Alertmanager, error) {
	a := &Alertmanager{name: cfg.Name, gen: cfg.GeneratorURL, endsAft: cfg.FiringEndsAfter,
		client: httpClient(cfg.HTTPClient, cfg.Timeout), log: orDefault(cfg.Logger), now: time.Now}
	if a.name == "" {
		a.name = "alertmanager"
	}
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("%s: no Alertmanager URL", a.name)
	}
	for _, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: Alertmanager URL %q: want http(s)://host[:port][/path]", a.name, raw)
		}
		a.urls = append(a.urls, strings.TrimRight(u.String(), "/")+"/api/v2/alerts")
	}
	a.log.Info("alertmanager receiver ready", "receiver", a.name, "urls", a.urls)
	return a, nil
}

// Name implements alerts.Receiver.
func (a *Alertmanager) Name() string { return a.name }

// Alert builds the alert sent for n.
func (a *Alertmanager) Alert(n *alerts.Notification) AlertmanagerAlert {
	now := a.now()
	labels := map[string]string{"alertname": "FreshetAlert", "severity": string(n.Severity), "dedup_key": n.Key}
	if n.Rule != "" {
		labels["alertname"] = n.Rule
	}
	// Alertmanager ignores empty label values; leave them out.
	for k, v := range map[string]string{"asset": string(n.Asset), "root_cause": string(n.RootCause), "rule": n.Rule, "group": n.Group} {
		if v != "" {
			labels[k] = v
		}
	}
	ann := map[string]string{"summary": n.Summary, "description": describe(n)}
	if len(n.Impacted) > 0 {
		ann["impacted"] = joinKeys(n.Impacted)
	}
	if len(n.Owners) > 0 {
		ann["owners"] = strings.Join(n.Owners, ", ")
	}
	if n.Lag > 0 {
		ann["lag"] = fmtLag(n.Lag)
	}
	if !n.Deadline.IsZero() {
		ann["deadline"] = n.Deadline.UTC().Format(time.RFC3339)
	}
	if u := n.Links["runbook"]; u != "" {
		ann["runbook_url"] = u
	}
	al := AlertmanagerAlert{Labels: labels, Annotations: ann, StartsAt: n.StartsAt, GeneratorURL: a.gen}
	if u := n.Links["asset"]; u != "" {
		al.GeneratorURL = u
	}
	if al.StartsAt.IsZero() {
		al.StartsAt = now
	}
	switch {
	case n.Status == alerts.Resolved:
		al.EndsAt = endsAt(n, now)
	case a.endsAft > 0:
		al.EndsAt = now.Add(a.endsAft)
	}
	return al
}

// Send implements alerts.Receiver.
func (a *Alertmanager) Send(ctx context.Context, n alerts.Notification) error {
	if err := n.Validate(); err != nil {
		return alerts.Reject(a.name, &n, err)
	}
	body, err := json.Marshal([]AlertmanagerAlert{a.Alert(&n)})
	if err != nil {
		return alerts.Reject(a.name, &n, fmt.Errorf("encode: %w", err))
	}
	var errs []error
	retry := false
	for _, u := range a.urls {
		_, err := postJSON(ctx, a.client, a.name, n.Key, u, body, nil, noRedact)
		if err == nil {
			a.log.Debug("alert delivered", "receiver", a.name, "key", n.Key, "status", string(n.Status), "url", u)
			continue
		}
		logResult(a.log, a.name, &n, err, "url", u)
		retry = retry || alerts.Classify(err) == alerts.Retryable
		errs = append(errs, err)
	}
	if len(errs) < len(a.urls) {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	out := &alerts.DeliveryError{Receiver: a.name, Key: n.Key, Outcome: alerts.Rejected, Err: errors.Join(errs...)}
	if retry {
		out.Outcome = alerts.Retryable
	}
	for _, e := range errs { // the longest wait asked for
		out.Wait = max(out.Wait, alerts.RetryAfter(e))
	}
	return out
}

var _ alerts.Receiver = (*Alertmanager)(nil)
