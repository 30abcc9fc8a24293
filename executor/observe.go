package executor

import (
	"context"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Recorder takes the events the executor produces: one materialization or
// materialization_failed per step outcome, after the check_result events
// the step's child reported over Dagster Pipes. It is called from the
// run's goroutine. The store will implement it.
type Recorder interface {
	Record(ctx context.Context, events []asset.Event) error
}

// Observer hears every status change of runs and steps, in order for each
// run, from the run's own goroutine: it must not block for long.
type Observer interface {
	RunChanged(RunUpdate)
	StepChanged(StepUpdate)
}

// LogSink takes steps' output lines. Calls come from many goroutines.
type LogSink interface {
	StepLog(LogLine)
}

// RunUpdate is one run status change.
type RunUpdate struct {
	RunID  string
	Status RunStatus
	Time   time.Time
	Reason string // why it ended as it did, for FAILURE and CANCELED
}

// StepUpdate is one step status change.
type StepUpdate struct {
	RunID   string
	Asset   asset.Key
	Status  StepStatus
	Attempt int // the attempt it concerns; 0 before the first
	Time    time.Time
	Reason  string        // for FAILURE, UP_FOR_RETRY, SKIPPED, CANCELED
	RetryIn time.Duration // for UP_FOR_RETRY: the backoff before the next attempt
	// PID and PIDStart identify the attempt's process, on STARTED: its pid
	// and its start time in clock ticks since boot (/proc/PID/stat field
	// 22), which StopOrphan checks so that a reused pid is left alone.
	// Zero when the launcher runs the step elsewhere, when the command
	// could not start, and (PIDStart) on systems other than Linux.
	PID      int
	PIDStart uint64
}

// LogLine is one line of a step's output.
type LogLine struct {
	RunID     string
	Asset     asset.Key
	Attempt   int
	Stream    Stream
	Time      time.Time
	Text      string
	Truncated bool // this is the marker that says later output was dropped
}

// Metadata names on the events the executor records.
const (
	MetaDuration = "duration_s" // float seconds of the last attempt (freshness.DurationKey)
	MetaAttempts = "attempts"   // int
	MetaError    = "error"      // text, on materialization_failed
	// MetaDataVersion is the data version a child reported with its
	// materialization over Pipes (text).
	MetaDataVersion = "data_version"
)

type nopObserver struct{}

func (nopObserver) RunChanged(RunUpdate)   {}
func (nopObserver) StepChanged(StepUpdate) {}

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, []asset.Event) error { return nil }

type nopLogs struct{}

func (nopLogs) StepLog(LogLine) {}
