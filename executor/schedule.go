package executor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

func (r *Run) newScheduler(ctx context.Context) *scheduler {
	n := len(r.plan.Steps)
	s := &scheduler{
		r:         r,
		ctx:       ctx,
		pending:   make([]int, n),
		down:      make([][]int, n),
		height:    make([]int, n),
		env:       make([][]string, n),
		logs:      make([]*stepLogs, n),
		retries:   make(map[int]*time.Timer),
		announced: make([]int, n),
		doneCh:    make(chan attemptDone, n),
		retryCh:   make(chan int, n),
		startCh:   make(chan attemptStarted, n),
	}
	index := make(map[asset.Key]int, n)
	for i, st := range r.plan.Steps {
		index[st.Key] = i
		s.logs[i] = &stepLogs{sink: r.e.opts.Logs, runID: r.ID, key: st.Key, maxBytes: r.e.opts.MaxLogBytes}
	}
	for i, st := range r.plan.Steps {
		for _, u := range st.Upstream {
			if j, ok := index[u]; ok {
				s.pending[i]++
				s.down[j] = append(s.down[j], i)
			}
		}
	}
	// Plan order is a dependency order, so heights fill in backwards.
	for i := n - 1; i >= 0; i-- {
		for _, d := range s.down[i] {
			s.height[i] = max(s.height[i], s.height[d]+1)
		}
	}
	for i := range n {
		if s.pending[i] == 0 {
			s.push(i)
		}
	}
	return s
}

// push makes step i runnable. The ready list is kept best first: the
// longest chain of work behind it first (the classic list-scheduling
// priority, which keeps the critical path moving), then plan order.
func (s *scheduler) push(i int) {
	at, _ := slices.BinarySearchFunc(s.ready, i, func(a, b int) int {
		if s.height[a] != s.height[b] {
			return s.height[b] - s.height[a]
		}
		return a - b
	})
	s.ready = slices.Insert(s.ready, at, i)
}

// dispatch launches the ready steps that get a slot, best first. A step
// whose pool is full waits without holding a slot and without holding up
// steps of other pools.
func (s *scheduler) dispatch() {
	lim := s.r.e.limits
	for k := 0; k < len(s.ready); {
		i := s.ready[k]
		if s.env[i] == nil {
			if err := s.prepare(i); err != nil {
				s.ready = slices.Delete(s.ready, k, k+1)
				s.fail(i, Outcome{Ended: time.Now(), Err: err}, nil)
				continue
			}
		}
		if lim.full() {
			return
		}
		if !lim.tryAcquire(s.r.plan.Steps[i].Materialize.Pool) {
			k++
			continue
		}
		s.ready = slices.Delete(s.ready, k, k+1)
		s.launch(i)
	}
}

// prepare expands step i's environment. The trace parent is per run; each
// attempt gets its own span id at launch.
func (s *scheduler) prepare(i int) error {
	r := s.r
	st := &r.plan.Steps[i]
	env, err := stepEnv(&st.Materialize, r.e.opts.LookupEnv, r.ID, st.Key, r.req.Partition, !r.e.opts.Pipes.Disabled)
	if err != nil {
		return &StartError{Err: err}
	}
	s.env[i] = env
	return nil
}

func (s *scheduler) launch(i int) {
	r := s.r
	st := &r.plan.Steps[i]
	if !s.started {
		s.started = true
		r.setStatus(RunStarted, "")
	}
	// The step is STARTED from now on (nothing skips or cancels it as
	// queued); observers hear it once the process runs, with its pid
	// (announceStarted), or at the attempt's end if it never ran.
	r.mu.Lock()
	r.steps[i].Attempts++
	r.steps[i].Status, r.steps[i].Reason = StepStarted, ""
	attempt := r.steps[i].Attempts
	r.mu.Unlock()
	env := append(slices.Clone(s.env[i]), EnvTraceParent+"="+r.trace.child().String())
	job := Job{
		RunID: r.ID, Asset: st.Key, Partition: r.req.Partition, Attempt: attempt,
		Argv: st.Materialize.Argv, Env: env, Dir: st.Materialize.Dir, Timeout: st.Materialize.Timeout,
	}
	r.e.log.Info("launch step", "run_id", r.ID, "asset", string(st.Key), "attempt", attempt, "argv", job.Argv, "env", envNames(env))
	s.running++
	out := s.logs[i].forAttempt(attempt)
	go func() { s.doneCh <- s.runAttempt(i, attempt, job, out) }()
}

// announceStarted announces an attempt's STARTED with its process, unless the
// attempt was already announced (it may have ended first).
func (s *scheduler) announceStarted(i, attempt int, p Process) {
	if s.announced[i] >= attempt {
		return
	}
	s.announced[i] = attempt
	r := s.r
	r.e.opts.Observer.StepChanged(StepUpdate{RunID: r.ID, Asset: r.plan.Steps[i].Key, Status: StepStarted, Attempt: attempt, Time: time.Now(), PID: p.PID, PIDStart: p.Start})
}

