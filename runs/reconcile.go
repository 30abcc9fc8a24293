package runs

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/store"
)

// ReasonInterrupted ends the runs and steps a crash (or kill -9) left
// unfinished.
const ReasonInterrupted = "interrupted: the server stopped while it ran"

// orphanJobs is a launcher that runs steps elsewhere than in this
// server's process group (the Kubernetes launcher): it finds and stops
// what a previous process left running for a step.
type orphanJobs interface {
	StopOrphans(ctx context.Context, runID string, key asset.Key) (int, error)
}

// Reconciled says what Reconcile did.
type Reconciled struct {
	Runs     int      // runs marked FAILURE
	Stopped  int      // children of the previous process found alive and stopped
	Retried  []string // recovery runs launched
	Failures []string // problems that did not stop reconciliation
}

// Reconcile ends the runs a previous process left unfinished: a child
// still alive (same pid and start time) is stopped with its whole process
// group, never left orphaned (with a launcher that runs steps elsewhere,
// such as Kubernetes Jobs, its StopOrphans finds and stops them); its step and the run are marked FAILURE
// with ReasonInterrupted, and a materialization_failed and a run_failed
// event go to the event log. Steps whose asset allows retries are run
// again in one recovery run. Call it after SetSpecs and Start, before
// taking launches from elsewhere.
func (s *Service) Reconcile(ctx context.Context) (Reconciled, error) {
	var out Reconciled
	var open []store.RunRecord
	q := store.RunQuery{Statuses: []string{
		string(executor.RunQueued), string(executor.RunStarting), string(executor.RunStarted), string(executor.RunCanceling)}}
	for {
		page, err := s.opts.Store.Runs(ctx, q)
		if err != nil {
			return out, fmt.Errorf("reconcile: list unfinished runs: %w", err)
		}
		open = append(open, page.Runs...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	retry := map[asset.Key]bool{}
	var parent string
	for _, rec := range open {
		s.mu.Lock()
		_, mine := s.live[rec.ID]
		s.mu.Unlock()
		if mine {
			continue // started by this process
		}
		_, steps, err := s.opts.Store.Run(ctx, rec.ID)
		if err != nil {
			out.Failures = append(out.Failures, fmt.Sprintf("run %s: %v", rec.ID, err))
			continue
		}
		now := time.Now().UTC()
		var events []asset.Event
		var stepsOut []store.StepRecord
		for _, st := range steps {
			if executor.StepStatus(st.Status).Done() {
				continue
			}
			reason := ReasonInterrupted
			if st.PID > 0 {
				found, err := executor.StopOrphan(st.PID, st.PIDStart, s.opts.OrphanGrace)
				switch {
				case err != nil:
					out.Failures = append(out.Failures, fmt.Sprintf("run %s step %s: stop pid %d: %v", rec.ID, st.Asset, st.PID, err))
				case found:
					out.Stopped++
					reason += fmt.Sprintf(" (its process %d was still running and was stopped)", st.PID)
				}
			}
			// Every unfinished step, not only STARTED ones: the crash may
			// have come between creating a Job and recording STARTED.
			if o, ok := s.opts.Launcher.(orphanJobs); ok {
				n, err := o.StopOrphans(ctx, rec.ID, st.Asset)
				if err != nil {
					out.Failures = append(out.Failures, fmt.Sprintf("run %s step %s: stop its Jobs: %v", rec.ID, st.Asset, err))
				}
				if n > 0 {
					out.Stopped += n
					reason += fmt.Sprintf(" (%d Job(s) still running were deleted)", n)
				}
			}
			wasRunning := st.Status == string(executor.StepStarted) || st.Status == string(executor.StepUpForRetry)
			st.Status, st.Reason, st.Ended, st.PID, st.PIDStart = string(executor.StepFailure), reason, now, 0, 0
			st.Updated = bump(st.Updated, now)
			stepsOut = append(stepsOut, st)
			if wasRunning {
				events = append(events, asset.Event{ID: asset.NewEventID(), Kind: asset.KindMaterializationFailed,
					Asset: st.Asset, Time: now, RunID: rec.ID, Partition: rec.Partition,
					Metadata: map[string]asset.MetaValue{executor.MetaError: asset.Text(reason)}})
			}
			if s.retries(st.Asset) > 0 && rec.Trigger != TriggerRecovery {
				retry[st.Asset] = true
				parent = rec.ID
			}
		}
		rec.Status, rec.Reason, rec.Ended = string(executor.RunFailure), ReasonInterrupted, now
		rec.Updated = bump(rec.Updated, now)
		for _, st := range steps {
			if !st.Started.IsZero() {
				events = append(events, runEvent(asset.KindRunFailed, st.Asset, rec, now))
			}
		}
		if err := s.opts.Store.PutSteps(ctx, stepsOut); err != nil {
			return out, fmt.Errorf("reconcile run %s: %w", rec.ID, err)
		}
		if err := s.opts.Store.PutRuns(ctx, []store.RunRecord{rec}); err != nil {
			return out, fmt.Errorf("reconcile run %s: %w", rec.ID, err)
		}
		if err := s.opts.Events.Submit(ctx, events); err != nil {
			return out, fmt.Errorf("reconcile run %s: record events: %w", rec.ID, err)
		}
		out.Runs++
		s.metrics.total.WithLabelValues(rec.Trigger, rec.Status).Inc()
		s.log.Warn("run interrupted by a restart marked failed", "run", rec.ID, "steps", len(stepsOut))
	}
	if len(retry) > 0 {
		keys := make([]string, 0, len(retry))
		for k := range retry {
			keys = append(keys, string(k))
		}
		slices.Sort(keys)
		rec, err := s.Launch(ctx, LaunchRequest{Selection: keys, Trigger: TriggerRecovery, Parent: parent})
		if err != nil {
			out.Failures = append(out.Failures, fmt.Sprintf("recovery run of %v: %v", keys, err))
		} else {
			out.Retried = append(out.Retried, rec.ID)
		}
	}
	return out, nil
}

// retries is the materialize retries of key's spec (0 without a command).
func (s *Service) retries(key asset.Key) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.command[key]; m != nil {
		return m.Retries
	}
	return 0
}
