package receiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/alerts"
)

// DefaultTimeout bounds one delivery attempt when a config sets none.
const DefaultTimeout = 10 * time.Second

// httpClient returns c, or a client with timeout t (DefaultTimeout if 0).
func httpClient(c *http.Client, t time.Duration) *http.Client {
	if c != nil {
		return c
	}
	if t <= 0 {
		t = DefaultTimeout
	}
	return &http.Client{Timeout: t}
}

// classifyHTTP turns an HTTP answer into nil (2xx) or a *DeliveryError.
// body is what was read of the answer; redact blanks secrets out of it.
func classifyHTTP(receiver, key string, status int, header http.Header, body []byte, redact func(string) string) error {
	if status >= 200 && status < 300 {
		return nil
	}
	e := &alerts.DeliveryError{
		Receiver:   receiver,
		Key:        key,
		Outcome:    alerts.Rejected,
		StatusCode: status,
		Body:       redact(truncate(strings.TrimSpace(string(body)), alerts.MaxBody)),
	}
	if status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500 {
		e.Outcome = alerts.Retryable
		e.Wait = retryAfter(header.Get("Retry-After"), time.Now())
	}
	return e
}

// networkError wraps an error that happened before any HTTP answer.
func networkError(receiver, key string, err error, redact func(string) string) error {
	return &alerts.DeliveryError{
		Receiver: receiver,
		Key:      key,
		Outcome:  alerts.Retryable,
		Err:      redactedError{err, redact},
	}
}

// redactedError keeps err for errors.Is (context.Canceled, net errors) but
// prints its message with secrets blanked out.
type redactedError struct {
	err    error
	redact func(string) string
}

func (r redactedError) Error() string { return r.redact(r.err.Error()) }
func (r redactedError) Unwrap() error { return r.err }

// retryAfter parses a Retry-After header: delay-seconds or an HTTP-date.
// An absent, malformed or past value is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// readBody reads at most alerts.MaxBody bytes of r and discards the rest
// (bounded), so the connection can be reused.
func readBody(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, alerts.MaxBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut on a rune boundary
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// postJSON sends body to url and classifies the answer. It is the whole
// HTTP exchange of the Alertmanager and webhook receivers.
func postJSON(ctx context.Context, c *http.Client, receiver, key, url string, body []byte, header http.Header, redact func(string) string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, &alerts.DeliveryError{Receiver: receiver, Key: key, Outcome: alerts.Rejected, Err: fmt.Errorf("build request: %w", err)}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, networkError(receiver, key, err, redact)
	}
	defer resp.Body.Close()
	b := readBody(resp.Body)
	return resp.StatusCode, classifyHTTP(receiver, key, resp.StatusCode, resp.Header, b, redact)
}

// logResult logs one attempt: debug when delivered, warn otherwise.
func logResult(log *slog.Logger, receiver string, n *alerts.Notification, err error, attrs ...any) {
	attrs = append(attrs, "receiver", receiver, "key", n.Key, "status", string(n.Status))
	if err == nil {
		log.Debug("alert delivered", attrs...)
		return
	}
	attrs = append(attrs, "outcome", alerts.Classify(err).String(), "err", err)
	var de *alerts.DeliveryError
	if errors.As(err, &de) && de.Wait > 0 {
		attrs = append(attrs, "retry_after", de.Wait)
	}
	log.Warn("alert not delivered", attrs...)
}

func orDefault(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.Default()
	}
	return log
}
