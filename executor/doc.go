// Package executor runs materialize commands: it plans a selection of
// assets into steps in dependency order and runs them as child processes
// with concurrency limits, retries, timeouts and cancellation.
//
// What it promises:
//   - a step runs only after every step upstream of it in the asset graph
//     succeeded; a step that fails after its retries skips everything
//     downstream of it in the run, each with the failed upstream as reason;
//   - never more than max_concurrent steps at once (across all runs of one
//     Executor), never more than a pool's limit from that pool;
//   - a step is a process group: timeout and cancel stop the whole group
//     (SIGTERM, a grace period, SIGKILL), grandchildren included, and
//     whatever is left of the group when the main process exits is stopped
//     the same way;
//   - a command that cannot start is a step failure with the reason, never
//     a panic; a non-zero exit is a failure whose reason ends with the tail
//     of the command's stderr;
//   - every status change of a run and of its steps goes to an Observer, in
//     order; a step's STARTED names its process (pid and start time), so a
//     restart can find what a crashed server left running (StopOrphan);
//   - each step's outcome becomes one asset.Event (materialization or
//     materialization_failed, with run_id and duration_s) handed to a
//     Recorder, after the check_result events its child reported;
//   - every attempt speaks Dagster Pipes (package pipes): the child gets
//     DAGSTER_PIPES_CONTEXT and DAGSTER_PIPES_MESSAGES, its log messages
//     reach the LogSink as they are read (stream "pipes"), a reported
//     materialization gives the materialization event its metadata and
//     data version, reported checks become check_result events; a child
//     that reports nothing still yields its materialization, and a
//     malformed message is counted (PipesStats) and described, never
//     fatal;
//   - environment values (${NAME}) are expanded at launch and never logged:
//     logs name variables, not their values.
//
// What it refuses, for now: it stores nothing itself (persistence is the
// Recorder's and Observer's job), has no API or CLI, and does not decide
// what to do with runs left by a crash (the server reconciles them, with
// StopOrphan for their processes); the Pipes channels that need a blob
// store are not offered.
//
// The pieces, each in its own file: Plan (selection.go, plan.go) turns a
// selection into steps; a Launcher (launcher.go; LocalLauncher in local.go)
// runs one attempt of one step; the Executor (executor.go, run.go) schedules
// steps under the limits (limiter.go) with retries (backoff.go); pipes.go
// runs each attempt's Pipes session and keeps what it reported;
// orphan_linux.go stops a crashed server's children.
package executor
