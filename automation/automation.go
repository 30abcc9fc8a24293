// Package automation turns freshness states into runs: after each
// freshness pass it requests a run for every asset that is AT_RISK or
// FAIL and can be rebuilt here, together with the stale assets between
// it and its root cause (the root cause first), and records every
// decision, taken or not, with why.
//
// Rules (docs/executor.md, "Automation"):
//   - nothing is requested while automation is off (globally, or for the
//     asset by the definitions file);
//   - the root cause must have a materialize command: rebuilding an asset
//     over a stale source nobody here can rebuild would not refresh it;
//   - never while a run for one of the assets, or for an asset upstream
//     of it, is queued or in flight;
//   - after a request, the asset waits a cooldown, doubled after each
//     failed automated run in a row (capped), reset by a success.
package automation

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
)

// Runner launches runs and knows which are in flight (runs.Service).
type Runner interface {
	Launch(ctx context.Context, req runs.LaunchRequest) (store.RunRecord, error)
	InFlight(key asset.Key) (string, bool)
	Get(ctx context.Context, id string) (store.RunRecord, []store.StepRecord, error)
	Materializable(key asset.Key) bool
}

// Submitter records decisions in the event log.
type Submitter interface {
	Submit(ctx context.Context, events []asset.Event) error
}

// Options configure the automation.
type Options struct {
	Enabled    bool
	Cooldown   time.Duration // default 10m
	MaxBackoff time.Duration // default 6h
	// Allowed reports whether automation may act for key (the definitions
	// file's per-asset and per-selection switches); nil allows all.
	Allowed func(key asset.Key) bool
	Events  Submitter
	Now     func() time.Time
	Log     *slog.Logger
}

// Actions a decision takes.
const (
	Requested = "requested" // a run was launched
	Waiting   = "waiting"   // not now: a run in flight, or a cooldown
	Declined  = "declined"  // not at all: off, or nothing here can fix it
)

// Decision is what the automation decided for one asset, and why.
type Decision struct {
	Asset     asset.Key `json:"asset"`
	Time      time.Time `json:"time"`
	State     string    `json:"state"` // the freshness state it acted on
	Action    string    `json:"action"`
	Reason    string    `json:"reason"`
	RunID     string    `json:"run_id,omitempty"`
	Selection []string  `json:"selection,omitempty"`
}

// Automation decides. Evaluate is called after each freshness pass.
type Automation struct {
	run  Runner
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	enabled   bool
	latest    map[asset.Key]Decision
	history   map[asset.Key][]Decision // newest last, bounded
	lastReq   map[asset.Key]request
	failures  map[asset.Key]int
	settledBy map[asset.Key]string // the run whose outcome was last counted
}

type request struct {
	at  time.Time
	run string
}

// historyLen bounds the decisions kept in memory per asset (the event
// log keeps them all).
const historyLen = 20

// New returns an Automation.
func New(r Runner, opts Options) *Automation {
	if opts.Cooldown <= 0 {
		opts.Cooldown = 10 * time.Minute
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 6 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Automation{run: r, opts: opts, log: opts.Log, enabled: opts.Enabled,
		latest: map[asset.Key]Decision{}, history: map[asset.Key][]Decision{},
		lastReq: map[asset.Key]request{}, failures: map[asset.Key]int{}, settledBy: map[asset.Key]string{}}
}

// Enabled reports the global switch.
func (a *Automation) Enabled() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.enabled
}

// SetEnabled flips the global switch (the API's PUT /api/v1/automation).
func (a *Automation) SetEnabled(on bool) {
	a.mu.Lock()
	a.enabled = on
	a.mu.Unlock()
}

// Latest returns the latest decision per asset (for one asset if key is
// set), sorted by asset.
func (a *Automation) Latest(key asset.Key) []Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	if key != "" {
		return slices.Clone(a.history[key])
	}
	out := make([]Decision, 0, len(a.latest))
	for _, d := range a.latest {
		out = append(out, d)
	}
	slices.SortFunc(out, func(x, y Decision) int {
		if x.Asset < y.Asset {
			return -1
		}
		if x.Asset > y.Asset {
			return 1
		}
		return 0
	})
	return out
}

