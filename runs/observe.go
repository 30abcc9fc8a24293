package runs

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/store"
)

// The executor calls these from its runs' goroutines; they update the
// live run, queue records for the next flush, tell followers, and put
// run events in the event log.

type observer struct{ s *Service }

func (o observer) RunChanged(u executor.RunUpdate) {
	s := o.s
	s.mu.Lock()
	lr, ok := s.live[u.RunID]
	if !ok {
		s.mu.Unlock()
		return
	}
	rec := &lr.rec
	rec.Status, rec.Updated = string(u.Status), bump(rec.Updated, u.Time.UTC())
	if u.Reason != "" {
		rec.Reason = u.Reason
	}
	if u.Status == executor.RunStarted && rec.Started.IsZero() {
		rec.Started = u.Time.UTC()
	}
	final := u.Status.Done()
	if lr.span.IsRecording() {
		lr.span.AddEvent(string(u.Status), trace.WithTimestamp(u.Time))
	}
	if final {
		rec.Ended = u.Time.UTC()
		endRunSpan(lr, u.Time)
		s.metrics.total.WithLabelValues(rec.Trigger, rec.Status).Inc()
		for k := range lr.steps {
			if s.busy[k] == rec.ID {
				delete(s.busy, k)
			}
		}
	}
	s.runs[rec.ID] = *rec
	snapshot := *rec
	lr.publish(Update{Run: &snapshot})
	s.notify(Update{Run: &snapshot})
	var ends []asset.Event
	if final {
		ends = runEnd(lr)
	}
	s.mu.Unlock()
	if final {
		s.submit(ends)
		s.poke()
	}
}

// runEnd is one run event per asset of the run whose step started, so
// that the freshness monitor ends the run in flight for each of them.
func runEnd(lr *liveRun) []asset.Event {
	var kind asset.Kind
	switch executor.RunStatus(lr.rec.Status) {
	case executor.RunSuccess:
		kind = asset.KindRunSucceeded
	case executor.RunCanceled:
		kind = asset.KindRunCanceled
	default:
		kind = asset.KindRunFailed
	}
	var out []asset.Event
	for _, st := range lr.stepList() {
		if lr.emitted[st.Asset] {
			out = append(out, runEvent(kind, st.Asset, lr.rec, lr.rec.Ended))
		}
	}
	return out
}

func runEvent(kind asset.Kind, key asset.Key, rec store.RunRecord, at time.Time) asset.Event {
	e := asset.Event{ID: asset.NewEventID(), Kind: kind, Asset: key, Time: at, RunID: rec.ID, Partition: rec.Partition,
		Metadata: map[string]asset.MetaValue{"trigger": asset.Text(rec.Trigger)}}
	if rec.Reason != "" {
		e.Metadata["reason"] = asset.Text(rec.Reason)
	}
	return e
}

func (o observer) StepChanged(u executor.StepUpdate) {
	s := o.s
	s.mu.Lock()
	lr, ok := s.live[u.RunID]
	if !ok {
		s.mu.Unlock()
		return
	}
	st := lr.steps[u.Asset]
	if st == nil {
		s.mu.Unlock()
		return
	}
	at := u.Time.UTC()
	st.Status, st.Updated = string(u.Status), bump(st.Updated, at)
	st.Reason = u.Reason
	if u.Attempt > 0 {
		st.Attempts = u.Attempt
	}
	var started []asset.Event
	switch u.Status {
	case executor.StepStarted:
		st.Started, st.Ended = at, time.Time{}
		st.PID, st.PIDStart = u.PID, u.PIDStart
		s.startStepSpan(lr, u.Asset, st.Attempts, u.Time)
		if !lr.emitted[u.Asset] {
			lr.emitted[u.Asset] = true
			started = append(started, runEvent(asset.KindRunStarted, u.Asset, lr.rec, at))
		}
	default:
		if u.Status.Done() || u.Status == executor.StepUpForRetry {
			st.Ended = at
			st.PID, st.PIDStart = 0, 0
			endStepSpan(lr, u.Asset, u.Status, u.Reason, u.Time)
		}
	}
	s.steps[stepID{u.RunID, u.Asset}] = *st
	snapshot := *st
	lr.publish(Update{Step: &snapshot})
	s.notify(Update{Step: &snapshot})
	s.mu.Unlock()
	s.submit(started)
}

type logSink struct{ s *Service }

func (l logSink) StepLog(line executor.LogLine) {
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	lr, ok := s.live[line.RunID]
	if !ok {
		return
	}
	lr.seq++
	rec := store.RunLogLine{RunID: line.RunID, Seq: lr.seq, Asset: line.Asset, Attempt: line.Attempt,
		Stream: string(line.Stream), Time: line.Time.UTC(), Text: line.Text, Truncated: line.Truncated}
	s.logs = append(s.logs, rec)
	lr.publish(Update{Log: &rec})
}

type recorder struct{ s *Service }

// Record puts the steps' outcomes (materializations, failures, reported
// checks) into the event log, so the catalog and freshness see them.
func (r recorder) Record(ctx context.Context, events []asset.Event) error {
	return r.s.opts.Events.Submit(ctx, events)
}

// submit hands run events to the event log. A failure is logged: the run
// record in the store still says what happened.
func (s *Service) submit(events []asset.Event) {
	if len(events) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.opts.Events.Submit(ctx, events); err != nil {
		s.log.Warn("recording run events failed", "kind", events[0].Kind, "run", events[0].RunID, "err", err)
	}
}
