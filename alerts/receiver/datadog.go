package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/freshet-dev/freshet/alerts"
)

// Names of what the Datadog receiver sends.
const (
	DatadogServiceCheck = "freshet.asset.freshness"
	DatadogLagGauge     = "freshet.asset.freshness_lag_seconds"
)

// DatadogConfig configures a DogStatsD receiver.
type DatadogConfig struct {
	// Name is the receiver's name (default "datadog").
	Name string
	// Addr is the agent's DogStatsD address: "host:port" for UDP (default
	// "127.0.0.1:8125"), "unix:///path/dsd.socket" (or unixgram://,
	// unixstream://) for a Unix socket.
	Addr string
	// Tags are added to everything sent, e.g. "env:prod".
	Tags []string
	// MaxEventText bounds the event text in bytes (default 1000), so an
	// event fits in one UDP datagram (datadog-go's default is 1432 bytes).
	MaxEventText int
	// Options are extra datadog-go client options (buffering, telemetry);
	// they apply after the receiver's own.
	Options []statsd.Option
	Logger  *slog.Logger
}

// Datadog reports each notification to a Datadog agent over DogStatsD as
// an event (aggregation key = Notification.Key; alert type error, warning or
// info while firing, success on resolve), the service check
// freshet.asset.freshness (CRITICAL, WARNING or OK) and the gauge
// freshet.asset.freshness_lag_seconds, all tagged asset, root_cause, group,
// rule and owner.
//
// DogStatsD's line format has no escapes: in tag values and the
// aggregation key, ',', '|', '#', line breaks and white space become '_'.
//
// DogStatsD has no answers: over UDP a datagram lost on the way is not
// seen, so Send reports only what the client sees (an unreachable Unix
// socket, a full queue) as retryable. Each Send flushes, so what it
// returns covers its own packets. Close the receiver when done.
type Datadog struct {
	name    string
	maxText int
	client  *statsd.Client
	log     *slog.Logger

	mu sync.Mutex // one Send at a time, so write errors are its own

	errMu sync.Mutex // the client reports errors from its own goroutines
	errs  []error    // write errors reported since the last take
}

// NewDatadog builds the client; with UDP nothing is sent until Send.
func NewDatadog(cfg DatadogConfig) (*Datadog, error) {
	d := &Datadog{name: cfg.Name, maxText: cfg.MaxEventText, log: orDefault(cfg.Logger)}
	if d.name == "" {
		d.name = "datadog"
	}
	if d.maxText <= 0 {
		d.maxText = 1000
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:8125"
	}
	opts := []statsd.Option{
		statsd.WithTags(sanitizeTags(cfg.Tags)),
		// The client's own telemetry would share the pipe with Send and
		// blur which write failed; Datadog's telemetry can be turned back
		// on through Options.
		statsd.WithoutTelemetry(),
		statsd.WithErrorHandler(d.onError),
	}
	c, err := statsd.New(addr, append(opts, cfg.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: dogstatsd client for %s: %w", d.name, addr, err)
	}
	d.client = c
	d.log.Info("datadog receiver ready", "receiver", d.name, "addr", addr)
	return d, nil
}

// onError is called from the client's sender goroutine when a write fails
// (during Flush for what Send wrote, since Flush waits for the sender).
func (d *Datadog) onError(err error) {
	d.errMu.Lock()
	d.errs = append(d.errs, err)
	d.errMu.Unlock()
}

// takeErrors returns and forgets the errors reported so far.
func (d *Datadog) takeErrors() []error {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	errs := d.errs
	d.errs = nil
	return errs
}

// Name implements alerts.Receiver.
func (d *Datadog) Name() string { return d.name }

// Close flushes and closes the client.
func (d *Datadog) Close() error { return d.client.Close() }

// Send implements alerts.Receiver.
func (d *Datadog) Send(ctx context.Context, n alerts.Notification) error {
	if err := n.Validate(); err != nil {
		return alerts.Reject(d.name, &n, err)
	}
	if err := ctx.Err(); err != nil {
		return networkError(d.name, n.Key, err, noRedact)
	}
	tags := d.tags(&n)
	state := "firing"
	if n.Status == alerts.Resolved {
		state = "resolved"
	}
	ev := &statsd.Event{
		Title:          truncate(fmt.Sprintf("[%s] %s", strings.ToUpper(state), n.Summary), 200),
		Text:           truncate(describe(&n), d.maxText),
		AggregationKey: sanitizeTag(n.Key),
		SourceTypeName: "freshet",
		AlertType:      eventAlertType(&n),
		Tags:           append(append([]string{}, tags...), "state:"+state, "severity:"+string(n.Severity)),
	}
	if ev.AlertType == statsd.Error {
		ev.Priority = statsd.Normal
	}
	sc := &statsd.ServiceCheck{
		Name:    DatadogServiceCheck,
		Status:  serviceCheckStatus(&n),
		Message: truncate(n.Summary, 500),
		Tags:    tags,
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.takeErrors() // errors of earlier sends are theirs
	err := errors.Join(
		d.client.Event(ev),
		d.client.ServiceCheck(sc),
		d.client.Gauge(DatadogLagGauge, lagSeconds(&n), tags, 1),
	)
	if err == nil {
		err = d.client.Flush()
	}
	if errs := d.takeErrors(); err == nil && len(errs) > 0 {
		err = errors.Join(errs...)
	}
	if err != nil {
		err = networkError(d.name, n.Key, err, noRedact)
	}
	logResult(d.log, d.name, &n, err)
	return err
}

// tags are the tags shared by the event, service check and gauge.
func (d *Datadog) tags(n *alerts.Notification) []string {
	t := make([]string, 0, 4+len(n.Owners))
	add := func(k, v string) {
		if v != "" {
			t = append(t, k+":"+sanitizeTag(v))
		}
	}
	add("asset", string(n.Asset))
	add("root_cause", string(n.RootCause))
	add("group", n.Group)
	add("rule", n.Rule)
	for _, o := range n.Owners {
		add("owner", o)
	}
	return t
}

func eventAlertType(n *alerts.Notification) statsd.EventAlertType {
	if n.Status == alerts.Resolved {
		return statsd.Success
	}
	switch n.Severity {
	case alerts.Critical, alerts.Error:
		return statsd.Error
	case alerts.Warning:
		return statsd.Warning
	}
	return statsd.Info
}

func serviceCheckStatus(n *alerts.Notification) statsd.ServiceCheckStatus {
	if n.Status == alerts.Resolved {
		return statsd.Ok
	}
	switch n.Severity {
	case alerts.Critical, alerts.Error:
		return statsd.Critical
	case alerts.Warning:
		return statsd.Warn
	}
	return statsd.Ok
}

// lagSeconds is the lag to report: 0 once resolved.
func lagSeconds(n *alerts.Notification) float64 {
	if n.Status == alerts.Resolved {
		return 0
	}
	return n.Lag.Round(time.Millisecond).Seconds()
}

// sanitizeTag replaces what would break the DogStatsD line format (',' and
// '|' separate fields and tags, '#' starts tags, line breaks end messages)
// and white space with '_'.
func sanitizeTag(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ',', '|', '#', '\n', '\r', '\t', ' ':
			return '_'
		}
		return r
	}, s)
}

func sanitizeTags(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = sanitizeTag(t)
	}
	return out
}

var _ alerts.Receiver = (*Datadog)(nil)
