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
//     order, and each step's outcome becomes one asset.Event
//     (materialization or materialization_failed, with run_id and
//     duration_s) handed to a Recorder;
//   - environment values (${NAME}) are expanded at launch and never logged:
//     logs name variables, not their values.
//
// What it refuses, for now: it stores nothing itself (persistence is the
// Recorder's and Observer's job), has no API or CLI, does not speak the
// Dagster Pipes protocol, and does not reconcile runs left by a crash.
//
// The pieces, each in its own file: Plan (selection.go, plan.go) turns a
// selection into steps; a Launcher (launcher.go; LocalLauncher in local.go)
// runs one attempt of one step; the Executor (executor.go, run.go) schedules
// steps under the limits (limiter.go) with retries (backoff.go).
package executor
