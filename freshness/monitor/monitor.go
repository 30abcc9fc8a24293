// Package monitor runs freshness evaluation continuously: it folds
// acknowledged events into a freshness.Tracker, re-evaluates the affected
// downstream subgraph on events and everything on a timer (for time-based
// transitions), records a freshness_changed event only when an asset's
// state changes, and publishes the current results for the API and the
// Prometheus gauges.
//
// It also owns the SLAs set at run time: an API-set policy overrides the
// definitions file's policy for that asset until it is removed, and every
// change is recorded as a freshness_policy_changed event (the audit trail).
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store"
)

// Recorder makes events durable (the ingest pipeline).
type Recorder interface {
	Submit(ctx context.Context, events []asset.Event) error
}

// ErrStandby is what a Recorder answers on a server that does not lead
// (several servers share a store): the leader records state changes, and
// this monitor learns them from the events it follows. Passes go on
// quietly; a server elected later records what still differs.
var ErrStandby = errors.New("not recording: another server leads")

// Graphs gives the current lineage snapshot.
type Graphs interface {
	Current() *lineage.Graph
}

// Options tune the monitor. Zero values take the defaults.
type Options struct {
	// Interval is how often everything is re-evaluated, so states change
	// when deadlines pass without any event (default 15s).
	Interval time.Duration
	// Coalesce is the least time between two event-driven passes: events
	// arriving meanwhile are evaluated together (default 100ms). Under
	// load the wait is at least passSpacing times what the last pass
	// took, so that passes keep to about a quarter of the time however
	// fast events come: each evaluates more of them at once.
	Coalesce time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	// NewID names recorded events (default: UUIDv7, as ingest does).
	NewID func() string
	// Seed returns an asset's latest materialization, observation and
	// failure (the catalog has them). The monitor only follows events of
	// assets some policy depends on; when an asset becomes relevant (a
	// policy is set, an edge appears) Seed gives its history so far, and
	// History the rest when a data time needs it.
	Seed func(asset.Key) []asset.Event
	// FirstSeen returns the time of an asset's first event (the catalog
	// has it), zero if none: the start of an UNKNOWN asset's grace. Without
	// it, the monitor asks History, one query per asset that becomes
	// relevant.
	FirstSeen func(asset.Key) time.Time
	// History reads the event log (the store). When a data time needs a
	// success older than the tracker's in-memory window holds (evicted,
	// seeded, or before a restart), the monitor fetches it from here. Nil:
	// results that need one are held back (with a warning), never guessed.
	History EventReader
	// FetchRounds bounds the fetch-and-re-evaluate rounds of one pass
	// (default 8); what is still open is fetched in the next pass.
	FetchRounds int
	// RiskHold is how long AT_RISK must hold before it is entered, and
	// its absence before it is left (hysteresis; default 1m, negative:
	// none). Leaving it because new data landed, and moving to FAIL or
	// UNKNOWN, never wait.
	RiskHold time.Duration
	// RunLookback is how far back the first pass reads run events from
	// History to find the runs in flight before a restart (default 24h).
	RunLookback time.Duration
	// Tracer records a freshness.pass span per evaluation pass (nil:
	// none).
	Tracer trace.Tracer
}

// EventReader pages through stored events (store.Store has it).
type EventReader interface {
	Events(ctx context.Context, q store.EventQuery) (store.EventPage, error)
}

// storeHistory answers the freshness evaluator's misses from the store.
type storeHistory struct{ r EventReader }

var successKinds = []asset.Kind{asset.KindMaterialization, asset.KindObservation}

func (h storeHistory) SuccessesBefore(ctx context.Context, k asset.Key, until time.Time, limit int) ([]asset.Event, bool, error) {
	limit = min(limit, store.MaxLimit-1)
	page, err := h.r.Events(ctx, store.EventQuery{Asset: k, Kinds: successKinds, Until: until.Add(time.Nanosecond), Limit: limit + 1})
	if err != nil {
		return nil, false, err
	}
	if len(page.Events) > limit {
		return page.Events[:limit], true, nil
	}
	return page.Events, page.Next != "", nil
}

func (h storeHistory) FirstMaterialization(ctx context.Context, k asset.Key) (time.Time, error) {
	page, err := h.r.Events(ctx, store.EventQuery{Asset: k, Kinds: []asset.Kind{asset.KindMaterialization}, Ascending: true, Limit: 1})
	if err != nil || len(page.Events) == 0 {
		return time.Time{}, err
	}
	return page.Events[0].Time, nil
}

