package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor/pipes"
)

// The Dagster Pipes side of an attempt: the session the child reports
// through (pipes.Session), and what it reported (pipesReport), which
// record turns into events.
//
// A message reaches its destination by one of two paths. On the file
// channel, pipes.Tail reads the session's messages file while the child
// runs and once more after it exited; on a stdio channel, the launcher's
// output readers hand every line to attemptPipes.stdio, which keeps the
// messages and passes the other lines on. Either way attemptPipes.line
// parses it: logs, custom messages and a closing exception go to the
// LogSink at once (stream "pipes"); materializations and check results
// wait in the report for the attempt's end.

// pipesCounters are an Executor's Pipes counts (PipesStats).
type pipesCounters struct{ messages, malformed atomic.Uint64 }

// Bounds on one attempt's reports: a child cannot make the executor hold
// more than this, whatever it writes.
const (
	maxPipesChecks    = 1000 // check results
	maxPipesMetadata  = 1000 // metadata entries of the materialization
	maxMalformedLogs  = 10   // malformed messages described in the logs; all are counted
	maxExceptionBytes = 1000 // of the exception message in a failure's reason
)

// pipesReport is what one attempt's child reported.
type pipesReport struct {
	materialized bool // a report_asset_materialization arrived
	metadata     asset.Metadata
	dataVersion  string
	checks       []asset.Event
	exception    string // the exception it closed with, one line; "" if none
}

// attemptPipes reads one attempt's messages. On a stdio channel lines come
// from two output readers at once: its methods are safe for concurrent use.
type attemptPipes struct {
	runID     string
	key       asset.Key
	partition string
	attempt   int
	logs      *stepLogs
	counters  *pipesCounters
	log       *slog.Logger

	mu        sync.Mutex
	rep       pipesReport
	malformed int
}

func (s *scheduler) newAttemptPipes(i, attempt int) *attemptPipes {
	r := s.r
	return &attemptPipes{
		runID: r.ID, key: r.plan.Steps[i].Key, partition: r.req.Partition, attempt: attempt,
		logs: s.logs[i], counters: &r.e.pipes, log: r.e.log,
	}
}

// pipesContext is the context a step's child gets.
func (s *scheduler) pipesContext(i, attempt int) pipes.ContextData {
	r := s.r
	st := &r.plan.Steps[i]
	key := string(st.Key)
	c := pipes.ContextData{
		AssetKeys:             []string{key},
		CodeVersionByAssetKey: map[string]*string{key: nil},
		ProvenanceByAssetKey:  map[string]*pipes.Provenance{key: nil},
		RunID:                 r.ID,
		RetryNumber:           attempt - 1,
		Extras:                r.e.opts.Pipes.Extras,
	}
	if st.CodeVersion != "" {
		v := st.CodeVersion
		c.CodeVersionByAssetKey[key] = &v
	}
	if p := r.req.Partition; p != "" {
		c.PartitionKey = &p
		c.PartitionKeyRange = &pipes.KeyRange{Start: p, End: p}
		c.PartitionTimeWindow = timeWindow(st.Partitions, p)
	}
	return c
}

// Partition key layouts of time partitions: Dagster's defaults, as in
// freshness (DailyPartitionLayout, HourlyPartitionLayout).
const (
	dailyLayout  = "2006-01-02"
	hourlyLayout = "2006-01-02-15:04"
)

// timeWindow is a time partition's window [start, end) in UTC, or nil for
// other partitions and keys that are not a window's start.
func timeWindow(p *asset.PartitionsSpec, key string) *pipes.TimeWindow {
	if p == nil {
		return nil
	}
	layout, period := dailyLayout, 24*time.Hour
	switch p.Type {
	case "daily":
	case "hourly":
		layout, period = hourlyLayout, time.Hour
	default:
		return nil
	}
	start, err := time.Parse(layout, key)
	if err != nil || !start.Equal(start.Truncate(period)) {
		return nil
	}
	return &pipes.TimeWindow{Start: start.Format(pipes.TimeWindowLayout), End: start.Add(period).Format(pipes.TimeWindowLayout)}
}

