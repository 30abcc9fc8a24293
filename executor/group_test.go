package executor

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The process-group guarantees of the local launcher: nothing the step
// started outlives it, whichever way it ends.
func TestLocalLauncherStopsTheWholeGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string // writes the grandchild's pid to $1
		timeout time.Duration
		cancel  bool
		wantErr func(error) bool
	}{
		{
			name:    "timeout kills a grandchild",
			body:    "sleep 1000 & echo $! > \"$1\"\nwait",
			timeout: 300 * time.Millisecond,
			wantErr: func(err error) bool { var te *TimeoutError; return errors.As(err, &te) },
		},
		{
			name:    "timeout kills a grandchild that ignores SIGTERM",
			body:    "(trap '' TERM; exec sleep 1000) & echo $! > \"$1\"\nwait",
			timeout: 300 * time.Millisecond,
			wantErr: func(err error) bool { var te *TimeoutError; return errors.As(err, &te) },
		},
		{
			name:    "cancel kills a grandchild",
			body:    "sleep 1000 & echo $! > \"$1\"\nwait",
			cancel:  true,
			wantErr: func(err error) bool { return errors.Is(err, context.Canceled) },
		},
		{
			name:    "stragglers die when the main process exits",
			body:    "(trap '' TERM; exec sleep 1000) & echo $! > \"$1\"\nexit 0",
			wantErr: func(err error) bool { return err == nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "grandchild.pid")
			prog := script(t, dir, "step.sh", tt.body)
			l := &LocalLauncher{Grace: 200 * time.Millisecond, Log: quietLog()}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan Outcome, 1)
			go func() {
				done <- l.Launch(ctx, Job{RunID: "r", Asset: "a", Attempt: 1, Argv: []string{prog, pidFile}, Timeout: tt.timeout}, nil)
			}()
			pid := readPid(t, pidFile)
			if tt.cancel {
				cancel()
			}
			var o Outcome
			select {
			case o = <-done:
			case <-time.After(deadline):
				t.Fatalf("Launch did not return within %s", deadline)
			}
			if !tt.wantErr(o.Err) {
				t.Errorf("Err = %v", o.Err)
			}
			processGone(t, pid)
		})
	}
}

func TestLocalLauncherOutput(t *testing.T) {
	t.Parallel()
	// A line longer than the read buffer is split, not held in memory whole.
	l := &LocalLauncher{Log: quietLog()}
	var got []string
	o := l.Launch(t.Context(), Job{Argv: []string{"sh", "-c", "head -c 150000 /dev/zero | tr '\\0' x; echo; echo end"}}, func(s Stream, _ time.Time, text string) {
		got = append(got, text) // one stream: calls are sequential
	})
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	total := 0
	for _, s := range got[:len(got)-1] {
		if len(s) > maxLineBytes {
			t.Errorf("a line of %d bytes, over %d", len(s), maxLineBytes)
		}
		total += len(s)
	}
	if total != 150000 || got[len(got)-1] != "end" {
		t.Errorf("got %d bytes of x in %d lines, last %q", total, len(got)-1, got[len(got)-1])
	}
	if !strings.HasPrefix(got[0], "xxx") {
		t.Errorf("first line %.10q", got[0])
	}
}
