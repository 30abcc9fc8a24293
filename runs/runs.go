// Package runs is the server's side of the executor: it launches runs of
// a selection, records them (the runs table of the store, run events in
// the event log, step output in the run logs), answers what is in flight,
// streams a run's progress to followers, and on start reconciles the runs
// a crash left behind.
//
// The executor does the running; this package decides nothing about
// freshness (see package automation) and knows nothing of HTTP.
package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/store"
)

// Triggers say who asked for a run.
const (
	TriggerManual     = "manual"     // the API or CLI
	TriggerAutomation = "automation" // the freshness automation
	TriggerReexecute  = "reexecute"  // a re-execution of an earlier run
	TriggerRecovery   = "recovery"   // a retry of steps a crash interrupted
)

// Errors callers map to answers.
var (
	// ErrBadSelection wraps every reason a selection cannot be planned.
	ErrBadSelection = errors.New("invalid selection")
	// ErrNotFound: no run with that id.
	ErrNotFound = store.ErrRunNotFound
	// ErrFinished: the run has already ended (cancel of a finished run).
	ErrFinished = errors.New("run already finished")
	// ErrNotFinished: re-execution of a run still going.
	ErrNotFinished = errors.New("run not finished")
	// ErrNothingToRetry: re-execution from failure of a run with no failed step.
	ErrNothingToRetry = errors.New("nothing to re-execute")
	// ErrClosed: the service is shutting down.
	ErrClosed = errors.New("runs service closed")
)

// Submitter takes the events runs produce into the event log (the ingest
// pipeline: durable once Submit returns).
type Submitter interface {
	Submit(ctx context.Context, events []asset.Event) error
}

// Options configure a Service. Store, Events and Launcher are required.
type Options struct {
	Store    store.RunStore
	Events   Submitter
	Launcher executor.Launcher
	Limits   executor.Limits
	Backoff  executor.Backoff
	// Owner names this server instance in the runs it starts.
	Owner string
	Log   *slog.Logger
	// FlushEvery is how often pending run, step and log records are
	// written to the store (default 200ms); a run's end is written at once.
	FlushEvery time.Duration
	// OrphanGrace is how long a child left by a crash gets between SIGTERM
	// and SIGKILL when reconciled (default 5s).
	OrphanGrace time.Duration
	// LookupEnv resolves ${NAME} in materialize env (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Tracer records a span per run and per step attempt, and the run
	// span's context becomes the run's TRACEPARENT (telemetry.go). Nil:
	// no spans; each run starts a trace id of its own for its children.
	Tracer trace.Tracer
	// Notify is told of every run and step change (not log lines), under
	// the service's lock: it must not block or call back (live.Hub's
	// Publish does neither). Nil: nobody is told.
	Notify func(Update)
}

// Service runs and records runs. Create it with New, give it specs,
// Start it, then Reconcile what a previous process left.
type Service struct {
	opts    Options
	exec    *executor.Executor
	log     *slog.Logger
	tracer  trace.Tracer
	metrics *metrics

	mu      sync.Mutex
	ctx     context.Context // runs' parent; set by Start
	done    chan struct{}
	closed  bool
	specs   []asset.Spec
	command map[asset.Key]*asset.MaterializeSpec // the specs with a command, by key
	live    map[string]*liveRun                  // runs of this process not yet recorded as final
	busy    map[asset.Key]string                 // asset -> a run queued or in flight for it
	runs    map[string]store.RunRecord
	steps   map[stepID]store.StepRecord
	logs    []store.RunLogLine
	// flushing are the lines a flush has taken out of logs and is writing:
	// still shown by Logs until the store has them.
	flushing []store.RunLogLine
	wake     chan struct{}
	flushed  chan struct{} // closed and replaced after each flush
}

type stepID struct {
	run   string
	asset asset.Key
}

// liveRun is a run of this process.
type liveRun struct {
	run   *executor.Run
	rec   store.RunRecord
	steps map[asset.Key]*store.StepRecord
	seq   uint64
	subs  map[chan Update]struct{}
	// emitted: assets whose run_started was sent to the event log.
	emitted map[asset.Key]bool
	// span is the run's; stepSpans the attempts' in progress.
	span      trace.Span
	stepSpans map[asset.Key]trace.Span
}

// Update is one change of a followed run: a status, a step or a log line.
type Update struct {
	Run  *store.RunRecord
	Step *store.StepRecord
	Log  *store.RunLogLine
}

