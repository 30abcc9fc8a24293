package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Launcher runs one attempt of one step to its end. The local launcher runs
// a child process; a Kubernetes Job launcher can run the same Job.
//
// Launch returns when the attempt is over and no more output will be
// delivered. Canceling ctx stops the attempt (the Outcome's error then
// wraps context.Canceled). Launch never panics on a bad command: a command
// that cannot start is an Outcome with a *StartError.
type Launcher interface {
	Launch(ctx context.Context, job Job, out LineFunc) Outcome
}

// Job is what a launcher needs to run one attempt of one step.
type Job struct {
	RunID     string
	Asset     asset.Key
	Partition string
	Attempt   int // 1 for the first try

	Argv []string
	// Env is the step's own environment, already expanded, NAME=value:
	// the materialize env plus FRESHET_*, TRACEPARENT and (unless Pipes
	// is disabled) DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES. A
	// launcher adds its base environment (the local one: the server's)
	// underneath.
	Env     []string
	Dir     string
	Timeout time.Duration // 0: none

	// OnStart, when set, is called once the attempt runs (before Launch
	// returns; never for a command that could not start), with the
	// process's identity on this machine, or a zero Process for a launcher
	// that runs it elsewhere. The executor's STARTED update carries it.
	OnStart func(Process)
}

// Process identifies a running process on this machine across pid reuse:
// the pid and the time it started, in clock ticks since boot (field 22 of
// /proc/PID/stat). Start is 0 where the platform does not tell it.
type Process struct {
	PID   int
	Start uint64
}

// Stream names an output stream of a step.
type Stream string

const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
	// PipesStream is the stream of what the child reported over Dagster
	// Pipes: its log messages ("[info] text"), custom messages, the
	// exception it closed with, and warnings about messages that were
	// ignored.
	PipesStream Stream = "pipes"
)

// LineFunc receives a step's output one line at a time (without its line
// ending), stamped with the time it was read. Calls for one Launch may come
// from several goroutines, but never after Launch returned.
type LineFunc func(stream Stream, at time.Time, text string)

// Outcome is how an attempt ended. Err is nil for success (exit status 0).
type Outcome struct {
	Started, Ended time.Time // Started is zero when the command did not start
	Err            error
}

// Duration is how long the attempt ran.
func (o Outcome) Duration() time.Duration {
	if o.Started.IsZero() {
		return 0
	}
	return o.Ended.Sub(o.Started)
}

// StartError: the command could not be started (missing program, bad
// working directory, bad environment). Retrying would not help, so the
// executor does not retry it.
type StartError struct{ Err error }

func (e *StartError) Error() string { return "cannot start: " + e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// ExitError: the command ended with a non-zero status or by a signal.
type ExitError struct {
	Code   int    // -1 when killed by a signal
	Signal string // the signal's name when killed by one
	Stderr string // the last lines of its stderr
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("exit status %d", e.Code)
	if e.Signal != "" {
		msg = "killed by signal " + e.Signal
	}
	return withTail(msg, e.Stderr)
}

// TimeoutError: the attempt ran out of time and was stopped.
type TimeoutError struct {
	After  time.Duration
	Stderr string
}

func (e *TimeoutError) Error() string {
	return withTail(fmt.Sprintf("timed out after %s", e.After), e.Stderr)
}

func withTail(msg, tail string) string {
	if tail == "" {
		return msg
	}
	return msg + "; stderr: " + tail
}

// errCanceled marks an attempt stopped because its run was canceled.
func canceledErr(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("canceled: %w: %w", context.Canceled, cause)
	}
	return fmt.Errorf("canceled: %w", context.Canceled)
}