// finished handles the end of an attempt.
func (s *scheduler) finished(d attemptDone) {
	r := s.r
	i := d.step
	st := &r.plan.Steps[i]
	s.running--
	r.e.limits.put(st.Materialize.Pool)
	r.mu.Lock()
	r.steps[i].Started, r.steps[i].Ended = d.outcome.Started, d.outcome.Ended
	attempts := r.steps[i].Attempts
	r.mu.Unlock()

	s.announceStarted(i, d.attempt, d.proc)
	err := d.outcome.Err
	if err != nil && d.pipes.exception != "" {
		err = fmt.Errorf("%w; exception: %s", err, d.pipes.exception)
		d.outcome.Err = err
	}
	switch {
	case err == nil:
		r.setStep(i, StepSuccess, "", 0)
		s.record(i, d.outcome, &d.pipes, true)
		for _, w := range s.down[i] {
			if s.pending[w]--; s.pending[w] == 0 && !s.canceled && s.status(w) == StepQueued {
				s.push(w)
			}
		}
	case errors.Is(err, context.Canceled):
		r.setStep(i, StepCanceled, err.Error(), 0)
		s.record(i, d.outcome, &d.pipes, false)
	case attempts <= st.Materialize.Retries && retryable(err) && !s.canceled:
		delay := r.e.opts.Backoff.Delay(attempts, r.e.opts.Rand())
		r.e.log.Info("step failed; will retry", "run_id", r.ID, "asset", string(st.Key), "attempt", attempts, "retry_in", delay, "error", err)
		r.setStep(i, StepUpForRetry, err.Error(), delay)
		s.record(i, d.outcome, &d.pipes, false)
		s.retries[i] = time.AfterFunc(delay, func() { s.retryCh <- i })
	default:
		s.fail(i, d.outcome, &d.pipes)
	}
}

// retryable: a command that could not start will not start next time.
func retryable(err error) bool {
	var se *StartError
	return !errors.As(err, &se)
}

// fail marks step i failed with o.Err, records it (after the checks its
// child reported, if any), and skips its downstream steps.
func (s *scheduler) fail(i int, o Outcome, rep *pipesReport) {
	r := s.r
	r.e.log.Warn("step failed", "run_id", r.ID, "asset", string(r.plan.Steps[i].Key), "error", o.Err)
	r.setStep(i, StepFailure, o.Err.Error(), 0)
	s.record(i, o, rep, true)
	reason := fmt.Sprintf("upstream step %s failed", r.plan.Steps[i].Key)
	stack := slices.Clone(s.down[i])
	for len(stack) > 0 {
		w := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s.status(w) != StepQueued {
			continue // already skipped (through another path) or done
		}
		s.ready = slices.DeleteFunc(s.ready, func(v int) bool { return v == w })
		r.setStep(w, StepSkipped, reason, 0)
		stack = append(stack, s.down[w]...)
	}
}

// cancelAll stops the run: queued and retry-waiting steps are canceled now;
// running attempts see the canceled context and end as canceled.
func (s *scheduler) cancelAll(cause error) {
	r := s.r
	s.canceled = true
	reason := "run canceled"
	if cause != nil && !errors.Is(cause, ErrRunCanceled) {
		reason = fmt.Sprintf("run canceled: %v", cause)
	}
	r.setStatus(RunCanceling, reason)
	for i, t := range s.retries {
		t.Stop()
		delete(s.retries, i)
	}
	s.ready = s.ready[:0]
	for i := range r.plan.Steps {
		switch s.status(i) {
		case StepQueued, StepUpForRetry:
			r.setStep(i, StepCanceled, reason, 0)
		}
	}
}

func (s *scheduler) status(i int) StepStatus {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.r.steps[i].Status
}

// record hands the Recorder the check results the attempt's child
// reported (rep, which may be nil) and, when outcome is set, the step's
// outcome event: a materialization, or a materialization_failed when o.Err
// is set. The child's own materialization report, on success, gives the
// materialization its metadata and data version; duration_s and attempts
// are the executor's.
func (s *scheduler) record(i int, o Outcome, rep *pipesReport, outcome bool) {
	r := s.r
	r.mu.Lock()
	st := r.steps[i]
	r.mu.Unlock()
	var events []asset.Event
	if rep != nil {
		events = append(events, rep.checks...)
	}
	if outcome {
		ended := o.Ended
		if ended.IsZero() {
			// A command that could not start has no end of its own; an
			// event without a time would be refused by the store.
			ended = time.Now()
		}
		e := asset.Event{
			ID:        asset.NewEventID(),
			Kind:      asset.KindMaterialization,
			Asset:     st.Asset,
			Time:      ended.UTC(),
			RunID:     r.ID,
			Partition: r.req.Partition,
			Metadata:  make(asset.Metadata, 2),
		}
		if o.Err == nil && rep != nil && rep.materialized {
			maps.Copy(e.Metadata, rep.metadata)
			if rep.dataVersion != "" {
				e.Metadata[MetaDataVersion] = asset.Text(rep.dataVersion)
			}
		}
		e.Metadata[MetaDuration] = asset.Float(o.Duration().Seconds())
		e.Metadata[MetaAttempts] = asset.Int(int64(st.Attempts))
		if o.Err != nil {
			e.Kind = asset.KindMaterializationFailed
			e.Metadata[MetaError] = asset.Text(o.Err.Error())
		}
		events = append(events, e)
	}
	if len(events) == 0 {
		return
	}
	if err := r.e.opts.Recorder.Record(context.WithoutCancel(s.ctx), events); err != nil {
		r.e.log.Error("record step outcome", "run_id", r.ID, "asset", string(st.Asset), "events", len(events), "error", err)
	}
}

// finish sets the run's final status.
func (r *Run) finish() {
	res := r.Result()
	if res.Status == RunCanceling {
		r.setStatus(RunCanceled, res.Reason)
		return
	}
	var failed []string
	for _, st := range res.Steps {
		if st.Status == StepFailure {
			failed = append(failed, string(st.Asset))
		}
	}
	if len(failed) > 0 {
		r.setStatus(RunFailure, fmt.Sprintf("%d step(s) failed: %v", len(failed), failed))
		return
	}
	r.setStatus(RunSuccess, "")
}