// Evaluate acts on one freshness snapshot over graph g.
func (a *Automation) Evaluate(ctx context.Context, snap *freshness.Snapshot, g *lineage.Graph) {
	if snap == nil {
		return
	}
	if !a.Enabled() {
		return
	}
	// Only assets that can be rebuilt here are candidates: an asset
	// without a command gets no decision, so an incident over 100k
	// discovered tables records nothing for them.
	var keys []asset.Key
	for k, r := range snap.Results {
		if (r.State == freshness.AtRisk || r.State == freshness.Fail) && a.run.Materializable(k) {
			keys = append(keys, k)
		}
	}
	// By key, for a stable order. A request covers the chain from the
	// root cause, so the other stale assets of that chain then wait for
	// its run rather than launch their own.
	slices.SortFunc(keys, func(x, y asset.Key) int {
		if x < y {
			return -1
		}
		if x > y {
			return 1
		}
		return 0
	})
	var decided []Decision
	for _, k := range keys {
		if d, ok := a.decide(ctx, snap.Results[k], g); ok {
			decided = append(decided, d)
		}
	}
	a.record(ctx, decided)
}

// decide returns the decision for one asset, and whether it differs from
// the previous one (only changes are recorded).
func (a *Automation) decide(ctx context.Context, r freshness.Result, g *lineage.Graph) (Decision, bool) {
	now := a.opts.Now().UTC()
	d := Decision{Asset: r.Key, Time: now, State: r.State.String()}
	chain, why := a.chain(r, g)
	switch {
	case a.opts.Allowed != nil && !a.opts.Allowed(r.Key):
		d.Action, d.Reason = Declined, "automation is off for this asset in freshet.yaml"
	case why != "":
		d.Action, d.Reason = Declined, why
	default:
		a.settle(ctx, r.Key)
		if id, busy := a.busy(chain); busy != "" {
			d.Action, d.Reason, d.RunID = Waiting, fmt.Sprintf("run %s for %s is queued or in flight", id, busy), id
			break
		}
		if id, up := a.upstreamBusy(r.Key, g); up != "" {
			d.Action, d.Reason, d.RunID = Waiting, fmt.Sprintf("upstream %s is being rebuilt by run %s", up, id), id
			break
		}
		if until := a.cooldownEnd(r.Key); now.Before(until) {
			d.Action, d.Reason = Waiting, "cooling down until "+until.Format(time.RFC3339)+a.failureNote(r.Key)
			break
		}
		sel := make([]string, len(chain))
		for i, k := range chain {
			sel[i] = string(k)
		}
		rec, err := a.run.Launch(ctx, runs.LaunchRequest{Selection: sel, Trigger: runs.TriggerAutomation})
		if err != nil {
			d.Action, d.Reason = Declined, "launch failed: "+err.Error()
			break
		}
		a.mu.Lock()
		for _, k := range chain {
			a.lastReq[k] = request{at: now, run: rec.ID}
		}
		a.mu.Unlock()
		d.Action, d.RunID, d.Selection = Requested, rec.ID, sel
		d.Reason = fmt.Sprintf("%s is %s (%s); rebuilding %s", r.Key, r.State, r.Reason, describeChain(chain))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	prev, had := a.latest[r.Key]
	if had && prev.Action == d.Action && prev.Reason == d.Reason && prev.RunID == d.RunID {
		return d, false
	}
	// Waiting after a request (for the run it requested, or out its
	// cooldown while that run's events are evaluated) says nothing new;
	// backing off after a failed run does.
	if had && prev.Action == Requested && d.Action == Waiting && (d.RunID == prev.RunID || d.RunID == "" && a.failures[r.Key] == 0) {
		return d, false
	}
	return d, true
}

// chain returns the assets to rebuild for r, root cause first: the
// materializable assets on the paths from the root cause to the asset.
// why is set when nothing should be requested.
func (a *Automation) chain(r freshness.Result, g *lineage.Graph) (chain []asset.Key, why string) {
	root := r.RootCause
	if root == "" {
		root = r.Key
	}
	if !a.run.Materializable(root) {
		return nil, fmt.Sprintf("root cause %s has no materialize command here; rebuilding %s would not make its data fresh", root, r.Key)
	}
	if root == r.Key || g == nil {
		return []asset.Key{root}, ""
	}
	sub, err := g.Between(root, r.Key)
	if err != nil || len(sub.Nodes) == 0 {
		return []asset.Key{root, r.Key}, ""
	}
	nodes := slices.Clone(sub.Nodes)
	slices.SortStableFunc(nodes, func(x, y lineage.Node) int { return x.Depth - y.Depth })
	for _, n := range nodes {
		if a.run.Materializable(n.Key) {
			chain = append(chain, n.Key)
		}
	}
	return chain, ""
}

// busy returns a run queued or in flight for one of keys.
func (a *Automation) busy(keys []asset.Key) (run string, key asset.Key) {
	for _, k := range keys {
		if id, ok := a.run.InFlight(k); ok {
			return id, k
		}
	}
	return "", ""
}

// upstreamBusy returns a run queued or in flight for an asset upstream of
// key: its result will change key's data time, so key waits for it.
func (a *Automation) upstreamBusy(key asset.Key, g *lineage.Graph) (run string, up asset.Key) {
	if g == nil {
		return "", ""
	}
	sub, err := g.Upstream(key, 0)
	if err != nil {
		return "", ""
	}
	for _, n := range sub.Nodes {
		if n.Key == key {
			continue
		}
		if id, ok := a.run.InFlight(n.Key); ok {
			return id, n.Key
		}
	}
	return "", ""
}

// settle counts the outcome of the latest automated run for key once it
// has ended: a failure doubles the next cooldown, a success resets it.
func (a *Automation) settle(ctx context.Context, key asset.Key) {
	a.mu.Lock()
	req, ok := a.lastReq[key]
	counted := a.settledBy[key] == req.run
	a.mu.Unlock()
	if !ok || counted {
		return
	}
	rec, steps, err := a.run.Get(ctx, req.run)
	if err != nil || !executor.RunStatus(rec.Status).Done() {
		return
	}
	failed := rec.Status != string(executor.RunSuccess)
	for _, st := range steps {
		if st.Asset == key {
			failed = st.Status != string(executor.StepSuccess)
		}
	}
	a.mu.Lock()
	a.settledBy[key] = req.run
	if failed {
		a.failures[key]++
	} else {
		a.failures[key] = 0
	}
	a.mu.Unlock()
}

func (a *Automation) cooldownEnd(key asset.Key) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	req, ok := a.lastReq[key]
	if !ok {
		return time.Time{}
	}
	wait := a.opts.Cooldown
	for range a.failures[key] {
		if wait >= a.opts.MaxBackoff {
			break
		}
		wait *= 2
	}
	return req.at.Add(min(wait, a.opts.MaxBackoff))
}

