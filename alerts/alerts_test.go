package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	rejected := &DeliveryError{Receiver: "r", Key: "k", Outcome: Rejected, StatusCode: 400, Body: `{"errors":["x"]}`}
	retry := &DeliveryError{Receiver: "r", Key: "k", Outcome: Retryable, StatusCode: 429, Wait: 7 * time.Second}
	for _, c := range []struct {
		err  error
		want Outcome
		wait time.Duration
	}{
		{nil, Delivered, 0},
		{rejected, Rejected, 0},
		{fmt.Errorf("wrapped: %w", rejected), Rejected, 0},
		{retry, Retryable, 7 * time.Second},
		{fmt.Errorf("wrapped: %w", retry), Retryable, 7 * time.Second},
		{context.Canceled, Retryable, 0},
		{errors.New("surprise"), Retryable, 0},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %s, want %s", c.err, got, c.want)
		}
		if got := RetryAfter(c.err); got != c.wait {
			t.Errorf("RetryAfter(%v) = %s, want %s", c.err, got, c.wait)
		}
	}
	if retry.RetryAfter() != 7*time.Second || !retry.Retryable() || rejected.Retryable() {
		t.Error("methods disagree with the fields")
	}
	for _, want := range []string{"r: deliver \"k\": rejected: HTTP 400", `{"errors":["x"]}`} {
		if !strings.Contains(rejected.Error(), want) {
			t.Errorf("%q lacks %q", rejected.Error(), want)
		}
	}
	if !strings.Contains(retry.Error(), "retry after 7s") {
		t.Errorf("%q lacks the wait", retry.Error())
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Notification{Key: "k", Status: Firing, Severity: Warning, Summary: "s"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*Notification){
		func(n *Notification) { n.Key = "" },
		func(n *Notification) { n.Status = "" },
		func(n *Notification) { n.Severity = "fatal" },
		func(n *Notification) { n.Summary = "" },
	} {
		n := ok
		bad(&n)
		err := n.Validate()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", n, err)
		}
		if Classify(Reject("r", &n, err)) != Rejected {
			t.Error("Reject is not rejected")
		}
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	n := Notification{Asset: "marts/a"}
	if n.Subject() != "marts/a" {
		t.Error(n.Subject())
	}
	n.RootCause = "raw/b"
	if n.Subject() != "raw/b" {
		t.Error(n.Subject())
	}
}