// New returns a Service. Nothing runs until Run is called.
func New(opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 200 * time.Millisecond
	}
	if opts.OrphanGrace <= 0 {
		opts.OrphanGrace = 5 * time.Second
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	s := &Service{
		opts: opts, log: opts.Log, tracer: opts.Tracer,
		live: map[string]*liveRun{}, busy: map[asset.Key]string{},
		runs: map[string]store.RunRecord{}, steps: map[stepID]store.StepRecord{},
		wake: make(chan struct{}, 1), flushed: make(chan struct{}),
	}
	s.exec = executor.New(opts.Launcher, executor.Options{
		Limits: opts.Limits, Backoff: opts.Backoff, LookupEnv: opts.LookupEnv,
		Recorder: recorder{s}, Observer: observer{s}, Logs: logSink{s}, Log: opts.Log,
	})
	s.metrics = newMetrics(s)
	return s
}

// SetSpecs replaces the specs selections are planned over. Only specs with
// a Materialize command become steps; the caller decides where commands
// may come from (the definitions file, never the API).
func (s *Service) SetSpecs(specs []asset.Spec) {
	command := make(map[asset.Key]*asset.MaterializeSpec)
	for i := range specs {
		if specs[i].Materialize != nil {
			command[specs[i].Key] = specs[i].Materialize
		}
	}
	s.mu.Lock()
	s.specs, s.command = slices.Clone(specs), command
	s.mu.Unlock()
}

// Materializable reports whether key has a materialize command.
func (s *Service) Materializable(key asset.Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.command[key] != nil
}

// LaunchRequest asks for a run.
type LaunchRequest struct {
	// Selection terms: keys, +key (with upstream), key+ (with downstream),
	// group:NAME, tag:NAME.
	Selection []string
	Partition string
	Trigger   string // default TriggerManual
	Parent    string // the run this one re-executes or recovers
}

// Launch plans the selection and starts the run. Planning errors wrap
// ErrBadSelection.
func (s *Service) Launch(ctx context.Context, req LaunchRequest) (store.RunRecord, error) {
	s.mu.Lock()
	specs, runCtx, closed := s.specs, s.ctx, s.closed
	s.mu.Unlock()
	if closed || runCtx == nil {
		return store.RunRecord{}, ErrClosed
	}
	plan, err := executor.NewPlan(specs, req.Selection)
	if err != nil {
		return store.RunRecord{}, fmt.Errorf("%w: %w", ErrBadSelection, err)
	}
	if req.Trigger == "" {
		req.Trigger = TriggerManual
	}
	now := time.Now().UTC()
	id := asset.NewEventID()
	lr := &liveRun{
		rec: store.RunRecord{ID: id, Status: string(executor.RunQueued), Trigger: req.Trigger,
			Selection: joinSelection(req.Selection), Partition: req.Partition, Parent: req.Parent,
			Owner: s.opts.Owner, Created: now, Updated: now},
		steps: make(map[asset.Key]*store.StepRecord, len(plan.Steps)),
		subs:  map[chan Update]struct{}{}, emitted: map[asset.Key]bool{}, stepSpans: map[asset.Key]trace.Span{},
	}
	var traceParent string
	lr.span, traceParent = s.startRunSpan(ctx, &runRecordView{id: id, trigger: req.Trigger, parent: req.Parent,
		partition: req.Partition, selection: req.Selection, created: now}, len(plan.Steps))
	s.mu.Lock()
	for i, st := range plan.Steps {
		rec := &store.StepRecord{RunID: id, Asset: st.Key, Index: i, Status: string(executor.StepQueued), Updated: now}
		lr.steps[st.Key] = rec
		s.steps[stepID{id, st.Key}] = *rec
		if _, ok := s.busy[st.Key]; !ok {
			s.busy[st.Key] = id
		}
	}
	s.live[id] = lr
	s.runs[id] = lr.rec
	s.mu.Unlock()
	// The run's context is the service's, not the request's: a run
	// outlives the HTTP call that launched it.
	run, err := s.exec.Start(runCtx, plan, executor.RunRequest{ID: id, Partition: req.Partition, TraceParent: traceParent})
	if err != nil {
		s.mu.Lock()
		lr.rec.Status, lr.rec.Reason = string(executor.RunFailure), err.Error()
		endRunSpan(lr, time.Now())
		s.forget(lr)
		delete(s.runs, id)
		for k := range lr.steps {
			delete(s.steps, stepID{id, k})
		}
		s.mu.Unlock()
		return store.RunRecord{}, fmt.Errorf("start run: %w", err)
	}
	s.mu.Lock()
	lr.run = run
	rec := lr.rec
	s.notify(Update{Run: &rec})
	s.mu.Unlock()
	s.poke()
	s.log.Info("run launched", "run", id, "trigger", req.Trigger, "selection", rec.Selection, "steps", len(plan.Steps))
	return rec, nil
}