// runAttempt runs one attempt of step i to its end: it opens the Pipes
// session, launches, reads the messages while the child runs and what is
// left after, and closes the session.
func (s *scheduler) runAttempt(i, attempt int, job Job, out LineFunc) attemptDone {
	r := s.r
	d := attemptDone{step: i, attempt: attempt}
	var (
		procMu sync.Mutex
		proc   Process
		once   sync.Once
	)
	job.OnStart = func(p Process) {
		once.Do(func() {
			procMu.Lock()
			proc = p
			procMu.Unlock()
			select {
			case s.startCh <- attemptStarted{step: i, attempt: attempt, proc: p}:
			default: // never: one slot per step, one send per attempt
			}
		})
	}
	var (
		ap      *attemptPipes
		stop    chan struct{}
		tailed  chan error
		session *pipes.Session
	)
	if o := r.e.opts.Pipes; !o.Disabled {
		ap = s.newAttemptPipes(i, attempt)
		var err error
		session, err = pipes.OpenSession(s.pipesContext(i, attempt), pipes.SessionOptions{Dir: o.Dir, Context: o.Context, Messages: o.Messages})
		if err != nil {
			d.outcome = Outcome{Ended: time.Now(), Err: fmt.Errorf("cannot start: %w", err)}
			return d
		}
		job.Env = append(job.Env, session.Env()...)
		if path := session.MessagesPath(); path != "" {
			stop, tailed = make(chan struct{}), make(chan error, 1)
			// Not canceled with the run: what the child reported before
			// it was stopped is still read.
			tailCtx := context.WithoutCancel(s.ctx)
			go func() { tailed <- pipes.Tail(tailCtx, path, stop, func(b []byte) { ap.line(time.Now(), b) }) }()
		} else {
			out = ap.stdio(Stream(session.Channel()), out)
		}
	}
	d.outcome = r.e.launcher.Launch(s.ctx, job, out)
	if stop != nil {
		close(stop)
		if err := <-tailed; err != nil {
			r.e.log.Error("read pipes messages", "run_id", r.ID, "asset", string(job.Asset), "attempt", attempt, "error", err)
		}
	}
	if session != nil {
		if err := session.Close(); err != nil {
			r.e.log.Warn("remove pipes session", "run_id", r.ID, "asset", string(job.Asset), "error", err)
		}
	}
	if ap != nil {
		d.pipes = ap.result()
	}
	procMu.Lock()
	d.proc = proc
	procMu.Unlock()
	return d
}

// stdio returns a LineFunc that keeps the messages among stream's lines
// and passes every other line to out.
func (p *attemptPipes) stdio(stream Stream, out LineFunc) LineFunc {
	return func(st Stream, at time.Time, text string) {
		if st == stream && pipes.LooksLikeMessage(text) {
			p.line(at, []byte(text))
			return
		}
		out(st, at, text)
	}
}

// line handles one message line read at at.
func (p *attemptPipes) line(at time.Time, b []byte) {
	if err := p.handle(at, b); err != nil {
		p.reject(at, err, b)
		return
	}
	p.counters.messages.Add(1)
}

