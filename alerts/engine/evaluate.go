package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store"
)

// Why an open incident is not sent.
const (
	HeldSilenced  = "silenced"
	HeldInhibited = "inhibited"
	HeldQuiet     = "quiet hours"
)

// Evaluate runs the pipeline on in and sends what changed: new incidents,
// repeats, held incidents whose hold ended, and resolves.
func (e *Engine) Evaluate(ctx context.Context, in Input) error {
	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	now := in.Now.UTC()
	groups := e.match(collect(in))
	inhibitedBy := inhibited(groups, in.Graph)
	impacted := impactedByRoot(in)

	type send struct {
		in        *incident
		silenced  bool
		receivers []string // nil: the rule's
	}
	var sends []send
	var changed []store.Incident
	e.mu.Lock()
	silences := slices.Clone(e.silences)
	for k, g := range groups {
		n := e.notification(g, append(impacted[g.root], downstream(in.Graph, g.root)...), now)
		in := e.open[k]
		isNew := in == nil
		if isNew {
			n.StartsAt = now
			in = &incident{rec: store.Incident{Key: k, Rule: g.rule.Name, RootCause: string(g.root), StartsAt: now}, receivers: g.rule.Receivers}
			e.open[k] = in
		} else {
			n.StartsAt = in.rec.StartsAt
		}
		lastSent := in.rec.LastSent
		dirty := isNew || changedMuch(in.n, n)
		in.n = n
		if dirty {
			in.rec.Notification, _ = json.Marshal(n)
		}
		hold := ""
		switch {
		case inhibitedBy[k] != "":
			hold = HeldInhibited
		case silencedBy(silences, g, e.spec(g.root), now) != nil:
			hold = HeldSilenced
		case g.rule.QuietHours != nil && g.rule.QuietHours.Contains(now):
			hold = HeldQuiet
		}
		sent := !in.rec.LastSent.IsZero()
		switch {
		case hold == HeldSilenced && !sent:
			in.held = hold
			if !in.recorded {
				// Recorded, not sent: the delivery log shows what a
				// silence kept quiet.
				in.recorded = true
				sends = append(sends, send{in: in, silenced: true})
			}
		case hold != "" && !sent:
			in.held = hold
		case !sent:
			in.held = ""
			in.rec.LastSent = now
			sends = append(sends, send{in: in})
		case g.rule.RepeatInterval > 0 && now.Sub(in.rec.LastSent) >= g.rule.RepeatInterval && hold == "":
			in.rec.LastSent = now
			sends = append(sends, send{in: in})
		default:
			if hold == "" {
				if rs := e.resendDue(in, now); len(rs) > 0 {
					sends = append(sends, send{in: in, receivers: rs})
				}
			}
		}
		if dirty || !in.rec.LastSent.Equal(lastSent) {
			if !dirty {
				in.rec.Notification, _ = json.Marshal(n)
			}
			in.rec.Updated = bump(in.rec.Updated, now)
			changed = append(changed, in.rec)
		}
	}
	// Resolve what no longer fires.
	var resolved []*incident
	for k, in := range e.open {
		if _, ok := groups[k]; ok {
			continue
		}
		delete(e.open, k)
		in.rec.EndsAt = now
		in.rec.Updated = bump(in.rec.Updated, now)
		changed = append(changed, in.rec)
		if !in.rec.LastSent.IsZero() {
			resolved = append(resolved, in)
		}
	}
	e.mu.Unlock()

	// Incidents first: once an incident is stored as sent, a crash before
	// the outbox has it loses that page; the other way round, a crash
	// re-sends it, which the receivers' dedup key absorbs.
	var errs []error
	for _, s := range sends {
		receivers := s.receivers
		if receivers == nil {
			receivers = s.in.receivers
			e.mu.Lock()
			for _, r := range receivers {
				if e.opts.ResendEvery[r] > 0 {
					if s.in.resent == nil {
						s.in.resent = map[string]time.Time{}
					}
					s.in.resent[r] = now
				}
			}
			e.mu.Unlock()
		}
		if err := e.out.Enqueue(ctx, s.in.n, receivers, s.silenced); err != nil {
			errs = append(errs, fmt.Errorf("enqueue %s: %w", s.in.rec.Key, err))
		}
	}
	for _, in := range resolved {
		n := in.n
		n.Status, n.EndsAt = alerts.Resolved, now
		n.Summary = "resolved: " + n.Summary
		if err := e.out.Enqueue(ctx, n, in.receivers, false); err != nil {
			errs = append(errs, fmt.Errorf("enqueue resolve of %s: %w", in.rec.Key, err))
		}
	}
	if len(changed) > 0 {
		if err := e.st.PutIncidents(ctx, changed); err != nil {
			errs = append(errs, fmt.Errorf("store incidents: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) spec(k asset.Key) asset.Spec {
	if s, ok := e.opts.Spec(k); ok {
		return s
	}
	return asset.Spec{Key: k}
}

// resendDue returns the receivers of a sent incident that are due for a
// re-send, and marks them sent now. Callers hold e.mu.
func (e *Engine) resendDue(in *incident, now time.Time) []string {
	var due []string
	for _, r := range in.receivers {
		every := e.opts.ResendEvery[r]
		if every <= 0 {
			continue
		}
		if in.resent == nil {
			in.resent = map[string]time.Time{}
		}
		last, ok := in.resent[r]
		if !ok {
			last = in.rec.LastSent
		}
		if now.Sub(last) >= every {
			in.resent[r] = now
			due = append(due, r)
		}
	}
	return due
}

// impactedByRoot lists, per root cause, the assets the freshness monitor
// says are stale because of it.
func impactedByRoot(in Input) map[asset.Key][]asset.Key {
	out := map[asset.Key][]asset.Key{}
	if in.Freshness == nil {
		return out
	}
	for k, r := range in.Freshness.Results {
		if r.RootCause != "" && r.RootCause != k {
			out[r.RootCause] = append(out[r.RootCause], k)
		}
	}
	return out
}

// downstream lists every asset below root in the lineage graph: whatever
// it feeds cannot be fresher or more correct than it, SLA or not.
func downstream(g *lineage.Graph, root asset.Key) []asset.Key {
	if g == nil {
		return nil
	}
	sub, err := g.Downstream(root, 0)
	if err != nil {
		return nil
	}
	out := make([]asset.Key, 0, len(sub.Nodes))
	for _, n := range sub.Nodes {
		if n.Key != root {
			out = append(out, n.Key)
		}
	}
	return out
}

// notification builds a group's firing notification.
func (e *Engine) notification(g *group, stale []asset.Key, now time.Time) alerts.Notification {
	root := e.spec(g.root)
	set := map[asset.Key]bool{}
	for _, k := range stale {
		set[k] = true
	}
	var whens []string
	var rootReason string
	n := alerts.Notification{
		Key: g.key, Status: alerts.Firing, RootCause: g.root, Asset: g.root, Rule: g.rule.Name,
		Group: root.Group, Owners: slices.Clone(root.Owners), Severity: severity(g),
		Details: map[string]string{},
	}
	for _, c := range g.conds {
		if c.asset != g.root {
			set[c.asset] = true
		} else if rootReason == "" || strings.HasPrefix(c.when, "freshness") {
			rootReason = c.reason
			n.Lag, n.Deadline = c.lag, c.deadline
		}
		if !slices.Contains(whens, c.when) {
			whens = append(whens, c.when)
		}
		if c.asset == g.root && c.when != "" {
			n.Details[c.when] = c.reason
		}
	}
	delete(set, g.root)
	impacted := make([]asset.Key, 0, len(set))
	for k := range set {
		impacted = append(impacted, k)
	}
	slices.Sort(impacted)
	n.Details["impacted_count"] = fmt.Sprint(len(impacted))
	if len(impacted) > e.opts.MaxImpacted {
		impacted = impacted[:e.opts.MaxImpacted]
	}
	n.Impacted = impacted
	owners := map[string]bool{}
	for _, k := range impacted {
		for _, o := range e.spec(k).Owners {
			if !slices.Contains(n.Owners, o) {
				owners[o] = true
			}
		}
	}
	if len(owners) > 0 {
		list := make([]string, 0, len(owners))
		for o := range owners {
			list = append(list, o)
		}
		slices.Sort(list)
		n.Details["impacted_owners"] = strings.Join(list, ", ")
	}
	slices.Sort(whens)
	n.Details["conditions"] = strings.Join(whens, ", ")
	if rootReason == "" && len(g.conds) > 0 {
		// The root itself matched nothing (no SLA of its own): say what it
		// causes.
		c := g.conds[0]
		rootReason = fmt.Sprintf("root cause of %s, %s", c.asset, c.reason)
	}
	n.Summary = fmt.Sprintf("%s: %s", g.root, rootReason)
	if len(set) > 0 {
		n.Summary += fmt.Sprintf(" (%d impacted)", len(set))
	}
	if len(n.Summary) > 1000 {
		n.Summary = n.Summary[:1000]
	}
	if e.opts.ServerURL != "" {
		n.Links = map[string]string{"asset": strings.TrimSuffix(e.opts.ServerURL, "/") + "/api/v1/assets/" + url.PathEscape(string(g.root))}
	}
	return n
}

// severity is the rule's, or by default error for failures and FAIL and
// warning for the early states.
func severity(g *group) alerts.Severity {
	if g.rule.Severity != "" {
		return alerts.Severity(g.rule.Severity)
	}
	for _, c := range g.conds {
		switch c.when {
		case config.WhenFreshnessFail, config.WhenMaterialization, config.WhenRunFailed, config.WhenCheckFailed:
			return alerts.Error
		}
	}
	return alerts.Warning
}

// changedMuch reports whether an incident's notification changed in what
// is worth storing: not its lag, which moves every pass.
func changedMuch(a, b alerts.Notification) bool {
	return a.Severity != b.Severity || !slices.Equal(a.Impacted, b.Impacted) ||
		a.Details["conditions"] != b.Details["conditions"] || a.Details["impacted_count"] != b.Details["impacted_count"]
}

// bump returns a version after prev.
func bump(prev, now time.Time) time.Time {
	if !now.After(prev) {
		return prev.Add(time.Nanosecond)
	}
	return now
}

// Open is an incident as the API shows it.
type Open struct {
	Notification alerts.Notification `json:"notification"`
	// Held says why it has not been sent: silenced, inhibited, quiet hours;
	// empty once sent.
	Held     string    `json:"held,omitempty"`
	LastSent time.Time `json:"last_sent,omitzero"`
}

// Firing returns the open incidents, sorted by key.
func (e *Engine) Firing() []Open {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Open, 0, len(e.open))
	for _, in := range e.open {
		out = append(out, Open{Notification: in.n, Held: in.held, LastSent: in.rec.LastSent})
	}
	slices.SortFunc(out, func(a, b Open) int { return strings.Compare(a.Notification.Key, b.Notification.Key) })
	return out
}
