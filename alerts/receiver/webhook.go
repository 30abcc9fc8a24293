package receiver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/alerts"
)

// Webhook headers.
const (
	// SignatureHeader carries "sha256=" + hex(HMAC-SHA256(secret, raw body)).
	SignatureHeader = "X-Freshet-Signature"
	// KeyHeader carries the notification's Key, for receivers that dedup.
	KeyHeader = "X-Freshet-Key"
)

// WebhookConfig configures a generic webhook receiver.
type WebhookConfig struct {
	// Name is the receiver's name (default "webhook").
	Name string
	// URL receives the POST (required, http or https).
	URL string
	// SecretEnv names the environment variable holding the HMAC key. When
	// set, every request carries SignatureHeader; the secret itself is
	// never sent or logged.
	SecretEnv string
	// Headers are extra request headers (e.g. for an API gateway).
	Headers map[string]string
	// Timeout bounds one POST (default DefaultTimeout); ignored when
	// HTTPClient is set.
	Timeout    time.Duration
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Webhook POSTs each notification as JSON (WebhookPayload) with a
// Slack-compatible "text" field, so a Slack or Mattermost incoming webhook
// URL works as is, and signs the body when a secret is configured.
type Webhook struct {
	name    string
	url     string
	secret  secret
	headers http.Header
	client  *http.Client
	log     *slog.Logger
}

// WebhookPayload is the webhook body: the notification in snake_case plus
// "text", a Slack mrkdwn rendering of it. Times are RFC 3339; empty fields
// are left out.
type WebhookPayload struct {
	Text       string            `json:"text"`
	Version    int               `json:"version"` // 1; bumped on incompatible change
	Key        string            `json:"key"`
	Status     alerts.Status     `json:"status"`
	Severity   alerts.Severity   `json:"severity"`
	Summary    string            `json:"summary"`
	RootCause  string            `json:"root_cause,omitempty"`
	Asset      string            `json:"asset,omitempty"`
	Group      string            `json:"group,omitempty"`
	Rule       string            `json:"rule,omitempty"`
	Owners     []string          `json:"owners,omitempty"`
	Impacted   []string          `json:"impacted,omitempty"`
	LagSeconds float64           `json:"lag_seconds,omitempty"`
	Deadline   time.Time         `json:"deadline,omitzero"`
	Links      map[string]string `json:"links,omitempty"`
	StartsAt   time.Time         `json:"starts_at,omitzero"`
	EndsAt     time.Time         `json:"ends_at,omitzero"`
	Details    map[string]string `json:"details,omitempty"`
}

// NewWebhook reads the secret, if any, and builds the receiver.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	w := &Webhook{name: cfg.Name, client: httpClient(cfg.HTTPClient, cfg.Timeout), log: orDefault(cfg.Logger), headers: http.Header{}}
	if w.name == "" {
		w.name = "webhook"
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: URL %q: want http(s)://host[:port]/path", w.name, cfg.URL)
	}
	w.url = u.String()
	if cfg.SecretEnv != "" {
		if w.secret, err = readSecret(w.name, "signing secret", cfg.SecretEnv); err != nil {
			return nil, err
		}
	}
	for k, v := range cfg.Headers {
		w.headers.Set(k, v)
	}
	// The URL's path may itself be a secret (Slack's are); log the host only.
	w.log.Info("webhook receiver ready", "receiver", w.name, "host", u.Host, "secret_env", cfg.SecretEnv)
	return w, nil
}

// Name implements alerts.Receiver.
func (w *Webhook) Name() string { return w.name }

// Payload builds the body sent for n.
func (w *Webhook) Payload(n *alerts.Notification) WebhookPayload {
	p := WebhookPayload{
		Text: slackText(n), Version: 1,
		Key: n.Key, Status: n.Status, Severity: n.Severity, Summary: n.Summary,
		RootCause: string(n.RootCause), Asset: string(n.Asset), Group: n.Group, Rule: n.Rule,
		Owners: n.Owners, LagSeconds: n.Lag.Seconds(), Deadline: n.Deadline, Links: n.Links,
		StartsAt: n.StartsAt, EndsAt: n.EndsAt, Details: n.Details,
	}
	if len(n.Impacted) > 0 {
		p.Impacted = keyStrings(n.Impacted)
	}
	if n.Status == alerts.Resolved {
		p.EndsAt = endsAt(n, time.Now())
	}
	return p
}

// Sign returns the SignatureHeader value for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Send implements alerts.Receiver.
func (w *Webhook) Send(ctx context.Context, n alerts.Notification) error {
	if err := n.Validate(); err != nil {
		return alerts.Reject(w.name, &n, err)
	}
	body, err := json.Marshal(w.Payload(&n))
	if err != nil {
		return alerts.Reject(w.name, &n, fmt.Errorf("encode: %w", err))
	}
	h := w.headers.Clone()
	h.Set(KeyHeader, n.Key)
	if w.secret.value != "" {
		h.Set(SignatureHeader, Sign([]byte(w.secret.value), body))
	}
	_, err = postJSON(ctx, w.client, w.name, n.Key, w.url, body, h, w.secret.redact)
	logResult(w.log, w.name, &n, err)
	return err
}

// slackText renders n in Slack mrkdwn.
func slackText(n *alerts.Notification) string {
	icon := map[alerts.Severity]string{alerts.Critical: ":red_circle:", alerts.Error: ":red_circle:",
		alerts.Warning: ":large_orange_circle:", alerts.Info: ":large_blue_circle:"}[n.Severity]
	if n.Status == alerts.Resolved {
		icon = ":white_check_mark:"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s *[%s %s]* %s", icon, strings.ToUpper(string(n.Status)), n.Severity, slackEscape(n.Summary))
	if n.RootCause != "" {
		fmt.Fprintf(&b, "\n*Root cause:* `%s`", slackEscape(string(n.RootCause)))
	}
	if n.Status == alerts.Firing && n.Lag > 0 {
		fmt.Fprintf(&b, "\n*Lag:* %s", fmtLag(n.Lag))
	}
	if n.Status == alerts.Firing && !n.Deadline.IsZero() {
		fmt.Fprintf(&b, "\n*Deadline:* %s", n.Deadline.UTC().Format(time.RFC3339))
	}
	if len(n.Impacted) > 0 {
		fmt.Fprintf(&b, "\n*Impacted (%d):* %s", len(n.Impacted), slackEscape(joinKeys(n.Impacted)))
	}
	if len(n.Owners) > 0 {
		fmt.Fprintf(&b, "\n*Owners:* %s", slackEscape(strings.Join(n.Owners, ", ")))
	}
	for _, k := range sortedKeys(n.Links) {
		fmt.Fprintf(&b, "\n<%s|%s>", n.Links[k], slackEscape(k))
	}
	return b.String()
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

var _ alerts.Receiver = (*Webhook)(nil)
