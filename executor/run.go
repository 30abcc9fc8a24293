package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// ErrRunCanceled is the cause of a run canceled with Run.Cancel.
var ErrRunCanceled = errors.New("run canceled")

// Run is one execution of a plan.
type Run struct {
	ID     string
	e      *Executor
	plan   *Plan
	req    RunRequest
	trace  TraceParent
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu     sync.Mutex // guards status and steps, written by the loop only
	status RunStatus
	reason string
	steps  []StepResult
}

// StepResult is a step's state in a run.
type StepResult struct {
	Asset          asset.Key
	Status         StepStatus
	Attempts       int
	Reason         string
	Started, Ended time.Time // of the last attempt
}

// Result is a snapshot of a run.
type Result struct {
	ID     string
	Status RunStatus
	Reason string
	Steps  []StepResult // in plan order
}

// Step returns the result for key, or the zero StepResult.
func (r Result) Step(key asset.Key) StepResult {
	for _, s := range r.Steps {
		if s.Asset == key {
			return s
		}
	}
	return StepResult{}
}

func newRun(e *Executor, p *Plan, req RunRequest, trace TraceParent) *Run {
	r := &Run{ID: req.ID, e: e, plan: p, req: req, trace: trace, done: make(chan struct{})}
	r.steps = make([]StepResult, len(p.Steps))
	for i, s := range p.Steps {
		r.steps[i] = StepResult{Asset: s.Key, Status: StepQueued}
	}
	return r
}

// Cancel stops the run: queued steps are canceled and running ones stopped
// (their process groups get SIGTERM, then SIGKILL after the grace period).
// It returns at once; wait on Done for the end.
func (r *Run) Cancel() { r.cancel(ErrRunCanceled) }

// Done is closed when the run has ended and every process has exited.
func (r *Run) Done() <-chan struct{} { return r.done }

// Result returns the run's current state (its final state after Done).
func (r *Run) Result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Result{ID: r.ID, Status: r.status, Reason: r.reason, Steps: slices.Clone(r.steps)}
}

// Wait waits for the run to end, or for ctx.
func (r *Run) Wait(ctx context.Context) (Result, error) {
	select {
	case <-r.done:
		return r.Result(), nil
	case <-ctx.Done():
		return r.Result(), fmt.Errorf("wait for run %s: %w", r.ID, ctx.Err())
	}
}

func (r *Run) setStatus(s RunStatus, reason string) {
	r.mu.Lock()
	r.status, r.reason = s, reason
	r.mu.Unlock()
	r.e.opts.Observer.RunChanged(RunUpdate{RunID: r.ID, Status: s, Time: time.Now(), Reason: reason})
}

func (r *Run) setStep(i int, s StepStatus, reason string, retryIn time.Duration) {
	r.mu.Lock()
	st := &r.steps[i]
	st.Status, st.Reason = s, reason
	attempt := st.Attempts
	r.mu.Unlock()
	r.e.opts.Observer.StepChanged(StepUpdate{RunID: r.ID, Asset: st.Asset, Status: s, Attempt: attempt, Time: time.Now(), Reason: reason, RetryIn: retryIn})
}

// attemptDone is an attempt's end, sent from its goroutine to the loop.
type attemptDone struct {
	step    int
	attempt int
	outcome Outcome
	proc    Process     // zero if the launcher never reported a start
	pipes   pipesReport // what the child reported
}

// attemptStarted is a launcher's start report, sent to the loop.
type attemptStarted struct {
	step, attempt int
	proc          Process
}

// scheduler is the loop's state; only the loop goroutine touches it.
type scheduler struct {
	r       *Run
	ctx     context.Context
	pending []int       // upstream steps not yet succeeded
	down    [][]int     // step -> downstream steps
	height  []int       // longest chain of steps from here to a last step
	ready   []int       // runnable steps, best first
	env     [][]string  // expanded env, per step, once expanded
	logs    []*stepLogs // per step
	retries map[int]*time.Timer
	// announced is, per step, the last attempt whose STARTED observers
	// have heard.
	announced []int
	running   int
	started   bool // the run has reached STARTED
	canceled  bool
	doneCh    chan attemptDone
	retryCh   chan int
	startCh   chan attemptStarted
}

func (r *Run) loop(ctx context.Context) {
	defer close(r.done)
	defer r.cancel(nil) // release the context's resources
	r.setStatus(RunStarting, "")
	s := r.newScheduler(ctx)
	for {
		// Taken before dispatching, so a release during it is not missed.
		released := r.e.limits.changed()
		if !s.canceled {
			s.dispatch()
		}
		if s.running == 0 && (s.canceled || len(s.ready) == 0 && len(s.retries) == 0) {
			break
		}
		var cancel, release <-chan struct{}
		if !s.canceled {
			cancel = ctx.Done()
			if len(s.ready) > 0 {
				release = released
			}
		}
		select {
		case d := <-s.doneCh:
			s.finished(d)
		case a := <-s.startCh:
			s.announceStarted(a.step, a.attempt, a.proc)
		case i := <-s.retryCh:
			if _, ok := s.retries[i]; ok {
				delete(s.retries, i)
				s.push(i)
			}
		case <-release:
		case <-cancel:
			s.cancelAll(context.Cause(ctx))
		}
	}
	r.finish()
}
