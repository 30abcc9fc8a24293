package executor

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// TraceParent is a W3C trace context (https://www.w3.org/TR/trace-context/):
// the run's trace, and the span a child's spans hang under.
type TraceParent struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte
}

// String is the traceparent header form: 00-<trace>-<span>-<flags>.
func (t TraceParent) String() string {
	return fmt.Sprintf("00-%s-%s-%02x", hex.EncodeToString(t.TraceID[:]), hex.EncodeToString(t.SpanID[:]), t.Flags)
}

// ParseTraceParent reads a version 00 traceparent header.
func ParseTraceParent(s string) (TraceParent, error) {
	var t TraceParent
	parts := strings.Split(s, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 || strings.ToLower(s) != s {
		return t, fmt.Errorf("invalid traceparent %q: want 00-<32 hex>-<16 hex>-<2 hex>", s)
	}
	var flags [1]byte
	if _, err := hex.Decode(t.TraceID[:], []byte(parts[1])); err != nil {
		return t, fmt.Errorf("invalid traceparent %q: %w", s, err)
	}
	if _, err := hex.Decode(t.SpanID[:], []byte(parts[2])); err != nil {
		return t, fmt.Errorf("invalid traceparent %q: %w", s, err)
	}
	if _, err := hex.Decode(flags[:], []byte(parts[3])); err != nil {
		return t, fmt.Errorf("invalid traceparent %q: %w", s, err)
	}
	t.Flags = flags[0]
	if t.TraceID == [16]byte{} || t.SpanID == [8]byte{} {
		return t, fmt.Errorf("invalid traceparent %q: all-zero ids are not allowed", s)
	}
	return t, nil
}

// newTrace starts a sampled trace with a random id.
func newTrace() TraceParent {
	t := TraceParent{Flags: 1}
	fillNonZero(t.TraceID[:])
	fillNonZero(t.SpanID[:])
	return t
}

// child returns the context to hand to a child: same trace and flags, a
// new span id.
func (t TraceParent) child() TraceParent {
	c := t
	fillNonZero(c.SpanID[:])
	return c
}

func fillNonZero(b []byte) {
	for {
		_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
		for _, x := range b {
			if x != 0 {
				return
			}
		}
	}
}
