package receiver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/freshet-dev/freshet/alerts"
)

// PagerDuty endpoints for the Events API v2 (the client appends /v2/enqueue).
const (
	PagerDutyEventsUS = "https://events.pagerduty.com"
	PagerDutyEventsEU = "https://events.eu.pagerduty.com"
)

// PagerDutyConfig configures a PagerDuty Events API v2 receiver.
type PagerDutyConfig struct {
	// Name is the receiver's name in logs and delivery records (default "pagerduty").
	Name string
	// RoutingKeyEnv names the environment variable holding the integration's
	// routing key (required). The key is read once by NewPagerDuty and never
	// logged; only this name is.
	RoutingKeyEnv string
	// Endpoint is the Events API base URL (default PagerDutyEventsUS; use
	// PagerDutyEventsEU for EU accounts).
	Endpoint string
	// Source is payload.source, "the unique location of the affected
	// system" (default "freshet").
	Source string
	// Client is payload's client name shown in PagerDuty (default "Freshet").
	Client string
	// Timeout bounds one attempt (default DefaultTimeout); ignored when
	// HTTPClient is set.
	Timeout time.Duration
	// HTTPClient replaces the default client (for proxies or custom TLS).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// PagerDuty triggers and resolves PagerDuty incidents through the Events
// API v2, one event per notification, with dedup_key = Notification.Key so
// that repeats update one incident and the resolve closes it.
type PagerDuty struct {
	name   string
	key    secret
	source string
	client string
	pd     *pagerduty.Client
	log    *slog.Logger
}

// NewPagerDuty reads the routing key from the environment and builds the
// receiver. It sends nothing.
func NewPagerDuty(cfg PagerDutyConfig) (*PagerDuty, error) {
	p := &PagerDuty{name: cfg.Name, source: cfg.Source, client: cfg.Client, log: orDefault(cfg.Logger)}
	if p.name == "" {
		p.name = "pagerduty"
	}
	if p.source == "" {
		p.source = "freshet"
	}
	if p.client == "" {
		p.client = "Freshet"
	}
	key, err := readSecret(p.name, "routing key", cfg.RoutingKeyEnv)
	if err != nil {
		return nil, err
	}
	p.key = key
	endpoint := strings.TrimRight(cfg.Endpoint, "/")
	if endpoint == "" {
		endpoint = PagerDutyEventsUS
	}
	hc := httpClient(cfg.HTTPClient, cfg.Timeout)
	// go-pagerduty turns an error answer into an APIError that keeps
	// neither the Retry-After header nor (unless it is JSON of its REST
	// shape) the body; capture them on the way through.
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc2 := *hc
	hc2.Transport = captureTransport{base}
	// The auth token is for the REST API, which this receiver never calls.
	p.pd = pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(endpoint))
	p.pd.HTTPClient = &hc2
	p.log.Info("pagerduty receiver ready", "receiver", p.name, "endpoint", endpoint, "routing_key_env", key.env)
	return p, nil
}

// Name implements alerts.Receiver.
func (p *PagerDuty) Name() string { return p.name }

// Event builds the Events API v2 event for n: a trigger with the full
// payload while firing, a bare resolve with the same dedup_key after.
func (p *PagerDuty) Event(n *alerts.Notification) *pagerduty.V2Event {
	e := &pagerduty.V2Event{
		RoutingKey: p.key.value,
		DedupKey:   n.Key,
	}
	if n.Status == alerts.Resolved {
		e.Action = "resolve"
		return e
	}
	e.Action = "trigger"
	e.Client = p.client
	if u := n.Links["asset"]; u != "" {
		e.ClientURL = u
	}
	for _, k := range sortedKeys(n.Links) {
		e.Links = append(e.Links, map[string]string{"href": n.Links[k], "text": k})
	}
	start := n.StartsAt
	if start.IsZero() {
		start = time.Now()
	}
	e.Payload = &pagerduty.V2Payload{
		Summary:   truncate(n.Summary, 1024),
		Source:    p.source,
		Severity:  string(n.Severity),
		Timestamp: start.UTC().Format(time.RFC3339),
		Component: string(n.Subject()),
		Group:     n.Group,
		Class:     n.Rule,
		Details:   details(n),
	}
	return e
}

// Send implements alerts.Receiver.
func (p *PagerDuty) Send(ctx context.Context, n alerts.Notification) error {
	if err := n.Validate(); err != nil {
		return alerts.Reject(p.name, &n, err)
	}
	c := &capture{}
	resp, err := p.pd.ManageEventWithContext(context.WithValue(ctx, captureKey{}, c), p.Event(&n))
	switch {
	case err == nil:
		p.log.Debug("alert delivered", "receiver", p.name, "key", n.Key, "status", string(n.Status), "pagerduty_status", resp.Status)
		return nil
	case c.status >= 200 && c.status < 300:
		// Accepted; only the answer's body did not decode.
		p.log.Warn("pagerduty accepted the event with an unreadable answer", "receiver", p.name, "key", n.Key, "err", p.key.redact(err.Error()))
		return nil
	case c.status != 0:
		err = classifyHTTP(p.name, n.Key, c.status, c.header, c.body, p.key.redact)
	default:
		// go-pagerduty flattens transport errors to text; keep the
		// context's error reachable for errors.Is.
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w: %v", cerr, err)
		}
		err = networkError(p.name, n.Key, err, p.key.redact)
	}
	logResult(p.log, p.name, &n, err)
	return err
}

// capture records the HTTP answer of one request for Send to classify; it
// travels in the request's context, so concurrent Sends do not share one.
type capture struct {
	status int
	header http.Header
	body   []byte
}

type captureKey struct{}

type captureTransport struct{ base http.RoundTripper }

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	c, ok := req.Context().Value(captureKey{}).(*capture)
	if err != nil || !ok {
		return resp, err
	}
	c.status, c.header = resp.StatusCode, resp.Header
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.body = readBody(resp.Body)
		resp.Body.Close()
		resp.Body = readCloser{bytes.NewReader(c.body)}
	}
	return resp, nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

var _ alerts.Receiver = (*PagerDuty)(nil)

func (p *PagerDuty) String() string { return fmt.Sprintf("pagerduty(%s, key %s)", p.name, p.key) }
