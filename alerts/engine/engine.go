// Package engine decides what to notify: after each freshness pass it
// collects what is wrong with each asset (freshness states, failed checks,
// failed materializations and runs), matches the rules of freshet.yaml,
// groups what matched by root cause (one incident per rule and root, with
// the impacted assets listed), inhibits incidents whose root lies
// downstream of another firing root, holds back silenced ones and those in
// quiet hours, sends each incident once (again only at its repeat
// interval), and resolves it when its conditions are gone. The stages are
// separate functions over plain values (collect, match, group, inhibit,
// then the incident transitions), so each is tested alone.
//
// Incidents are kept in the store, so a restart neither pages twice nor
// forgets to resolve; deliveries go to the durable outbox.
package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store"
)

// Outbox takes notifications for delivery (outbox.Outbox): durable once
// Enqueue returns.
type Outbox interface {
	Enqueue(ctx context.Context, n alerts.Notification, receivers []string, silenced bool) error
}

// Store keeps incidents and silences (store.AlertStore has them).
type Store interface {
	PutIncidents(ctx context.Context, in []store.Incident) error
	Incidents(ctx context.Context, open bool) ([]store.Incident, error)
	PutSilences(ctx context.Context, ss []store.Silence) error
	Silences(ctx context.Context) ([]store.Silence, error)
}

// Options configure an Engine.
type Options struct {
	// Spec returns an asset's spec (the catalog has them), for selectors,
	// owners and groups.
	Spec func(asset.Key) (asset.Spec, bool)
	// ServerURL prefixes the links in notifications (default none).
	ServerURL string
	Logger    *slog.Logger
	// MaxImpacted bounds the impacted assets listed in one notification
	// (default 100); the count is always complete.
	MaxImpacted int
	// ResendEvery re-sends open, sent incidents to these receivers this
	// often: Alertmanager resolves an alert it has not heard of for its
	// resolve_timeout (default 5m), so Freshet keeps telling it.
	ResendEvery map[string]time.Duration
}

// Input is one evaluation's view of the world.
type Input struct {
	Now       time.Time
	Freshness *freshness.Snapshot
	Problems  []catalog.Problem
	Graph     *lineage.Graph
}

// Engine evaluates rules into incidents. Its methods are safe for
// concurrent use; Evaluate calls are serialized.
type Engine struct {
	rules []config.AlertRule
	st    Store
	out   Outbox
	opts  Options
	log   *slog.Logger

	evalMu   sync.Mutex // one Evaluate at a time
	mu       sync.Mutex // guards open and silences
	open     map[string]*incident
	silences []Silence
}

// incident is an open incident in memory.
type incident struct {
	rec       store.Incident
	n         alerts.Notification
	receivers []string
	held      string // why it is not sent: silenced, inhibited, quiet hours; "" once sent or sendable
	recorded  bool   // a silenced delivery was recorded for it
	resent    map[string]time.Time
}

// New returns an Engine; call Load before the first Evaluate.
func New(rules []config.AlertRule, st Store, out Outbox, opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxImpacted <= 0 {
		opts.MaxImpacted = 100
	}
	if opts.Spec == nil {
		opts.Spec = func(asset.Key) (asset.Spec, bool) { return asset.Spec{}, false }
	}
	return &Engine{rules: rules, st: st, out: out, opts: opts, log: opts.Logger, open: map[string]*incident{}}
}

