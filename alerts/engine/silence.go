package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// Matcher selects what a silence mutes: incidents whose root cause
// matches every field set (keys, key prefix, group, owner, tag, kind) and,
// if Rule is set, of that rule.
type Matcher struct {
	Keys      []asset.Key `json:"keys,omitempty"`
	KeyPrefix asset.Key   `json:"key_prefix,omitempty"`
	Group     string      `json:"group,omitempty"`
	Owner     string      `json:"owner,omitempty"`
	Tag       string      `json:"tag,omitempty"`
	Kind      string      `json:"kind,omitempty"`
	Rule      string      `json:"rule,omitempty"`
}

// Empty reports whether m sets nothing (it would mute everything).
func (m Matcher) Empty() bool {
	return len(m.Keys) == 0 && m.KeyPrefix == "" && m.Group == "" && m.Owner == "" && m.Tag == "" && m.Kind == "" && m.Rule == ""
}

func (m Matcher) matches(rule string, s asset.Spec) bool {
	return (len(m.Keys) == 0 || slices.Contains(m.Keys, s.Key)) &&
		(m.KeyPrefix == "" || s.Key.HasPrefix(m.KeyPrefix)) &&
		(m.Group == "" || s.Group == m.Group) &&
		(m.Owner == "" || slices.Contains(s.Owners, m.Owner)) &&
		(m.Tag == "" || slices.Contains(s.Tags, m.Tag)) &&
		(m.Kind == "" || slices.Contains(s.Kinds, m.Kind)) &&
		(m.Rule == "" || m.Rule == rule)
}

// Silence mutes matching incidents from StartsAt until EndsAt.
type Silence struct {
	ID        string    `json:"id"`
	Match     Matcher   `json:"match"`
	Comment   string    `json:"comment"`
	CreatedBy string    `json:"created_by"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Created   time.Time `json:"created"`
	updated   time.Time
}

// Active reports whether s mutes at t.
func (s Silence) Active(t time.Time) bool { return !t.Before(s.StartsAt) && t.Before(s.EndsAt) }

func silenceFromRecord(r store.Silence) (Silence, error) {
	var m Matcher
	if err := json.Unmarshal(r.Selector, &m); err != nil {
		return Silence{}, err
	}
	return Silence{ID: r.ID, Match: m, Comment: r.Comment, CreatedBy: r.CreatedBy,
		StartsAt: r.StartsAt, EndsAt: r.EndsAt, Created: r.Created, updated: r.Updated}, nil
}

func (s Silence) record() store.Silence {
	sel, _ := json.Marshal(s.Match)
	return store.Silence{ID: s.ID, Selector: sel, Comment: s.Comment, CreatedBy: s.CreatedBy,
		StartsAt: s.StartsAt, EndsAt: s.EndsAt, Created: s.Created, Updated: s.updated}
}

func silencedBy(ss []Silence, g *group, root asset.Spec, now time.Time) *Silence {
	for i := range ss {
		if ss[i].Active(now) && ss[i].Match.matches(g.rule.Name, root) {
			return &ss[i]
		}
	}
	return nil
}

// Errors of silence requests.
var (
	ErrSilenceNotFound = errors.New("no such silence")
	ErrSilenceInvalid  = errors.New("invalid silence")
)

// AddSilence stores a new silence (ID, Created set here) and returns it.
func (e *Engine) AddSilence(ctx context.Context, s Silence, now time.Time) (Silence, error) {
	switch {
	case s.Match.Empty():
		return Silence{}, fmt.Errorf("%w: match: give at least one of keys, key_prefix, group, owner, tag, kind, rule", ErrSilenceInvalid)
	case strings.TrimSpace(s.Comment) == "":
		return Silence{}, fmt.Errorf("%w: comment: say why (it is kept with the silence)", ErrSilenceInvalid)
	case s.CreatedBy == "":
		return Silence{}, fmt.Errorf("%w: created_by: say who", ErrSilenceInvalid)
	}
	// Keys follow the one rule for keys (asset.ParseKey): a lookalike
	// would silence nothing, and say otherwise.
	for i, k := range s.Match.Keys {
		if _, err := asset.ParseKey(string(k)); err != nil {
			return Silence{}, fmt.Errorf("%w: match.keys[%d]: %v", ErrSilenceInvalid, i, err)
		}
	}
	if s.Match.KeyPrefix != "" {
		if _, err := asset.ParseKey(string(s.Match.KeyPrefix)); err != nil {
			return Silence{}, fmt.Errorf("%w: match.key_prefix: %v", ErrSilenceInvalid, err)
		}
	}
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	if !s.EndsAt.After(s.StartsAt) || !s.EndsAt.After(now) {
		return Silence{}, fmt.Errorf("%w: ends_at: must be after starts_at and in the future", ErrSilenceInvalid)
	}
	s.ID = asset.NewEventID()
	s.Created, s.updated = now.UTC(), now.UTC()
	s.StartsAt, s.EndsAt = s.StartsAt.UTC(), s.EndsAt.UTC()
	if err := e.st.PutSilences(ctx, []store.Silence{s.record()}); err != nil {
		return Silence{}, fmt.Errorf("store silence: %w", err)
	}
	e.mu.Lock()
	e.silences = append(e.silences, s)
	e.mu.Unlock()
	return s, nil
}

// ExpireSilence ends a silence now; the record keeps who ended it.
func (e *Engine) ExpireSilence(ctx context.Context, id, by string, now time.Time) (Silence, error) {
	e.mu.Lock()
	i := slices.IndexFunc(e.silences, func(s Silence) bool { return s.ID == id })
	if i < 0 {
		e.mu.Unlock()
		return Silence{}, fmt.Errorf("%w: %q", ErrSilenceNotFound, id)
	}
	s := e.silences[i]
	e.mu.Unlock()
	if !s.Active(now) && !now.Before(s.EndsAt) {
		return s, nil // already over: nothing to change
	}
	s.EndsAt = now.UTC()
	if s.StartsAt.After(s.EndsAt) {
		s.StartsAt = s.EndsAt
	}
	s.Comment += fmt.Sprintf(" [expired by %s at %s]", by, s.EndsAt.Format(time.RFC3339))
	s.updated = bump(s.updated, now.UTC())
	if err := e.st.PutSilences(ctx, []store.Silence{s.record()}); err != nil {
		return Silence{}, fmt.Errorf("store silence: %w", err)
	}
	e.mu.Lock()
	if j := slices.IndexFunc(e.silences, func(x Silence) bool { return x.ID == id }); j >= 0 {
		e.silences[j] = s
	}
	e.mu.Unlock()
	return s, nil
}

// Silences returns every silence, newest first.
func (e *Engine) Silences() []Silence {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := slices.Clone(e.silences)
	slices.SortFunc(out, func(a, b Silence) int { return b.Created.Compare(a.Created) })
	return out
}
