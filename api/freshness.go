package api

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/auth"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/freshness"
	"github.com/freshet-dev/freshet/store"
)

// Freshness is what the API needs from the freshness monitor.
type Freshness interface {
	Snapshot() *freshness.Snapshot
	Effective(key asset.Key) (freshness.EffectivePolicy, bool)
	SetPolicy(ctx context.Context, key asset.Key, p *asset.FreshnessPolicy, actor string) (freshness.EffectivePolicy, error)
}

// freshnessItem is one asset's current freshness with its group and policy.
type freshnessItem struct {
	freshness.Result
	Group  string                     `json:"group,omitempty"`
	Policy *freshness.EffectivePolicy `json:"policy,omitempty"`
}

// MarshalJSON merges the result's fields with group and policy.
func (f freshnessItem) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(f.Result)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if f.Group != "" {
		m["group"] = f.Group
	}
	if f.Policy != nil {
		m["policy"] = f.Policy
	}
	return json.Marshal(m)
}

// listFreshness: ?state=FAIL,WARN (default all) &group=
func (s *Server) listFreshness(c echo.Context) error {
	want := map[freshness.State]bool{}
	if v := c.QueryParam("state"); v != "" {
		for _, name := range strings.Split(v, ",") {
			st, err := freshness.ParseState(strings.ToUpper(strings.TrimSpace(name)))
			if err != nil {
				return badRequest("state", "%v", err)
			}
			want[st] = true
		}
	}
	group := c.QueryParam("group")
	snap := s.deps.Freshness.Snapshot()
	items := []freshnessItem{}
	for _, r := range snap.Sorted() {
		if len(want) > 0 && !want[r.State] || group != "" && snap.Groups[r.Key] != group {
			continue
		}
		item := freshnessItem{Result: r, Group: snap.Groups[r.Key]}
		if p, ok := s.deps.Freshness.Effective(r.Key); ok {
			item.Policy = &p
		}
		items = append(items, item)
	}
	// Counts cover the group asked for (all states, so a header can say
	// "2 FAIL, 5 PASS" while listing only the failures).
	counts := map[string]int{}
	for _, r := range snap.Results {
		if group == "" || snap.Groups[r.Key] == group {
			counts[r.State.String()]++
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"evaluated_at": snap.At, "counts": counts, "assets": items,
		"problems": s.problems(group), "impacted": s.impacted(snap, group)})
}

// problems are the group's assets whose latest check or run failed: the
// other half of health, next to freshness.
func (s *Server) problems(group string) []catalog.Problem {
	out := s.deps.Catalog.Problems(group)
	if out == nil {
		out = []catalog.Problem{}
	}
	return out
}

// impactedList is the assets downstream of one root cause that have no
// SLA of their own, so nothing else would say they are affected.
type impactedList struct {
	RootCause asset.Key   `json:"root_cause"`
	Assets    []asset.Key `json:"assets"`
	Total     int         `json:"total"` // Assets is capped at maxImpacted
}

// maxImpacted caps the assets listed per root cause, and maxImpactRoots
// the root causes whose downstream is walked: in a wide incident the
// answer stays bounded (the first roots by key are shown).
const (
	maxImpacted    = 100
	maxImpactRoots = 100
)

// impacted lists, per root cause of a result that is not PASS, the
// downstream assets without a policy (in the group, when one is given).
func (s *Server) impacted(snap *freshness.Snapshot, group string) []impactedList {
	roots := map[asset.Key]bool{}
	for _, r := range snap.Results {
		if r.State != freshness.Pass && r.RootCause != "" {
			roots[r.RootCause] = true
		}
	}
	g := s.deps.Lineage.Current()
	out := []impactedList{}
	sorted := slices.Sorted(maps.Keys(roots))
	for _, root := range sorted[:min(len(sorted), maxImpactRoots)] {
		sub, err := g.Downstream(root, 0)
		if err != nil {
			continue // not in the graph (yet)
		}
		l := impactedList{RootCause: root, Assets: []asset.Key{}}
		for _, n := range sub.Nodes {
			if n.Key == root {
				continue
			}
			if _, hasPolicy := snap.Results[n.Key]; hasPolicy {
				continue
			}
			if group != "" {
				if a, ok := s.deps.Catalog.Get(n.Key); !ok || a.Spec.Group != group {
					continue
				}
			}
			l.Total++
			if len(l.Assets) < maxImpacted {
				l.Assets = append(l.Assets, n.Key)
			}
		}
		if l.Total > 0 {
			slices.Sort(l.Assets)
			out = append(out, l)
		}
	}
	return out
}