func (a *Automation) failureNote(key asset.Key) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.failures[key]; n > 0 {
		return fmt.Sprintf(" (backing off after %d failed automated run(s) in a row)", n)
	}
	return ""
}

func describeChain(chain []asset.Key) string {
	if len(chain) == 1 {
		return string(chain[0])
	}
	s := ""
	for i, k := range chain {
		if i > 0 {
			s += " -> "
		}
		s += string(k)
	}
	return s
}

// record keeps the changed decisions and writes them to the event log as
// automation_decision events of their asset.
func (a *Automation) record(ctx context.Context, ds []Decision) {
	if len(ds) == 0 {
		return
	}
	events := make([]asset.Event, 0, len(ds))
	a.mu.Lock()
	for _, d := range ds {
		a.latest[d.Asset] = d
		h := append(a.history[d.Asset], d)
		if len(h) > historyLen {
			h = h[len(h)-historyLen:]
		}
		a.history[d.Asset] = h
		e := asset.Event{ID: asset.NewEventID(), Kind: asset.KindAutomationDecision, Asset: d.Asset, Time: d.Time, RunID: d.RunID,
			Metadata: map[string]asset.MetaValue{"action": asset.Text(d.Action), "reason": asset.Text(d.Reason), "state": asset.Text(d.State)}}
		events = append(events, e)
	}
	a.mu.Unlock()
	for _, d := range ds {
		if d.Action == Requested {
			a.log.Info("automation requested a run", "asset", d.Asset, "run", d.RunID, "selection", d.Selection)
		}
	}
	if a.opts.Events != nil {
		if err := a.opts.Events.Submit(ctx, events); err != nil {
			a.log.Warn("recording automation decisions failed", "err", err)
		}
	}
}