// Cancel asks a run of this process to stop. ErrNotFound for an unknown
// id, ErrFinished for a run that has ended.
func (s *Service) Cancel(ctx context.Context, id string) (store.RunRecord, error) {
	s.mu.Lock()
	lr, ok := s.live[id]
	var rec store.RunRecord
	if ok {
		rec = lr.rec
	}
	s.mu.Unlock()
	if !ok {
		rec, _, err := s.Get(ctx, id)
		if err != nil {
			return store.RunRecord{}, err
		}
		return rec, fmt.Errorf("%w: run %s is %s", ErrFinished, id, rec.Status)
	}
	// Final but not yet stored and forgotten (the next flush does both).
	if executor.RunStatus(rec.Status).Done() {
		return rec, fmt.Errorf("%w: run %s is %s", ErrFinished, id, rec.Status)
	}
	if lr.run != nil {
		lr.run.Cancel()
	}
	return rec, nil
}

// Get returns a run and its steps: this process's current view for a
// live run, else the store's.
func (s *Service) Get(ctx context.Context, id string) (store.RunRecord, []store.StepRecord, error) {
	s.mu.Lock()
	if lr, ok := s.live[id]; ok {
		rec, steps := lr.rec, lr.stepList()
		s.mu.Unlock()
		return rec, steps, nil
	}
	s.mu.Unlock()
	return s.opts.Store.Run(ctx, id)
}

// List pages through runs (from the store, after a flush of what is
// pending so the page is current).
func (s *Service) List(ctx context.Context, q store.RunQuery) (store.RunPage, error) {
	if err := s.Flush(ctx); err != nil {
		return store.RunPage{}, err
	}
	return s.opts.Store.Runs(ctx, q)
}

// Logs returns a run's lines after q.AfterSeq, including those not yet
// written to the store.
func (s *Service) Logs(ctx context.Context, q store.RunLogQuery) ([]store.RunLogLine, error) {
	if _, _, err := s.Get(ctx, q.RunID); err != nil {
		return nil, err
	}
	// The lines not yet stored (pending, or being written by a flush) are
	// read before the store, not after: a flush between the two reads
	// moves lines from memory to the store, and reading the store first
	// would miss them (seen: a finished run whose lines were all in flight
	// showed none).
	limit := q.EffectiveLimit()
	var pending []store.RunLogLine
	s.mu.Lock()
	for _, l := range slices.Concat(s.flushing, s.logs) {
		if l.RunID == q.RunID && l.Seq > q.AfterSeq {
			pending = append(pending, l)
		}
	}
	s.mu.Unlock()
	lines, err := s.opts.Store.RunLogs(ctx, q)
	if err != nil {
		return nil, err
	}
	last := q.AfterSeq
	if n := len(lines); n > 0 {
		last = lines[n-1].Seq
	}
	for _, l := range pending {
		if len(lines) >= limit {
			break
		}
		if l.Seq > last {
			lines = append(lines, l)
			last = l.Seq
		}
	}
	return lines, nil
}

// Follow subscribes to a live run's updates. The channel is closed when
// the run ends (after its final status) or when cancel is called. ok is
// false if the run is not live (finished, or unknown).
func (s *Service) Follow(id string) (updates <-chan Update, cancel func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lr, ok := s.live[id]
	if !ok {
		return nil, func() {}, false
	}
	ch := make(chan Update, 1024)
	lr.subs[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			if _, ok := lr.subs[ch]; ok {
				delete(lr.subs, ch)
				close(ch)
			}
			s.mu.Unlock()
		})
	}, true
}

// InFlight returns the run queued or in flight for key, if any.
func (s *Service) InFlight(key asset.Key) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.busy[key]
	return id, ok
}

// Start begins taking launches and writing records to the store, until
// ctx ends: then the runs still going are canceled, and Done is closed
// once they have stopped and what is left is written.
func (s *Service) Start(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.done = make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		if err := s.loop(ctx); err != nil {
			s.log.Warn("writing runs at shutdown failed", "err", err)
		}
	}()
}

// Done is closed when the service has stopped (see Start).
func (s *Service) Done() <-chan struct{} { return s.done }

func (s *Service) loop(ctx context.Context) error {
	t := time.NewTicker(s.opts.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.closed = true
			var waits []<-chan struct{}
			for _, lr := range s.live {
				if lr.run != nil {
					waits = append(waits, lr.run.Done())
				}
			}
			s.mu.Unlock()
			for _, w := range waits {
				<-w // the context's end canceled them
			}
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return s.flush(fctx)
		case <-t.C:
		case <-s.wake:
		}
		if err := s.flush(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("writing runs to the store failed; will retry", "err", err)
		}
	}
}

// Flush writes what is pending now.
func (s *Service) Flush(ctx context.Context) error { return s.flush(ctx) }