// firstEvent is the time of the asset's first stored event of any kind.
func (h storeHistory) firstEvent(ctx context.Context, k asset.Key) (time.Time, error) {
	page, err := h.r.Events(ctx, store.EventQuery{Asset: k, Ascending: true, Limit: 1})
	if err != nil || len(page.Events) == 0 {
		return time.Time{}, err
	}
	return page.Events[0].Time, nil
}

// drainer is what the ingest pipeline offers to wait until every
// acknowledged event is stored: the monitor calls it before reading the
// store, so a fetch sees every event the tracker was told about.
type drainer interface {
	Drain(ctx context.Context) error
}

// drainTimeout bounds that wait; on a store outage the fetch is retried
// in a later pass and the results that need it are held back meanwhile.
const drainTimeout = 5 * time.Second

// Monitor is the freshness loop. Observe, SetPolicy, Policies and
// Snapshot are safe for concurrent use; Run owns the evaluation state.
type Monitor struct {
	graphs Graphs
	rec    Recorder
	opts   Options

	mu       sync.Mutex
	pending  []freshness.Change // events queued for the next pass, reduced to what the tracker reads
	spare    []freshness.Change // the last pass's queue, emptied: the next queue reuses it
	file     map[asset.Key]asset.FreshnessPolicy
	api      map[asset.Key]asset.FreshnessPolicy
	groups   map[asset.Key]string // never modified once set: published snapshots share it
	matz     map[asset.Key]bool
	parts    map[asset.Key]*asset.PartitionsSpec
	version  uint64                  // bumped when policies or specs change
	relevant map[asset.Key]relevance // assets with a policy and their ancestors; nil: all
	seen     map[asset.Key]bool      // assets with an event queued or loaded (for first-seen times)
	// whole holds the assets followed from their first event, not yet
	// known to be relevant, each with the number of passes begun before
	// that event was observed: a pass lets go of those its policies and
	// graph did not reach only if they were observed before the previous
	// pass began. An asset observed mid-pass may have a policy the pass did
	// not see, and concurrent requests may hand the monitor an asset's
	// first events before the request that discovered it has selected its
	// policy; letting go then meant seeding it truncated later and reading
	// its history from the store.
	whole     map[asset.Key]uint64
	passes    uint64                        // passes begun, guarded by mu
	last      map[asset.Key]freshness.State // last recorded state per asset
	stateAt   map[asset.Key]eventPos        // the freshness_changed event last applied
	policyAt  map[asset.Key]eventPos        // the freshness_policy_changed event last applied
	setMu     sync.Mutex                    // serialises SetPolicy: read-old, record, apply
	wake      chan struct{}
	snap      atomic.Pointer[freshness.Snapshot]
	evaluated chan struct{} // closed and replaced after every pass (for tests and Wait)
	passTime  prometheus.Histogram

	// Owned by Run.
	tracker   *freshness.Tracker
	eval      *freshness.Evaluator
	evalGraph *lineage.Graph
	evalVer   uint64
	// evalPolicies are the effective policies eval was built with, and
	// unseen those of its assets without a first-seen time yet.
	evalPolicies map[asset.Key]asset.FreshnessPolicy
	unseen       []asset.Key
	resBuf       []freshness.Result // the last pass's results, reused
	changedBuf   []asset.Key        // and its changed assets
	results      map[asset.Key]freshness.Result
	lastOK       map[asset.Key]time.Time // each result's asset's latest success, as published
	raw          map[asset.Key]time.Time // the assets published AT_RISK: their latest raw data time (see hysteresis)
	holds        map[asset.Key]hold      // AT_RISK transitions waiting to hold
	partsRead    map[asset.Key]bool      // partitioned assets whose materializations were read from History
	runsRead     bool                    // runs in flight restored from History
}

