package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Receiver delivers notifications to one external system. Send blocks until
// the system answered or ctx ends; it does not retry. Its error, if any,
// is classified by Classify: a *DeliveryError says which way, and any other
// error (a bug, a cancelled context) counts as retryable.
type Receiver interface {
	// Name identifies the receiver in logs and delivery records
	// ("pagerduty", "datadog", or the name configured).
	Name() string
	Send(ctx context.Context, n Notification) error
}

// Outcome is how a delivery attempt ended.
type Outcome int

// The three outcomes.
const (
	// Delivered: the system accepted the notification.
	Delivered Outcome = iota
	// Rejected: the system refused it for good (a 4xx other than 408 and
	// 429, or an invalid notification). Sending it again would fail again.
	Rejected
	// Retryable: the system could not take it now (429, 408, 5xx, network
	// errors, timeouts). Try again later, not before RetryAfter.
	Retryable
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Rejected:
		return "rejected"
	case Retryable:
		return "retryable"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// DeliveryError is the error receivers return when a notification was not
// delivered.
type DeliveryError struct {
	Receiver string  // the receiver's Name
	Key      string  // the notification's Key
	Outcome  Outcome // Rejected or Retryable
	// StatusCode is the HTTP status the system answered with; 0 when there
	// was no HTTP answer (network error, invalid notification, DogStatsD).
	StatusCode int
	// Body is the start of the system's answer (at most MaxBody bytes),
	// with any secret of the receiver's blanked out.
	Body string
	// Wait is the delay the system asked for (Retry-After), 0 if none.
	Wait time.Duration
	Err  error // the underlying error, if any
}

// MaxBody bounds DeliveryError.Body.
const MaxBody = 4 << 10

func (e *DeliveryError) Error() string {
	msg := fmt.Sprintf("%s: deliver %q: %s", e.Receiver, e.Key, e.Outcome)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.StatusCode)
	}
	if e.Wait > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.Wait)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// RetryAfter is the delay the system asked for before the next attempt
// (from a Retry-After header), 0 if it did not say.
func (e *DeliveryError) RetryAfter() time.Duration { return e.Wait }

// Retryable reports whether the attempt may be repeated.
func (e *DeliveryError) Retryable() bool { return e.Outcome == Retryable }

// Classify tells how a Send ended: nil is Delivered, a *DeliveryError
// carries its own outcome, and anything else (a cancelled context, an
// unexpected error) is Retryable, so that nothing is dropped on a fault of
// ours; the outbox bounds the attempts.
func Classify(err error) Outcome {
	if err == nil {
		return Delivered
	}
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Outcome
	}
	return Retryable
}

// RetryAfter returns the wait err asks for, 0 if none.
func RetryAfter(err error) time.Duration {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Wait
	}
	return 0
}

// Reject returns the error for a notification that receiver refuses before
// sending it (it fails Validate, or cannot be encoded).
func Reject(receiver string, n *Notification, err error) error {
	return &DeliveryError{Receiver: receiver, Key: n.Key, Outcome: Rejected, Err: err}
}
