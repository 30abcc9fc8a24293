package receiver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/config"
)

// Options are what FromConfig needs beyond the alerts block: the server's
// own logger, HTTP client, name and address.
type Options struct {
	Logger *slog.Logger
	// HTTPClient is the base client of the HTTP receivers (proxies, custom
	// TLS); each receiver gets a copy with its own timeout (the config's,
	// else the client's, else DefaultTimeout). nil: a plain client.
	HTTPClient *http.Client
	// Hostname is PagerDuty's payload.source when the config sets no
	// source (default: os.Hostname).
	Hostname string
	// ServerURL is Freshet's external URL, the Alertmanager generatorURL
	// when the config sets none.
	ServerURL string
}

// MissingEnvError is returned by FromConfig when a variable a receiver's
// config names (routing_key_env, secret_env, or ${NAME} in a webhook
// header) is unset or empty. It names the variable, never a value.
type MissingEnvError struct {
	Receiver string // the receiver's name
	Field    string // the config field naming the variable, e.g. "pagerduty.routing_key_env"
	Var      string
}

func (e *MissingEnvError) Error() string {
	return fmt.Sprintf("%s: %s: environment variable %s is not set or empty", e.Receiver, e.Field, e.Var)
}

// FromConfig builds the receiver r describes, reading its secrets from the
// environment now. r is expected to come from a config.File, which has
// validated it; FromConfig still refuses a receiver without the block of
// its type. The Datadog receiver holds a client: close any receiver that
// implements io.Closer when done with it.
func FromConfig(r config.Receiver, opts Options) (alerts.Receiver, error) {
	log := opts.Logger
	switch r.Type {
	case config.ReceiverPagerDuty:
		c := r.PagerDuty
		if c == nil {
			return nil, noBlock(r)
		}
		if err := requireEnv(r.Name, "pagerduty.routing_key_env", c.RoutingKeyEnv); err != nil {
			return nil, err
		}
		source := c.Source
		if source == "" {
			source = opts.Hostname
		}
		if source == "" {
			source, _ = os.Hostname()
		}
		return NewPagerDuty(PagerDutyConfig{Name: r.Name, RoutingKeyEnv: c.RoutingKeyEnv, Endpoint: c.Endpoint,
			Source: source, Timeout: c.Timeout, HTTPClient: opts.client(c.Timeout), Logger: log})
	case config.ReceiverDatadog:
		c := r.Datadog
		if c == nil {
			return nil, noBlock(r)
		}
		return NewDatadog(DatadogConfig{Name: r.Name, Addr: c.Addr, Tags: c.Tags, Logger: log})
	case config.ReceiverAlertmanager:
		c := r.Alertmanager
		if c == nil {
			return nil, noBlock(r)
		}
		gen := c.GeneratorURL
		if gen == "" {
			gen = opts.ServerURL
		}
		return NewAlertmanager(AlertmanagerConfig{Name: r.Name, URLs: c.URLs, GeneratorURL: gen,
			Timeout: c.Timeout, HTTPClient: opts.client(c.Timeout), Logger: log})
	case config.ReceiverWebhook:
		c := r.Webhook
		if c == nil {
			return nil, noBlock(r)
		}
		if c.SecretEnv != "" {
			if err := requireEnv(r.Name, "webhook.secret_env", c.SecretEnv); err != nil {
				return nil, err
			}
		}
		headers, err := expandHeaders(r.Name, c.Headers)
		if err != nil {
			return nil, err
		}
		return NewWebhook(WebhookConfig{Name: r.Name, URL: c.URL, SecretEnv: c.SecretEnv, Headers: headers,
			Timeout: c.Timeout, HTTPClient: opts.client(c.Timeout), Logger: log})
	case config.ReceiverLog:
		return NewLog(r.Name, log), nil
	}
	return nil, fmt.Errorf("%s: unknown receiver type %q", r.Name, r.Type)
}

func noBlock(r config.Receiver) error {
	return fmt.Errorf("%s: type %s without a %s block", r.Name, r.Type, r.Type)
}

// requireEnv checks that the variable a field names is set and not blank,
// as readSecret will, to say which field named it.
func requireEnv(receiver, field, name string) error {
	if v, ok := os.LookupEnv(name); !ok || isBlank(v) {
		return &MissingEnvError{Receiver: receiver, Field: field, Var: name}
	}
	return nil
}

func isBlank(s string) bool {
	for _, c := range s {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// expandHeaders replaces ${NAME} in header values with the variable's
// value (config.ExpandEnv), so credentials stay out of the file.
func expandHeaders(receiver string, h map[string]string) (map[string]string, error) {
	if len(h) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		x, err := config.ExpandEnv(v, func(name string) (string, bool) {
			v, ok := os.LookupEnv(name)
			return v, ok && !isBlank(v)
		})
		var unset *config.UnsetVarError
		switch {
		case errors.As(err, &unset):
			return nil, &MissingEnvError{Receiver: receiver, Field: "webhook.headers." + k, Var: unset.Name}
		case err != nil:
			return nil, fmt.Errorf("%s: webhook.headers.%s: %w", receiver, k, err)
		}
		out[k] = x
	}
	return out, nil
}

// client returns the HTTP client of a receiver with the given timeout:
// nil without a base client (the constructor then makes one with the
// timeout), else a copy of the base with the timeout, the base's own, or
// DefaultTimeout, in that order.
func (o Options) client(timeout time.Duration) *http.Client {
	if o.HTTPClient == nil {
		return nil
	}
	c := *o.HTTPClient
	switch {
	case timeout > 0:
		c.Timeout = timeout
	case c.Timeout <= 0:
		c.Timeout = DefaultTimeout
	}
	return &c
}
