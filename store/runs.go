package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// RunStore keeps the executor's runs, their steps and their output: the
// runs table the API and CLI read, and what a restart reconciles. Both
// stores implement it; storetest.RunRuns is its conformance suite.
//
// Records are upserts by version: a record replaces the stored one with
// the same key only if its Updated is not older, so writers may retry and
// flush out of order. Statuses are the executor's (QUEUED, STARTING,
// STARTED, SUCCESS, FAILURE, CANCELING, CANCELED for runs; QUEUED,
// STARTED, UP_FOR_RETRY, SUCCESS, FAILURE, SKIPPED, CANCELED for steps);
// the store treats them as opaque strings except for Status filters.
//
// Every record needs its key (see CheckRuns, CheckSteps, CheckRunLogs): a
// batch holding one without is rejected whole, and nothing of it stored.
type RunStore interface {
	// PutRuns upserts runs by ID.
	PutRuns(ctx context.Context, runs []RunRecord) error
	// PutSteps upserts steps by (RunID, Asset).
	PutSteps(ctx context.Context, steps []StepRecord) error
	// Run returns a run and its steps in Index order (ties by Asset), or
	// ErrRunNotFound when the run itself was never put, even if steps of
	// it were.
	Run(ctx context.Context, id string) (RunRecord, []StepRecord, error)
	// Runs pages through runs, newest Created first, ties by ID descending.
	Runs(ctx context.Context, q RunQuery) (RunPage, error)
	// AppendRunLogs stores output lines. A line is identified by (RunID,
	// Seq): appending the same line again changes nothing. The executor
	// never gives one Seq to two different lines; if that happens, which
	// of them a store keeps is undefined.
	AppendRunLogs(ctx context.Context, lines []RunLogLine) error
	// RunLogs returns a run's lines with Seq > q.AfterSeq in Seq order, at
	// most q.Limit (0: DefaultLimit, capped at MaxLogLimit).
	RunLogs(ctx context.Context, q RunLogQuery) ([]RunLogLine, error)
}

// ErrRunNotFound is returned by Run for an unknown id.
var ErrRunNotFound = errors.New("run not found")

// MaxLogLimit caps one RunLogs answer.
const MaxLogLimit = 10000

// RunRecord is one run's current state.
type RunRecord struct {
	ID        string
	Status    string
	Trigger   string // manual, automation, reexecute
	Selection string // the selection as the user wrote it
	Partition string
	Parent    string // the run this one re-executes, if any
	Reason    string // why it ended as it did
	Owner     string // the server instance that runs it (crash reconciliation)
	Created   time.Time
	Started   time.Time // zero until STARTED
	Ended     time.Time // zero until final
	Updated   time.Time // version: the newest wins
}

// StepRecord is one step of a run.
type StepRecord struct {
	RunID    string
	Asset    asset.Key
	Index    int // position in the plan
	Status   string
	Attempts int
	Reason   string
	Started  time.Time // of the last attempt
	Ended    time.Time
	// PID and PIDStart identify the running child (PIDStart is the
	// process start time in clock ticks since boot, from /proc/PID/stat),
	// so a restart can tell the same process from a reused pid.
	PID      int
	PIDStart uint64
	Updated  time.Time // version: the newest wins
}

// RunQuery selects runs. Zero fields do not filter.
type RunQuery struct {
	Statuses []string
	Asset    asset.Key // runs with a step for this asset
	Trigger  string
	Since    time.Time // Created, inclusive
	Until    time.Time // Created, exclusive
	Cursor   string    // from a previous page's Next
	Limit    int       // 0 means DefaultLimit; capped at MaxLimit
}

// RunPage is one page of runs; Next is empty on the last page. The cursor
// is an EncodeCursor of the last run's (Created, ID).
type RunPage struct {
	Runs []RunRecord
	Next string
}

// RunLogLine is one line of a step's output.
type RunLogLine struct {
	RunID     string
	Seq       uint64 // order within the run, from 1
	Asset     asset.Key
	Attempt   int
	Stream    string // stdout, stderr, pipes
	Time      time.Time
	Text      string
	Truncated bool // the marker that says later output was dropped
}

// RunLogQuery selects a run's log lines.
type RunLogQuery struct {
	RunID    string
	AfterSeq uint64
	Limit    int
}

// EffectiveLimit applies the default and the cap.
func (q RunQuery) EffectiveLimit() int {
	return EventQuery{Limit: q.Limit}.EffectiveLimit()
}

// EffectiveLimit applies the default and the cap.
func (q RunLogQuery) EffectiveLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxLogLimit:
		return MaxLogLimit
	default:
		return q.Limit
	}
}

// CheckRuns returns an error naming the first run without a usable ID:
// empty, or holding a control character (stores use 0x00 as a key
// separator, as for asset keys).
func CheckRuns(runs []RunRecord) error {
	for i := range runs {
		if why := badRunID(runs[i].ID); why != "" {
			return fmt.Errorf("run %d (id %q): %s", i, runs[i].ID, why)
		}
	}
	return nil
}

// CheckSteps returns an error naming the first step without a usable
// RunID or without an Asset.
func CheckSteps(steps []StepRecord) error {
	for i := range steps {
		s := &steps[i]
		if why := badRunID(s.RunID); why != "" {
			return fmt.Errorf("step %d (run %q, asset %q): run id %s", i, s.RunID, s.Asset, why)
		}
		if s.Asset == "" {
			return fmt.Errorf("step %d (run %q): missing asset", i, s.RunID)
		}
	}
	return nil
}

// CheckRunLogs returns an error naming the first line without a usable
// RunID or with Seq 0 (sequences start at 1, so AfterSeq 0 reads all).
func CheckRunLogs(lines []RunLogLine) error {
	for i := range lines {
		l := &lines[i]
		if why := badRunID(l.RunID); why != "" {
			return fmt.Errorf("log line %d (run %q, seq %d): run id %s", i, l.RunID, l.Seq, why)
		}
		if l.Seq == 0 {
			return fmt.Errorf("log line %d (run %q): missing seq (it starts at 1)", i, l.RunID)
		}
	}
	return nil
}

func badRunID(id string) string {
	switch {
	case id == "":
		return "missing"
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains a control character"
	}
	return ""
}
