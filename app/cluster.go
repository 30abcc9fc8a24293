package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/freshet-dev/freshet/api"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/follow"
	"github.com/freshet-dev/freshet/freshness/monitor"
	"github.com/freshet-dev/freshet/leader"
	"github.com/freshet-dev/freshet/store"
)

// Several Freshet servers can share one ClickHouse (docs/scaling.md):
// each ingests into its own write-ahead log and the shared store, and
// follows the store's event log to learn what the others stored, so that
// every server's catalog, lineage and freshness read the same. What must
// happen once (recording freshness changes, the executor, the alert
// sender, trimming the log) runs on the elected leader only.

// Election is how a server learns whether it leads (leader.ZooKeeper).
type Election interface {
	// Lead runs term each time this server is elected, with a context that
	// ends when leadership may be lost, until ctx ends.
	Lead(ctx context.Context, term func(ctx context.Context)) error
	// Leader is the leader as this server last saw it.
	Leader() (leader.Member, bool)
}

// cluster is the state of a server that shares its store.
type cluster struct {
	election Election
	log      store.EventLog
	follower *follow.Follower
	self     string        // this server's name in the election
	every    time.Duration // how often stored specs are compared with ours

	leading  atomic.Bool
	termUsed atomic.Bool
	closing  atomic.Bool
	lost     chan struct{} // closed when a term ended before Close
	stop     context.CancelFunc
	done     chan struct{} // the campaign and the follower have returned
}

// openCluster sets up following and the election when cfg has one. It
// runs before the rebuild: Prime marks what the log holds now as seen,
// since the rebuild loads it from the store.
func (a *App) openCluster(ctx context.Context, cfg Config) error {
	if cfg.Election == nil {
		return nil
	}
	evlog, ok := a.store.(store.EventLog)
	if !ok {
		return fmt.Errorf("several servers need a store they share: leader election needs a clickhouse:// store, not %T", a.store)
	}
	c := &cluster{election: cfg.Election, log: evlog, self: cfg.Instance, lost: make(chan struct{}), done: make(chan struct{}),
		every: cfg.FollowOverlap}
	if c.every <= 0 {
		c.every = 10 * time.Second
	}
	// Before Prime and the rebuild: what the others store from now on is
	// logged, and what they stored before, the rebuild reads.
	if err := evlog.StartLog(ctx); err != nil {
		return err
	}
	c.follower = follow.New(evlog, follow.Options{Overlap: cfg.FollowOverlap, Logger: cfg.Logger, Apply: a.applyFollowed})
	if err := c.follower.Prime(ctx); err != nil {
		return fmt.Errorf("read the shared store's event log: %w", err)
	}
	a.cluster = c
	return nil
}

// observeOwn is the pipeline's observer: events this server acknowledged,
// the follower told first. The pipeline calls it before the store writer
// may take the batch, so no poll of the log can find them stored and take
// them for another server's.
func (a *App) observeOwn(events []asset.Event) {
	if a.cluster != nil {
		a.cluster.follower.Own(events)
	}
	a.observe(events)
}

// stored is the pipeline's OnStored: the store took a batch.
func (a *App) stored(batch, added []asset.Event) {
	a.catalog.Stored(batch, added)
	if a.cluster != nil {
		a.cluster.follower.Stored(batch)
	}
}

// applyFollowed shows events another server stored: they are in the
// store already, so the catalog counts them stored at once.
func (a *App) applyFollowed(events []asset.Event) {
	a.observe(events)
	a.catalog.Stored(events, events)
}

// leadership is what the API forwards by: nil for a server alone.
func (a *App) leadership() api.Leadership {
	if a.cluster == nil {
		return nil
	}
	return a
}

// leadingGauge is 1 on the leader.
func leadingGauge(leading *atomic.Bool) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "freshet_leader",
		Help: "1 while this server leads the servers that share its store (runs freshness recording, the executor and alerts), else 0."},
		func() float64 {
			if leading.Load() {
				return 1
			}
			return 0
		})
}

// Leader implements api.Leadership: where the leader's routes go.
func (a *App) Leader() (*url.URL, bool) {
	if a.cluster.leading.Load() {
		return nil, true
	}
	m, ok := a.cluster.election.Leader()
	if !ok || m.URL == "" || m.Name == a.cluster.self {
		return nil, false
	}
	u, err := url.Parse(m.URL)
	if err != nil {
		return nil, false
	}
	return u, false
}