// New returns a monitor; call Load, then Run.
func New(graphs Graphs, rec Recorder, opts Options) *Monitor {
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.Coalesce <= 0 {
		opts.Coalesce = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.NewID == nil {
		opts.NewID = asset.NewEventID
	}
	if opts.FetchRounds <= 0 {
		opts.FetchRounds = 8
	}
	if opts.RiskHold == 0 {
		opts.RiskHold = time.Minute
	}
	if opts.RunLookback <= 0 {
		opts.RunLookback = 24 * time.Hour
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("")
	}
	m := &Monitor{graphs: graphs, rec: rec, opts: opts,
		file: map[asset.Key]asset.FreshnessPolicy{}, api: map[asset.Key]asset.FreshnessPolicy{},
		groups: map[asset.Key]string{}, matz: map[asset.Key]bool{}, last: map[asset.Key]freshness.State{},
		stateAt: map[asset.Key]eventPos{}, policyAt: map[asset.Key]eventPos{}, seen: map[asset.Key]bool{}, whole: map[asset.Key]uint64{},
		wake: make(chan struct{}, 1), evaluated: make(chan struct{}),
		parts:   map[asset.Key]*asset.PartitionsSpec{},
		tracker: freshness.NewTracker(), results: map[asset.Key]freshness.Result{},
		raw: map[asset.Key]time.Time{}, lastOK: map[asset.Key]time.Time{}, holds: map[asset.Key]hold{}, partsRead: map[asset.Key]bool{}}
	m.snap.Store(&freshness.Snapshot{Results: map[asset.Key]freshness.Result{}})
	m.passTime = newPassHistogram()
	return m
}

// SetSpecs takes the file's policies (selection policies already applied
// by config), groups (for metric labels) and which assets have a
// materialize command.
func (m *Monitor) SetSpecs(specs []asset.Spec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.file)
	m.groups = make(map[asset.Key]string, len(specs)) // a new map: snapshots share the old one
	clear(m.matz)
	clear(m.parts)
	for _, s := range specs {
		if s.Freshness != nil {
			m.file[s.Key] = *s.Freshness
		}
		m.groups[s.Key] = s.Group
		m.matz[s.Key] = s.Materialize != nil
		if s.Partitions != nil {
			m.parts[s.Key] = s.Clone().Partitions
		}
	}
	m.version++
	m.poke()
}

// RestartHistory is how many recent successes per asset Load expects
// (store.RecentSuccesses): few, so that a restart reads and holds a few
// events per asset rather than a full window of each, and memory after a
// restart stays near the steady state. Data times that need older
// successes fetch them from the store (Options.History), the same way as
// after an eviction; in most graphs the latest two answer nearly all.
const RestartHistory = 2

// Load restores what the store knows: each asset's recent successes
// (store.RecentSuccesses with RestartHistory per asset), latest
// failure and first event, the state last recorded, and the policies set
// through the API. Call it before Run.
//
// An asset with a full page of recent successes may have older ones: its
// history is marked truncated there, and a data time that needs an older
// success fetches it from Options.History, so results after a restart
// are the ones before it.
func (m *Monitor) Load(sums []store.Summary, recent []asset.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	count := map[asset.Key]int{}
	oldest := map[asset.Key]time.Time{}
	for _, e := range recent {
		m.tracker.Apply(e)
		count[e.Asset]++
		if o, ok := oldest[e.Asset]; !ok || e.Time.Before(o) {
			oldest[e.Asset] = e.Time
		}
	}
	for k, n := range count {
		if n >= RestartHistory {
			m.tracker.Truncate(k, oldest[k].Add(time.Nanosecond))
		}
	}
	for _, s := range sums {
		for _, e := range []*asset.Event{s.LastObservation, s.LastMaterialization, s.LastFailure} {
			if e != nil {
				m.tracker.Apply(*e)
			}
		}
		if !s.FirstTime.IsZero() {
			m.tracker.Seen(s.Asset, s.FirstTime)
		}
		m.seen[s.Asset] = true
		if e := s.LastFreshness; e != nil {
			m.applyStateEvent(e)
		}
		if e := s.LastPolicyChange; e != nil {
			if _, err := policyFromEvent(e); err != nil {
				return fmt.Errorf("policy of %s: %w", s.Asset, err)
			}
			m.applyPolicyEvent(e)
		}
	}
	m.version++
	return nil
}