// Load reads the open incidents and the silences from the store.
func (e *Engine) Load(ctx context.Context) error {
	open, err := e.st.Incidents(ctx, true)
	if err != nil {
		return fmt.Errorf("load open incidents: %w", err)
	}
	ss, err := e.st.Silences(ctx)
	if err != nil {
		return fmt.Errorf("load silences: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// A reload replaces what was loaded: a server elected leader loads
	// what the previous leader left.
	e.open, e.silences = make(map[string]*incident, len(open)), nil
	for _, rec := range open {
		in := &incident{rec: rec}
		if err := json.Unmarshal(rec.Notification, &in.n); err != nil {
			e.log.Warn("open incident with an unreadable notification; it will be sent again if still firing", "key", rec.Key, "err", err)
			continue
		}
		if r := e.rule(rec.Rule); r != nil {
			in.receivers = r.Receivers
		}
		if rec.LastSent.IsZero() {
			in.held = "not sent yet"
		}
		e.open[rec.Key] = in
	}
	for _, s := range ss {
		sil, err := silenceFromRecord(s)
		if err != nil {
			e.log.Warn("unreadable silence ignored", "id", s.ID, "err", err)
			continue
		}
		e.silences = append(e.silences, sil)
	}
	return nil
}

func (e *Engine) rule(name string) *config.AlertRule {
	for i := range e.rules {
		if e.rules[i].Name == name {
			return &e.rules[i]
		}
	}
	return nil
}

// condition is one thing wrong with one asset now.
type condition struct {
	asset  asset.Key
	when   string
	root   asset.Key
	reason string
	// Freshness facts, for freshness conditions.
	lag      time.Duration
	deadline time.Time
	// severity of a failed check.
	checkSeverity asset.Severity
	check         string
}

// collect lists the conditions of every asset, in asset order.
func collect(in Input) []condition {
	var out []condition
	if in.Freshness != nil {
		for _, r := range in.Freshness.Results {
			when := ""
			switch r.State {
			case freshness.Fail:
				when = config.WhenFreshnessFail
			case freshness.AtRisk:
				when = config.WhenFreshnessAtRisk
			case freshness.Warn:
				when = config.WhenFreshnessWarn
			case freshness.Unknown:
				when = config.WhenFreshnessUnknown
			default:
				continue
			}
			root := r.RootCause
			if root == "" {
				root = r.Key
			}
			out = append(out, condition{asset: r.Key, when: when, root: root, reason: r.State.String() + ": " + r.Reason,
				lag: r.Lag, deadline: r.Deadline})
		}
	}
	for _, p := range in.Problems {
		if f := p.RunFailed; f != nil {
			msg := "latest materialization failed"
			if v, ok := f.Metadata["error"]; ok && v.Text != "" {
				msg += ": " + v.Text
			}
			out = append(out, condition{asset: p.Key, when: config.WhenMaterialization, root: p.Key, reason: msg})
			if f.RunID != "" {
				if _, byExecutor := f.Metadata["attempts"]; byExecutor {
					out = append(out, condition{asset: p.Key, when: config.WhenRunFailed, root: p.Key, reason: "run " + f.RunID + " failed: " + msg})
				}
			}
		}
		for _, c := range p.FailedChecks {
			out = append(out, condition{asset: p.Key, when: config.WhenCheckFailed, root: p.Key,
				reason: fmt.Sprintf("check %s failed (%s)", c.Check.Name, c.Check.Severity), check: c.Check.Name, checkSeverity: c.Check.Severity})
		}
	}
	slices.SortFunc(out, func(a, b condition) int {
		if c := strings.Compare(string(a.asset), string(b.asset)); c != 0 {
			return c
		}
		return strings.Compare(a.when, b.when)
	})
	return out
}

// fires reports whether rule r matches condition c of an asset with spec.
func fires(r *config.AlertRule, c condition, spec asset.Spec) bool {
	if !slices.Contains(r.When, c.when) {
		return false
	}
	if c.when == config.WhenCheckFailed && severityRank(c.checkSeverity) < severityRank(minCheckSeverity(r)) {
		return false
	}
	return r.Select == nil || r.Select.Matches(spec)
}

func minCheckSeverity(r *config.AlertRule) asset.Severity {
	if r.CheckSeverity == "" {
		return asset.SeverityError
	}
	return r.CheckSeverity
}

func severityRank(s asset.Severity) int {
	if s == asset.SeverityWarn {
		return 1
	}
	return 2 // error, and unset (checks default to error)
}

// group is the conditions one rule matched for one root cause.
type group struct {
	key   string
	rule  *config.AlertRule
	root  asset.Key
	conds []condition
}

// Key is the stable identity of an incident: rule and root cause.
func Key(rule string, root asset.Key) string { return "freshet/" + rule + "/" + string(root) }

// match groups the conditions each rule matches by root cause.
func (e *Engine) match(conds []condition) map[string]*group {
	groups := map[string]*group{}
	for _, c := range conds {
		spec, ok := e.opts.Spec(c.asset)
		if !ok {
			spec = asset.Spec{Key: c.asset}
		}
		for i := range e.rules {
			r := &e.rules[i]
			if !fires(r, c, spec) {
				continue
			}
			k := Key(r.Name, c.root)
			g := groups[k]
			if g == nil {
				g = &group{key: k, rule: r, root: c.root}
				groups[k] = g
			}
			g.conds = append(g.conds, c)
		}
	}
	return groups
}

// inhibited returns, for each group whose root lies downstream of the root
// of another group, that upstream root: its incident already covers it.
func inhibited(groups map[string]*group, g *lineage.Graph) map[string]asset.Key {
	out := map[string]asset.Key{}
	if g == nil || len(groups) < 2 {
		return out
	}
	roots := map[asset.Key]bool{}
	for _, gr := range groups {
		roots[gr.root] = true
	}
	for k, gr := range groups {
		sub, err := g.Upstream(gr.root, 0)
		if err != nil {
			continue
		}
		for _, n := range sub.Nodes {
			if n.Key != gr.root && roots[n.Key] {
				out[k] = n.Key
				break
			}
		}
	}
	return out
}