func (p *attemptPipes) handle(at time.Time, b []byte) error {
	m, err := pipes.Parse(b)
	if err != nil {
		return err
	}
	switch m.Method {
	case pipes.MethodOpened:
	case pipes.MethodClosed:
		exc, err := m.Closed()
		if err != nil {
			return err
		}
		if exc != nil {
			line := exceptionLine(exc)
			p.mu.Lock()
			p.rep.exception = line
			p.mu.Unlock()
			p.say(at, "[error] closed with exception: "+line)
			for _, frame := range exc.Stack {
				p.say(at, strings.TrimRight(frame, "\n"))
			}
		}
	case pipes.MethodLog:
		l, err := m.Log()
		if err != nil {
			return err
		}
		p.say(at, "["+strings.ToLower(l.Level)+"] "+l.Message)
	case pipes.MethodCustom:
		payload, err := m.Custom()
		if err != nil {
			return err
		}
		p.say(at, "[custom] "+string(payload))
	case pipes.MethodExternalStream:
		es, err := m.ExternalStream()
		if err != nil {
			return err
		}
		stream := PipesStream
		switch es.Stream {
		case "stdout":
			stream = Stdout
		case "stderr":
			stream = Stderr
		}
		for l := range strings.Lines(es.Text) {
			p.logs.add(p.attempt, stream, at, strings.TrimRight(l, "\r\n"))
		}
	case pipes.MethodMaterialization:
		mat, err := m.Materialization()
		if err != nil {
			return err
		}
		if err := p.ownAsset(mat.AssetKey); err != nil {
			return err
		}
		md, mdErr := mat.Metadata.Asset()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.rep.materialized = true
		if mat.DataVersion != "" {
			p.rep.dataVersion = mat.DataVersion
		}
		if p.rep.metadata == nil && len(md) > 0 {
			p.rep.metadata = make(asset.Metadata, len(md))
		}
		dropped := 0
		for name, v := range md {
			if _, ok := p.rep.metadata[name]; !ok && len(p.rep.metadata) >= maxPipesMetadata {
				dropped++
				continue
			}
			p.rep.metadata[name] = v
		}
		if dropped > 0 {
			mdErr = errors.Join(mdErr, fmt.Errorf("%d metadata entries past the first %d dropped", dropped, maxPipesMetadata))
		}
		return mdErr
	case pipes.MethodCheck:
		c, err := m.Check()
		if err != nil {
			return err
		}
		if err := p.ownAsset(c.AssetKey); err != nil {
			return err
		}
		md, mdErr := c.Metadata.Asset()
		if len(md) == 0 {
			md = nil
		}
		sev := asset.SeverityError
		if c.Severity == "WARN" {
			sev = asset.SeverityWarn
		}
		e := asset.Event{
			ID: asset.NewEventID(), Kind: asset.KindCheckResult, Asset: p.key, Time: at.UTC(),
			RunID: p.runID, Partition: p.partition, Metadata: md,
			Check: &asset.CheckResult{Name: c.CheckName, Passed: c.Passed, Severity: sev},
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.rep.checks) >= maxPipesChecks {
			return fmt.Errorf("check %q: more than %d check results in one attempt", c.CheckName, maxPipesChecks)
		}
		p.rep.checks = append(p.rep.checks, e)
		return mdErr
	}
	return nil
}

// ownAsset accepts a report for the step's asset (or one that names none).
func (p *attemptPipes) ownAsset(key string) error {
	if key == "" || asset.Key(key) == p.key {
		return nil
	}
	return fmt.Errorf("report for asset %q, but this step materializes %s", key, p.key)
}

// say logs text on the pipes stream, one LogLine per line of it.
func (p *attemptPipes) say(at time.Time, text string) {
	for l := range strings.Lines(text) {
		p.logs.add(p.attempt, PipesStream, at, strings.TrimRight(l, "\r\n"))
	}
}

// reject counts a malformed message and describes the first few in the
// server's log and the step's.
func (p *attemptPipes) reject(at time.Time, err error, b []byte) {
	p.counters.malformed.Add(1)
	p.mu.Lock()
	p.malformed++
	n := p.malformed
	p.mu.Unlock()
	switch {
	case n <= maxMalformedLogs:
		excerpt := string(b)
		if len(excerpt) > 200 {
			excerpt = excerpt[:200] + "..."
		}
		p.log.Warn("malformed pipes message ignored", "run_id", p.runID, "asset", string(p.key), "attempt", p.attempt, "error", err, "line", excerpt)
		p.say(at, "[warn] Pipes message ignored: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	case n == maxMalformedLogs+1:
		p.log.Warn("more malformed pipes messages ignored; counting, not logging them", "run_id", p.runID, "asset", string(p.key), "attempt", p.attempt)
		p.say(at, "[warn] more Pipes messages ignored; they are counted, not described")
	}
}

func (p *attemptPipes) result() pipesReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rep
}

// exceptionLine is an exception on one line, for a reason: "Name:
// message", its lines joined with " | ", bounded.
func exceptionLine(e *pipes.Exception) string {
	msg := strings.TrimSpace(e.Message)
	if e.Name != "" && !strings.HasPrefix(msg, e.Name) {
		msg = e.Name + ": " + msg
	}
	var parts []string
	for l := range strings.Lines(msg) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	msg = strings.Join(parts, " | ")
	if len(msg) > maxExceptionBytes {
		msg = strings.ToValidUTF8(msg[:maxExceptionBytes], "") + "..."
	}
	return msg
}