// Observe queues acknowledged events for the next pass, keeping only
// those of assets a policy depends on: on the ingest path, the rest would
// be work for nothing. The pass itself runs in Run's goroutine. Queued
// events are reduced to what the tracker reads (freshness.Change): under
// heavy ingest a backlog of them must not hold every event's id and
// metadata.
//
// It also applies freshness_policy_changed and freshness_changed events:
// those replayed from the write-ahead log after a crash are the latest
// word on an asset's API policy and recorded state, even before the store
// has them.
func (m *Monitor) Observe(events []asset.Event) {
	queued := false
	m.mu.Lock()
	for i := range events {
		e := &events[i]
		switch e.Kind {
		case asset.KindRunSucceeded, asset.KindRunFailed, asset.KindRunCanceled:
			// A run's end ends its runs in flight on every asset.
			if e.RunID != "" {
				m.pending = append(m.pending, freshness.NewChange(e))
				queued = true
			}
		case asset.KindMaterialization, asset.KindObservation, asset.KindMaterializationFailed, asset.KindRunStarted:
			// An asset never seen before is followed from its first event,
			// before any policy is known to depend on it: a selection
			// policy reaches it a moment later, and its history is then
			// whole, with nothing to seed or fetch.
			// A relevant asset needs no whole entry: all its events are
			// queued anyway (an entry that stayed was read by every pass).
			rel, isRel := m.relevant[e.Asset]
			follow := isRel || m.relevant == nil
			if !follow {
				if !m.seen[e.Asset] {
					m.whole[e.Asset] = m.passes
				}
				_, follow = m.whole[e.Asset]
			}
			if follow {
				m.pending = append(m.pending, freshness.NewChange(e))
				if !rel.seen {
					if !m.seen[e.Asset] {
						m.seen[e.Asset] = true
					}
					if isRel {
						m.relevant[e.Asset] = relevance{seen: true}
					}
				}
				queued = true
			}
			continue
		case asset.KindPolicyChanged:
			if m.applyPolicyEvent(e) {
				queued = true
			}
		case asset.KindFreshnessChanged:
			m.applyStateEvent(e)
			continue // the monitor's own: it marked the asset seen when it evaluated it
		}
		// Any other event of an asset not seen yet starts its first-seen
		// time (an UNKNOWN asset's grace period).
		if !m.seen[e.Asset] && (m.relevantNow(e.Asset) || e.Kind == asset.KindPolicyChanged) {
			m.seen[e.Asset] = true
			m.pending = append(m.pending, freshness.NewChange(e))
			queued = true
		}
	}
	m.mu.Unlock()
	if queued {
		m.poke()
	}
}

// relevance is an entry of Monitor.relevant: seen says the asset is in
// seen too, which saves Observe a second lookup per event (false: look).
type relevance struct{ seen bool }

func (m *Monitor) relevantNow(k asset.Key) bool {
	_, ok := m.relevant[k]
	return m.relevant == nil || ok
}

// newer reports whether e comes after the event at prev in (time, id)
// order, and records it. Called with mu held.
func newer(at map[asset.Key]eventPos, e *asset.Event) bool {
	p, ok := at[e.Asset]
	if ok && !asset.Later(e.Time, e.ID, p.time, p.id) {
		return false
	}
	at[e.Asset] = eventPos{e.Time, e.ID}
	return true
}

type eventPos struct {
	time time.Time
	id   string
}

// applyPolicyEvent makes a policy change take effect unless a later one
// already has. Called with mu held.
func (m *Monitor) applyPolicyEvent(e *asset.Event) bool {
	if !newer(m.policyAt, e) {
		return false
	}
	p, err := policyFromEvent(e)
	if err != nil {
		m.opts.Logger.Error("unreadable policy change", "asset", e.Asset, "event", e.ID, "err", err)
		return false
	}
	if p == nil {
		delete(m.api, e.Asset)
	} else {
		m.api[e.Asset] = *p
	}
	m.version++
	return true
}

// applyStateEvent remembers the state a freshness_changed event recorded.
// Called with mu held.
func (m *Monitor) applyStateEvent(e *asset.Event) {
	if !newer(m.stateAt, e) {
		return
	}
	if st, err := freshness.ParseState(e.Metadata["state"].Text); err == nil {
		m.last[e.Asset] = st
	}
}

func (m *Monitor) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Snapshot returns the latest published results.
func (m *Monitor) Snapshot() *freshness.Snapshot { return m.snap.Load() }

// Evaluated returns a channel closed after the next completed pass.
func (m *Monitor) Evaluated() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.evaluated
}

// Effective returns key's policy and where it comes from (false if none).
func (m *Monitor) Effective(key asset.Key) (freshness.EffectivePolicy, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.effective(key)
}

func (m *Monitor) effective(key asset.Key) (freshness.EffectivePolicy, bool) {
	if p, ok := m.api[key]; ok {
		return freshness.EffectivePolicy{Policy: p, Source: freshness.SourceAPI}, true
	}
	if p, ok := m.file[key]; ok {
		return freshness.EffectivePolicy{Policy: p, Source: freshness.SourceFile}, true
	}
	return freshness.EffectivePolicy{}, false
}

// ErrInvalidPolicy wraps freshness.ErrInvalidPolicy for API callers.
var ErrInvalidPolicy = freshness.ErrInvalidPolicy