// Lost is closed when this server led and its term ended without Close
// (its connection to the election was lost): it must not lead again
// before a restart, since its runs and alerts stopped mid-way, so the
// caller should shut down and let the supervisor start it afresh, as a
// candidate. Nil for a server that shares nothing.
func (a *App) Lost() <-chan struct{} {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.lost
}

// campaign follows the log and stands for election until Close.
func (a *App) campaign() {
	c := a.cluster
	ctx, cancel := context.WithCancel(context.WithoutCancel(a.monitorCtx))
	c.stop = cancel
	followed := make(chan struct{}, 2)
	go func() { defer func() { followed <- struct{}{} }(); c.follower.Run(ctx) }()
	go func() { defer func() { followed <- struct{}{} }(); a.followSpecs(ctx, c.every) }()
	go func() {
		defer close(c.done)
		if err := c.election.Lead(ctx, a.term); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("leader election stopped", "err", err)
		}
		<-followed
		<-followed
	}()
}

// followSpecs makes the specs other servers stored (a dbt import, an SLA
// set before the asset existed) current here: every period it compares
// the store's specs with this server's.
func (a *App) followSpecs(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stored, err := a.store.Specs(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Debug("reading stored specs to follow them failed; retrying", "err", err)
			}
			continue
		}
		a.specMu.Lock()
		if changed := a.changedSpecs(stored); len(changed) > 0 {
			a.applySpecs(changed)
			a.log.Info("specs stored by another server applied", "specs", len(changed))
		}
		a.specMu.Unlock()
	}
}

// changedSpecs returns the stored specs that are not this server's
// current ones (the definitions file's keys aside). Specs compare as JSON,
// which is what the store keeps.
func (a *App) changedSpecs(stored []asset.Spec) []asset.Spec {
	declared := make(map[asset.Key]bool, len(a.declared))
	for _, s := range a.declared {
		declared[s.Key] = true
	}
	a.selMu.Lock()
	current := make(map[asset.Key][]byte, len(a.specs))
	for _, s := range a.specs {
		if !declared[s.Key] {
			current[s.Key], _ = json.Marshal(s)
		}
	}
	a.selMu.Unlock()
	var out []asset.Spec
	for _, s := range stored {
		if declared[s.Key] {
			continue
		}
		want := s.Clone()
		want.Freshness = a.defs.SelectPolicy(want)
		if b, err := json.Marshal(want); err == nil && bytes.Equal(b, current[s.Key]) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// term is one term as leader: the executor, the automation, the alert
// sender, retention and the log's trim run until ctx ends. A process leads once.
func (a *App) term(ctx context.Context) {
	c := a.cluster
	if c.termUsed.Swap(true) {
		<-ctx.Done() // lost once already: shutting down
		return
	}
	began := time.Now()
	if a.engine != nil {
		// The previous leader's incidents and silences, as it left them.
		if err := a.engine.Load(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("loading the alert state failed; alerting starts from an empty state", "err", err)
		}
	}
	c.leading.Store(true)
	a.runs.Start(ctx)
	a.autoDone, a.alertDone = make(chan struct{}), make(chan struct{})
	go a.automate(ctx)
	go a.alert(ctx)
	go a.retain(ctx) // the event log's trim, and retention passes when the definitions ask for them
	a.log.Info("leading: freshness changes, runs and alerts start here", "took", time.Since(began).Round(time.Millisecond))
	<-ctx.Done()
	<-a.autoDone
	<-a.alertDone
	<-a.runs.Done()
	<-a.retainDone
	c.leading.Store(false)
	if !c.closing.Load() {
		a.log.Error("leadership lost: runs and alerts stopped here; shutting down so that a restart stands again")
		close(c.lost)
	}
}

// standbyRecorder records the monitor's state changes only while this
// server leads; policy changes (set through any server's API) always.
type standbyRecorder struct {
	next    monitor.Recorder
	leading *atomic.Bool
}

func (r standbyRecorder) Submit(ctx context.Context, events []asset.Event) error {
	if !r.leading.Load() {
		for i := range events {
			if events[i].Kind == asset.KindFreshnessChanged {
				return monitor.ErrStandby
			}
		}
	}
	return r.next.Submit(ctx, events)
}