func (s *Service) flush(ctx context.Context) error {
	s.mu.Lock()
	runs := mapValues(s.runs)
	steps := mapValues(s.steps)
	logs := s.logs
	s.runs, s.steps, s.logs = map[string]store.RunRecord{}, map[stepID]store.StepRecord{}, nil
	s.flushing = logs
	s.mu.Unlock()
	var err error
	if len(logs) > 0 {
		err = s.opts.Store.AppendRunLogs(ctx, logs)
	}
	if err == nil && len(steps) > 0 {
		err = s.opts.Store.PutSteps(ctx, steps)
	}
	if err == nil && len(runs) > 0 {
		err = s.opts.Store.PutRuns(ctx, runs)
	}
	if err != nil {
		// Put them back unless something newer arrived meanwhile.
		s.mu.Lock()
		for _, r := range runs {
			if cur, ok := s.runs[r.ID]; !ok || cur.Updated.Before(r.Updated) {
				s.runs[r.ID] = r
			}
		}
		for _, st := range steps {
			id := stepID{st.RunID, st.Asset}
			if cur, ok := s.steps[id]; !ok || cur.Updated.Before(st.Updated) {
				s.steps[id] = st
			}
		}
		s.logs = append(logs, s.logs...)
		s.flushing = nil
		s.mu.Unlock()
		return fmt.Errorf("write runs: %w", err)
	}
	s.mu.Lock()
	s.flushing = nil
	// A run recorded as final is no longer live once it is stored.
	for _, r := range runs {
		if lr, ok := s.live[r.ID]; ok && executor.RunStatus(r.Status).Done() && lr.rec.Updated.Equal(r.Updated) {
			s.forget(lr)
		}
	}
	close(s.flushed)
	s.flushed = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// forget drops a live run: its followers are told it is over. Callers
// hold s.mu.
func (s *Service) forget(lr *liveRun) {
	delete(s.live, lr.rec.ID)
	for ch := range lr.subs {
		close(ch)
	}
	lr.subs = nil
	for k := range lr.steps {
		if s.busy[k] == lr.rec.ID {
			delete(s.busy, k)
		}
	}
}

// notify tells Options.Notify of u. Callers hold s.mu, so changes are
// told in the order they happen.
func (s *Service) notify(u Update) {
	if s.opts.Notify != nil {
		s.opts.Notify(u)
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// publish sends u to the run's followers; a follower that does not keep
// up is dropped (its channel closed) rather than block the run.
func (lr *liveRun) publish(u Update) {
	for ch := range lr.subs {
		select {
		case ch <- u:
		default:
			delete(lr.subs, ch)
			close(ch)
		}
	}
}

func (lr *liveRun) stepList() []store.StepRecord {
	out := make([]store.StepRecord, 0, len(lr.steps))
	for _, st := range lr.steps {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b store.StepRecord) int { return a.Index - b.Index })
	return out
}

// bump returns a version after prev: now, or prev+1ns when the clock has
// not moved, so each record's versions strictly increase.
func bump(prev, now time.Time) time.Time {
	if !now.After(prev) {
		return prev.Add(time.Nanosecond)
	}
	return now
}

// joinSelection is how a selection is kept in RunRecord.Selection: a JSON
// array, since keys may hold spaces.
func joinSelection(sel []string) string {
	b, _ := json.Marshal(sel)
	return string(b)
}

// Selection returns a run's selection terms.
func Selection(rec store.RunRecord) []string {
	var sel []string
	if json.Unmarshal([]byte(rec.Selection), &sel) != nil {
		return strings.Fields(rec.Selection)
	}
	return sel
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Reexecute launches a run again: its whole selection, or with fromFailure
// only its steps that did not succeed (failed, skipped, canceled), which
// the planner orders again. ErrNothingToRetry if every step succeeded.
func (s *Service) Reexecute(ctx context.Context, id string, fromFailure bool) (store.RunRecord, error) {
	rec, steps, err := s.Get(ctx, id)
	if err != nil {
		return store.RunRecord{}, err
	}
	if !executor.RunStatus(rec.Status).Done() {
		return store.RunRecord{}, fmt.Errorf("%w: run %s is %s; cancel it or wait for its end", ErrNotFinished, id, rec.Status)
	}
	sel := Selection(rec)
	if fromFailure {
		sel = sel[:0]
		for _, st := range steps {
			if st.Status != string(executor.StepSuccess) {
				sel = append(sel, string(st.Asset))
			}
		}
		if len(sel) == 0 {
			return store.RunRecord{}, fmt.Errorf("%w: every step of run %s succeeded", ErrNothingToRetry, id)
		}
	}
	return s.Launch(ctx, LaunchRequest{Selection: sel, Partition: rec.Partition, Trigger: TriggerReexecute, Parent: id})
}