// SetPolicy sets (p non-nil) or removes (p nil) the API policy of key,
// recording who did it and what the effective policy was before. The
// change is durable before it takes effect.
func (m *Monitor) SetPolicy(ctx context.Context, key asset.Key, p *asset.FreshnessPolicy, actor string) (freshness.EffectivePolicy, error) {
	if p != nil {
		if _, err := freshness.CompilePolicy(*p); err != nil {
			return freshness.EffectivePolicy{}, err
		}
	}
	m.setMu.Lock()
	defer m.setMu.Unlock()
	m.mu.Lock()
	before, hadBefore := m.effective(key)
	_, hadAPI := m.api[key]
	m.mu.Unlock()
	if p == nil && !hadAPI {
		return freshness.EffectivePolicy{}, freshness.ErrNoAPIPolicy
	}
	ev, err := policyEvent(m.opts, key, p, before, hadBefore, actor)
	if err != nil {
		return freshness.EffectivePolicy{}, err
	}
	if err := m.rec.Submit(ctx, []asset.Event{ev}); err != nil {
		return freshness.EffectivePolicy{}, fmt.Errorf("record policy change: %w", err)
	}
	m.mu.Lock()
	m.applyPolicyEvent(&ev) // a no-op if the pipeline's observer already applied it
	after, _ := m.effective(key)
	m.mu.Unlock()
	m.poke()
	return after, nil
}

// policies returns a copy of the effective policies, the specs' facts
// and the version.
func (m *Monitor) policies() (map[asset.Key]asset.FreshnessPolicy, map[asset.Key]bool, map[asset.Key]*asset.PartitionsSpec, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := maps.Clone(m.file)
	maps.Copy(out, m.api)
	return out, maps.Clone(m.matz), maps.Clone(m.parts), m.version
}

// Run evaluates until ctx ends: on events (coalesced) and every Interval.
func (m *Monitor) Run(ctx context.Context) error {
	tick := time.NewTicker(m.opts.Interval)
	defer tick.Stop()
	m.pass(ctx, true)
	for {
		full := false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			full = true
		case <-m.wake:
		}
		took := m.pass(ctx, full)
		// Coalesce: let a burst of events gather before the next pass.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(m.opts.Coalesce, passSpacing*took)):
		}
	}
}

// passSpacing: the wait after a pass is at least this many times what
// the pass took. With 1,000,000 events in 6 s over 10,500 assets with
// policies (bench-ingest --policies), a pass took 85 ms on average and
// passes ran almost back to back behind the 100 ms Coalesce; each
// re-evaluated nearly every asset.
const passSpacing = 3

// pass is one evaluation pass, timed (freshet_freshness_evaluation_seconds)
// and traced (freshness.pass).
func (m *Monitor) pass(ctx context.Context, full bool) time.Duration {
	start := time.Now()
	ctx, span := m.opts.Tracer.Start(ctx, "freshness.pass")
	st := m.evaluate(ctx, full)
	took := time.Since(start)
	m.passTime.Observe(took.Seconds())
	if span.IsRecording() {
		span.SetAttributes(attribute.Bool("freshet.freshness.full", st.full), attribute.Int("freshet.events", st.events),
			attribute.Int("freshet.freshness.changed", st.changed), attribute.Int("freshet.freshness.results", st.results))
	}
	span.End()
	return took
}

// passStats describe a pass, for its span.
type passStats struct {
	full                     bool
	events, changed, results int
}

// maxSpare bounds the queue kept for reuse (about 11 MB), and the results
// (about 11 MB too): a burst's larger one goes to the garbage collector.
const maxSpare = 1 << 16