// assetFreshness: the current result, the effective policy, and the last
// state changes and policy changes (newest first).
func (s *Server) assetFreshness(c echo.Context) error {
	key, err := s.knownKey(c)
	if err != nil {
		return err
	}
	out := map[string]any{"key": key, "result": nil, "policy": nil}
	if r, ok := s.deps.Freshness.Snapshot().Results[key]; ok {
		out["result"] = r
	}
	if p, ok := s.deps.Freshness.Effective(key); ok {
		out["policy"] = p
	}
	ctx := c.Request().Context()
	for name, kind := range map[string]asset.Kind{"history": asset.KindFreshnessChanged, "audit": asset.KindPolicyChanged} {
		page, err := s.deps.Events.Events(ctx, store.EventQuery{Asset: key, Kinds: []asset.Kind{kind}, Limit: 20})
		if err != nil {
			return err
		}
		if page.Events == nil {
			page.Events = []asset.Event{}
		}
		out[name] = page.Events
	}
	return c.JSON(http.StatusOK, out)
}

// putPolicy sets the asset's SLA through the API (it overrides the
// definitions file until deleted), declaring the asset if it is new. Body: {"max_lag":"2h","warn_after":"1h"}
// or {"cron":"0 7 * * *","timezone":"Europe/Paris","max_lag":"8h"}, and
// optionally "actor" (else the X-Freshet-Actor header, else "api").
func (s *Server) putPolicy(c echo.Context) error {
	key, err := keyParam(c)
	if err != nil {
		return err
	}
	_, known := s.deps.Catalog.Get(key)
	if !known && s.deps.Declare == nil {
		return notFound("key", "no asset %q", key)
	}
	body, raw, err := readObject(c, 64<<10)
	if err != nil {
		return err
	}
	for name, v := range raw {
		switch name {
		case "max_lag", "warn_after", "cron", "timezone", "grace", "actor":
			// All members are strings: durations are written "2h", never
			// as numbers (which would be read as nanoseconds).
			if len(v) == 0 || v[0] != '"' {
				return badRequest(name, "%s must be a string such as %s, not %s", name, policyExample[name], v)
			}
		default:
			return &Error{Status: http.StatusBadRequest, Code: "unknown_field", Field: name,
				Message: "unknown field " + name + " (known: max_lag, warn_after, cron, timezone, grace, actor)"}
		}
	}
	var policy asset.FreshnessPolicy
	if err := json.Unmarshal(body, &policy); err != nil {
		field := "max_lag"
		for _, f := range []string{"warn_after", "grace"} {
			if strings.HasPrefix(err.Error(), f) {
				field = f
			}
		}
		return badRequest(field, "%v", err)
	}
	var actor string
	if a, ok := raw["actor"]; ok {
		if err := json.Unmarshal(a, &actor); err != nil || !validActor(actor) {
			return badRequest("actor", "actor must be a name of at most 200 characters without control characters")
		}
	}
	_, hasLag := raw["max_lag"]
	_, hasCron := raw["cron"]
	if !hasLag && !hasCron {
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Field: "max_lag",
			Message: "max_lag is required, e.g. \"2h\" (or a cron deadline, where max_lag is optional)"}
	}
	// The same SLA again changes nothing and records nothing: a retried
	// or scripted PUT must not fill the audit trail.
	if cur, ok := s.deps.Freshness.Effective(key); ok && cur.Source == freshness.SourceAPI && cur.Policy == policy {
		return c.JSON(http.StatusOK, cur)
	}
	if _, err := freshness.CompilePolicy(policy); err != nil {
		return policyError(err) // before declaring anything
	}
	if !known {
		// An SLA on a table that has not reported yet declares it: the
		// SLA then says UNKNOWN until it does, instead of a 404.
		if err := s.deps.Declare(c.Request().Context(), key); err != nil {
			return err
		}
	}
	p, err := s.deps.Freshness.SetPolicy(c.Request().Context(), key, &policy, s.actor(c, actor))
	if err != nil {
		return policyError(err)
	}
	return c.JSON(http.StatusOK, p)
}

