package pipes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deadline bounds every wait in these tests: exceeding it fails loudly.
const deadline = 30 * time.Second

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTailLive(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "messages")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- Tail(t.Context(), path, done, func(b []byte) { lines <- string(b) })
	}()
	next := func() string {
		t.Helper()
		select {
		case s := <-lines:
			return s
		case <-time.After(deadline):
			t.Fatalf("no line within %s", deadline)
			return ""
		}
	}
	// Lines arrive while the writer is still writing, a line written in
	// two pieces arrives once, whole, and blank lines are skipped.
	appendTo(t, path, "one\n")
	if s := next(); s != "one" {
		t.Fatalf("first line %q", s)
	}
	appendTo(t, path, "tw")
	appendTo(t, path, "o\r\n\n  \nthree\n")
	if a, b := next(), next(); a != "two" || b != "three" {
		t.Fatalf("lines %q %q", a, b)
	}
	// A line longer than MaxLineBytes arrives once, cut; the next is whole.
	appendTo(t, path, strings.Repeat("x", MaxLineBytes+100)+"\nafter\n")
	if s := next(); len(s) != MaxLineBytes {
		t.Fatalf("long line: %d bytes", len(s))
	}
	if s := next(); s != "after" {
		t.Fatalf("line after the long one: %q", s)
	}
	// The last line, without its newline, arrives when done is closed.
	appendTo(t, path, "last")
	close(done)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(deadline):
		t.Fatalf("Tail did not return within %s of done", deadline)
	}
	if s := next(); s != "last" {
		t.Fatalf("last line %q", s)
	}
	if len(lines) != 0 {
		t.Errorf("extra lines: %d", len(lines))
	}
}

func TestTailTruncatedAndCanceled(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "messages")
	if err := os.WriteFile(path, []byte("a long first line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 10)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- Tail(ctx, path, nil, func(b []byte) { lines <- string(b) }) }()
	if s := <-lines; s != "a long first line" {
		t.Fatalf("first %q", s)
	}
	// The writer starts over: the file is read again from its start.
	if err := os.WriteFile(path, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-lines:
		if s != "new" {
			t.Fatalf("after truncation: %q", s)
		}
	case <-time.After(deadline):
		t.Fatalf("no line after truncation within %s", deadline)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Tail: %v", err)
	}
	if err := Tail(t.Context(), filepath.Join(t.TempDir(), "missing"), nil, nil); err == nil {
		t.Errorf("Tail of a missing file: no error")
	}
}