// evaluate applies pending events and evaluates: everything when full (or
// when the graph or the policies changed), else the changed assets'
// downstream closure. When a data time needs history older than memory
// holds, it fetches it from the store and re-evaluates (bounded rounds);
// results still waiting for history keep their previous value. It records
// state changes and publishes.
func (m *Monitor) evaluate(ctx context.Context, full bool) passStats {
	m.mu.Lock()
	events := m.pending
	m.pending, m.spare = m.spare, nil
	m.passes++
	pass := m.passes
	m.mu.Unlock()

	changed := m.changedBuf[:0]
	if !m.runsRead {
		changed = m.restoreRuns(ctx, changed)
	}
	// The tracker reports each asset changed once, however many of the
	// pass's events (hundreds of thousands under heavy ingest) changed it.
	restored := len(changed)
	changed = m.tracker.ApplyChanges(events, changed)
	states := m.tracker.Reported() // of changed[restored:], in order
	if restored > 0 {
		changed, states = uniqueKeys(changed), nil // the first pass only
	}
	if cap(events) <= maxSpare {
		clear(events) // what the queued changes point to may go
		m.mu.Lock()
		m.spare = events[:0]
		m.mu.Unlock()
	}
	g := m.graphs.Current()
	m.mu.Lock()
	ver := m.version
	m.mu.Unlock()
	if m.eval == nil || g != m.evalGraph || ver != m.evalVer {
		// Copied only when they changed: a copy per pass was the largest
		// fixed cost of a pass with a policy on every asset.
		policies, matz, parts, ver := m.policies()
		ev, err := freshness.NewEvaluator(g, policies)
		if err != nil {
			// Policies are validated on the way in; this is a bug, but one
			// bad policy must not stop the others being evaluated.
			m.opts.Logger.Error("freshness policies rejected", "err", err)
			for k := range policies {
				if _, perr := freshness.CompilePolicy(policies[k]); perr != nil {
					delete(policies, k)
				}
			}
			if ev, err = freshness.NewEvaluator(g, policies); err != nil {
				m.opts.Logger.Error("freshness evaluation disabled", "err", err)
				m.publish(m.opts.Now(), changed, states, false)
				return passStats{full: full, events: len(events)}
			}
		}
		for k, ok := range matz {
			m.tracker.SetMaterializable(k, ok)
		}
		m.setPartitions(ctx, parts)
		m.eval, m.evalGraph, m.evalVer, m.evalPolicies = ev, g, ver, policies
		full = true
		m.follow(ctx, g, policies)
		m.unseen = m.unseen[:0]
		for k := range policies {
			if m.tracker.FirstSeen(k).IsZero() {
				m.unseen = append(m.unseen, k)
			}
		}
	}
	policies := m.evalPolicies
	// New assets that no policy reached by now are not followed further.
	m.mu.Lock()
	if m.relevant != nil {
		for k, before := range m.whole {
			if _, ok := m.relevant[k]; !ok && before+1 < pass {
				delete(m.whole, k)
			}
		}
	}
	m.mu.Unlock()
	now := m.opts.Now()
	// An asset with a policy and no event yet is first seen now: the
	// state recorded below is its first stored event, so a restart finds
	// the same first-seen time in the store. A first-seen time, once set,
	// stays: only the assets unseen when the policies were read are
	// looked at.
	unseen := m.unseen[:0]
	for _, k := range m.unseen {
		if m.tracker.FirstSeen(k).IsZero() {
			if m.tracker.Seen(k, now) {
				changed = append(changed, k)
			}
			if m.tracker.FirstSeen(k).IsZero() {
				unseen = append(unseen, k)
			}
		}
	}
	clear(m.unseen[len(unseen):])
	m.unseen = unseen
	results := m.resBuf[:0]
	switch {
	case full:
		results = m.eval.EvaluateAll(results, now, m.tracker)
		// Assets whose policy was removed drop out of the results.
		maps.DeleteFunc(m.results, func(k asset.Key, _ freshness.Result) bool { _, ok := policies[k]; return !ok })
		maps.DeleteFunc(m.raw, func(k asset.Key, _ time.Time) bool { _, ok := policies[k]; return !ok })
	case len(changed) > 0:
		results = m.eval.Reevaluate(results, now, m.tracker, changed)
	}
	results = m.settle(ctx, results, now)
	if full {
		m.tracker.DropUnused()
	}
	before := len(m.results)
	m.record(ctx, now, results)
	st := passStats{full: full, events: len(events), changed: len(changed), results: len(results)}
	if full {
		clear(m.lastOK) // publish reads every result's again
	}
	m.publish(now, changed, states, len(m.results) > before)
	if cap(results) <= maxSpare {
		m.resBuf = results[:0] // the next pass's results overwrite these
	}
	if cap(changed) <= maxSpare {
		m.changedBuf = changed[:0]
	}
	return st
}