// deletePolicy removes the API-set SLA; the file's policy, if any, applies again.
func (s *Server) deletePolicy(c echo.Context) error {
	key, err := s.knownKey(c)
	if err != nil {
		return err
	}
	if _, err := s.deps.Freshness.SetPolicy(c.Request().Context(), key, nil, s.actor(c, "")); err != nil {
		if errors.Is(err, freshness.ErrNoAPIPolicy) {
			return notFound("key", "%v", err)
		}
		return err
	}
	out := map[string]any{"key": key, "policy": nil}
	if p, ok := s.deps.Freshness.Effective(key); ok {
		out["policy"] = p
	}
	return c.JSON(http.StatusOK, out)
}

var policyExample = map[string]string{
	"max_lag": `"2h"`, "warn_after": `"90m"`, "cron": `"0 7 * * *"`, "timezone": `"Europe/Paris"`, "grace": `"6h"`, "actor": `"alice"`,
}

func validActor(a string) bool {
	if len(a) > 200 || !utf8.ValidString(a) {
		return false
	}
	for _, r := range a {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// actor names who made a change, for the audit trail: the token's name
// when the request was authenticated (a client cannot claim to be someone
// else), otherwise what the client said; an unusable name from a header
// or the query is replaced rather than rejected.
func (s *Server) actor(c echo.Context, fromBody string) string {
	if tok, ok := c.Get(principalKey).(auth.Token); ok {
		return tok.Name
	}
	a := s.rawActor(c, fromBody)
	if !validActor(a) {
		return "api"
	}
	return a
}

func (s *Server) rawActor(c echo.Context, fromBody string) string {
	switch {
	case fromBody != "":
		return fromBody
	case c.QueryParam("actor") != "":
		return c.QueryParam("actor")
	case c.Request().Header.Get("X-Freshet-Actor") != "":
		return c.Request().Header.Get("X-Freshet-Actor")
	}
	return "api"
}

// knownKey reads the :key parameter and requires the asset to exist.
func (s *Server) knownKey(c echo.Context) (asset.Key, error) {
	key, err := keyParam(c)
	if err != nil {
		return "", err
	}
	if _, ok := s.deps.Catalog.Get(key); !ok {
		return "", notFound("key", "no asset %q", key)
	}
	return key, nil
}

// policyError maps a rejected policy to a 400 naming the field at fault.
func policyError(err error) error {
	if !errors.Is(err, freshness.ErrInvalidPolicy) {
		return err
	}
	msg := err.Error()
	// CompilePolicy's messages start with the field at fault when one is
	// ("max_lag 30s is too small for a cron deadline"); schedule errors
	// name theirs somewhere inside.
	detail := strings.TrimPrefix(msg, freshness.ErrInvalidPolicy.Error()+": ")
	fields := []string{"max_lag", "warn_after", "grace", "timezone", "cron"}
	for _, f := range fields {
		if strings.HasPrefix(detail, f) {
			return badRequest(f, "%s", msg)
		}
	}
	for _, f := range fields[1:] {
		if strings.Contains(detail, f) {
			return badRequest(f, "%s", msg)
		}
	}
	return badRequest("max_lag", "%s", msg)
}