// uniqueKeys drops the repeated keys of ks, keeping the first of each.
func uniqueKeys(ks []asset.Key) []asset.Key {
	seen := make(map[asset.Key]bool, len(ks))
	return slices.DeleteFunc(ks, func(k asset.Key) bool {
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
}

// settle fetches what the pass could not resolve from memory and
// re-evaluates, merging the new results in.
func (m *Monitor) settle(ctx context.Context, results []freshness.Result, now time.Time) []freshness.Result {
	misses := m.eval.Misses()
	if len(misses) == 0 {
		return results
	}
	if m.opts.History == nil {
		m.opts.Logger.Warn("freshness needs history older than memory holds and has no store to read; results held back", "misses", len(misses))
		return results
	}
	if d, ok := m.rec.(drainer); ok {
		dctx, cancel := context.WithTimeout(ctx, drainTimeout)
		err := d.Drain(dctx)
		cancel()
		if err != nil {
			m.opts.Logger.Warn("events not stored yet; history fetch deferred", "misses", len(misses), "err", err)
			return results
		}
	}
	results, _, open, err := m.eval.Settle(ctx, results, now, m.tracker, storeHistory{m.opts.History}, m.opts.FetchRounds)
	if err != nil && ctx.Err() == nil {
		m.opts.Logger.Warn("could not read freshness history from the store; results held back", "misses", len(open), "err", err)
	} else if len(open) > 0 {
		m.opts.Logger.Info("freshness history still being fetched; continues next pass", "misses", len(open))
	}
	return results
}

// follow recomputes which assets matter (those with a policy and their
// ancestors) and seeds the tracker with the history of those that were
// not followed before: their latest events, with the history marked
// truncated before the latest success (older ones come from the store when
// a data time needs them), and their first event's time.
func (m *Monitor) follow(ctx context.Context, g *lineage.Graph, policies map[asset.Key]asset.FreshnessPolicy) {
	if m.opts.Seed == nil {
		return // no way to catch up later: follow everything
	}
	relevant := make(map[asset.Key]relevance, len(policies))
	var stack []asset.Key
	for k := range policies {
		relevant[k] = relevance{}
		stack = append(stack, k)
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range g.Parents(k) {
			if _, ok := relevant[p]; !ok {
				relevant[p] = relevance{}
				stack = append(stack, p)
			}
		}
	}
	// Once published, Observe writes to relevant (its seen flags): the
	// assets it adds are picked out before.
	var added []asset.Key
	m.mu.Lock()
	old := m.relevant
	for k := range relevant {
		relevant[k] = relevance{seen: m.seen[k]}
		if _, was := old[k]; old != nil && !was {
			added = append(added, k)
		}
	}
	m.relevant = relevant
	m.mu.Unlock()
	for _, k := range added {
		m.mu.Lock()
		_, whole := m.whole[k]
		delete(m.whole, k) // followed now as a relevant asset
		m.mu.Unlock()
		if whole {
			continue // every event since its first is in the tracker
		}
		var latest time.Time
		for _, e := range m.opts.Seed(k) {
			m.tracker.Apply(e)
			if (e.Kind == asset.KindMaterialization || e.Kind == asset.KindObservation) && e.Time.After(latest) {
				latest = e.Time
			}
		}
		if !latest.IsZero() {
			m.tracker.Truncate(k, latest.Add(time.Nanosecond))
		}
		switch {
		case m.opts.FirstSeen != nil:
			if at := m.opts.FirstSeen(k); !at.IsZero() {
				m.tracker.Seen(k, at)
			}
		case m.opts.History != nil && ctx.Err() == nil:
			if at, err := (storeHistory{m.opts.History}).firstEvent(ctx, k); err != nil {
				if ctx.Err() == nil {
					m.opts.Logger.Warn("could not read an asset's first event", "asset", k, "err", err)
				}
			} else if !at.IsZero() {
				m.tracker.Seen(k, at)
			}
		}
		m.mu.Lock()
		m.seen[k] = true
		m.mu.Unlock()
	}
}

// record applies the AT_RISK hysteresis to the pass's results, publishes
// them and stores one freshness_changed event per asset whose state
// differs from the last recorded one.
func (m *Monitor) record(ctx context.Context, now time.Time, results []freshness.Result) {
	var events []asset.Event
	var states []freshness.Result
	m.mu.Lock()
	for _, raw := range results {
		r := m.hysteresis(now, raw)
		m.results[r.Key] = r
		prev, known := m.last[r.Key]
		if known && prev == r.State {
			continue
		}
		events = append(events, changeEvent(m.opts, now, r, prev, known))
		states = append(states, r)
	}
	m.mu.Unlock()
	if len(events) == 0 {
		return
	}
	if err := m.rec.Submit(ctx, events); err != nil {
		// Not recorded: leave m.last as it was, so the next pass (or the
		// next start) tries again.
		if ctx.Err() == nil && !errors.Is(err, ErrStandby) {
			m.opts.Logger.Warn("could not record freshness changes; will retry", "changes", len(events), "err", err)
		}
		return
	}
	m.mu.Lock()
	for i := range events {
		m.applyStateEvent(&events[i]) // usually already applied by Observe
	}
	m.mu.Unlock()
	for _, r := range states {
		m.opts.Logger.Info("freshness changed", "asset", r.Key, "state", r.State, "reason", r.Reason)
	}
}

// publish makes the results the current snapshot, with each asset's
// latest success. Those are kept across passes and brought up to date for
// the assets whose tracker state changed (changed): an asset's latest
// success moves only when the tracker applies one of its successes, which
// reports it changed. When assets got their first result in this pass
// (added), the results without one are read; after a full pass lastOK is
// empty and every result's is read. states, when not nil, are the
// tracker's states of the first changed keys, in order.
func (m *Monitor) publish(now time.Time, changed []asset.Key, states []*freshness.AssetState, added bool) {
	set := func(k asset.Key, st *freshness.AssetState) {
		if st != nil {
			if s, ok := st.Latest(); ok {
				m.lastOK[k] = s.Time()
			}
		}
	}
	update := func(k asset.Key) { set(k, m.tracker.State(k)) }
	if len(m.lastOK) == 0 {
		for k := range m.results {
			update(k)
		}
	} else {
		for i, k := range changed {
			if _, ok := m.results[k]; !ok {
				continue
			}
			if i < len(states) {
				set(k, states[i])
			} else {
				update(k)
			}
		}
		if added {
			for k := range m.results {
				if _, ok := m.lastOK[k]; !ok {
					update(k)
				}
			}
		}
	}
	snap := &freshness.Snapshot{At: now, Results: maps.Clone(m.results), LastSuccess: maps.Clone(m.lastOK)}
	m.mu.Lock()
	snap.Groups = m.groups
	done := m.evaluated
	m.evaluated = make(chan struct{})
	m.mu.Unlock()
	m.snap.Store(snap)
	close(done)
}

// runKinds are the run lifecycle events the tracker follows.
var runKinds = []asset.Kind{asset.KindRunStarted, asset.KindRunSucceeded, asset.KindRunFailed, asset.KindRunCanceled}

// restoreRuns reads the run events of the last RunLookback from History
// (once, in the first pass), so that runs in flight before a restart are
// known after it. Their materializations were loaded before (Load), and
// the tracker remembers recently ended runs, so a run that ended is not
// started again. On a read error it retries in the next pass.
func (m *Monitor) restoreRuns(ctx context.Context, changed []asset.Key) []asset.Key {
	if m.opts.History == nil {
		m.runsRead = true
		return changed
	}
	q := store.EventQuery{Kinds: runKinds, Since: m.opts.Now().Add(-m.opts.RunLookback), Ascending: true, Limit: store.MaxLimit}
	for {
		page, err := m.opts.History.Events(ctx, q)
		if err != nil {
			m.opts.Logger.Warn("could not read runs in flight from the store; will retry", "err", err)
			return changed
		}
		for _, e := range page.Events {
			if e.Kind == asset.KindRunStarted && m.isRelevant(e.Asset) || e.Kind != asset.KindRunStarted {
				changed = m.tracker.ApplyTo(e, changed)
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	m.runsRead = true
	return changed
}

func (m *Monitor) isRelevant(k asset.Key) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.relevantNow(k)
}

// setPartitions tells the tracker each asset's partitions, and reads the
// materializations of a partitioned asset it has not read yet from
// History: a partitioned asset's data time depends on every partition
// ever materialized, which the in-memory window does not hold (after a
// restart, or when the asset is seeded). On a read error it retries when
// the evaluator is next rebuilt, and the asset's data time may be older
// than the truth meanwhile (never newer: partitions only fill).
func (m *Monitor) setPartitions(ctx context.Context, parts map[asset.Key]*asset.PartitionsSpec) {
	for k, ok := range m.partsRead {
		if ok && parts[k] == nil {
			m.tracker.SetPartitions(k, nil)
			delete(m.partsRead, k)
		}
	}
	for k, p := range parts {
		m.tracker.SetPartitions(k, p)
		if m.partsRead[k] || m.opts.History == nil {
			continue
		}
		q := store.EventQuery{Asset: k, Kinds: []asset.Kind{asset.KindMaterialization}, Ascending: true, Limit: store.MaxLimit}
		ok := true
		for {
			page, err := m.opts.History.Events(ctx, q)
			if err != nil {
				m.opts.Logger.Warn("could not read a partitioned asset's materializations", "asset", k, "err", err)
				ok = false
				break
			}
			for _, e := range page.Events {
				if e.Partition != "" {
					m.tracker.ApplyTo(e, nil)
				}
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
		m.partsRead[k] = ok
	}
}
