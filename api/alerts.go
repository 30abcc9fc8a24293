package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/engine"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/auth"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/store"
)

// Alerting is the alert engine: open incidents and silences
// (engine.Engine has it).
type Alerting interface {
	Firing() []engine.Open
	Silences() []engine.Silence
	AddSilence(ctx context.Context, s engine.Silence, now time.Time) (engine.Silence, error)
	ExpireSilence(ctx context.Context, id, by string, now time.Time) (engine.Silence, error)
}

// Deliveries is the alert outbox: the delivery log and test sends.
type Deliveries interface {
	Deliveries(ctx context.Context, q store.DeliveryQuery) (store.DeliveryPage, error)
	Test(ctx context.Context, receiver string) error
}

func (s *Server) alerting() (Alerting, error) {
	if s.deps.Alerts == nil {
		return nil, notFound("", "no alerts are configured (alerts: in freshet.yaml)")
	}
	return s.deps.Alerts, nil
}

// listAlerts: GET /api/v1/alerts: the open incidents, sent or held.
func (s *Server) listAlerts(c echo.Context) error {
	al, err := s.alerting()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"alerts": al.Firing()})
}

type wireRule struct {
	Name           string          `json:"name"`
	When           []string        `json:"when"`
	CheckSeverity  asset.Severity  `json:"check_severity,omitempty"`
	Select         *engine.Matcher `json:"select,omitempty"`
	Receivers      []string        `json:"receivers"`
	Severity       string          `json:"severity,omitempty"`
	RepeatInterval string          `json:"repeat_interval,omitempty"`
	QuietHours     *wireQuiet      `json:"quiet_hours,omitempty"`
}

type wireQuiet struct {
	Start    string   `json:"start"`
	End      string   `json:"end"`
	Timezone string   `json:"timezone"`
	Days     []string `json:"days,omitempty"`
}

func clock(d time.Duration) string {
	return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(d).Format("15:04")
}

// listRules: GET /api/v1/alerts/rules: the rules and receivers of
// freshet.yaml (receivers by name and type: no addresses or secrets).
func (s *Server) listRules(c echo.Context) error {
	out := struct {
		Rules     []wireRule          `json:"rules"`
		Receivers []map[string]string `json:"receivers"`
	}{Rules: []wireRule{}, Receivers: []map[string]string{}}
	for _, r := range s.deps.AlertRules.Rules {
		w := wireRule{Name: r.Name, When: r.When, CheckSeverity: r.CheckSeverity, Receivers: r.Receivers, Severity: r.Severity}
		if sel := r.Select; sel != nil {
			w.Select = &engine.Matcher{Keys: sel.Keys, KeyPrefix: sel.KeyPrefix, Group: sel.Group, Owner: sel.Owner, Tag: sel.Tag, Kind: sel.Kind}
		}
		if r.RepeatInterval > 0 {
			w.RepeatInterval = asset.FormatDuration(r.RepeatInterval)
		}
		if q := r.QuietHours; q != nil {
			w.QuietHours = &wireQuiet{Start: clock(q.Start), End: clock(q.End), Timezone: q.Location.String()}
			for _, d := range q.Days {
				w.QuietHours.Days = append(w.QuietHours.Days, strings.ToLower(d.String()[:3]))
			}
		}
		out.Rules = append(out.Rules, w)
	}
	for _, r := range s.deps.AlertRules.Receivers {
		out.Receivers = append(out.Receivers, map[string]string{"name": r.Name, "type": r.Type})
	}
	return c.JSON(http.StatusOK, out)
}

type wireDelivery struct {
	ID            string              `json:"id"`
	Receiver      string              `json:"receiver"`
	Key           string              `json:"key"`
	Status        string              `json:"status"`
	State         string              `json:"state"`
	Attempts      int                 `json:"attempts"`
	NextAttempt   *time.Time          `json:"next_attempt,omitempty"`
	LastCode      int                 `json:"last_code,omitempty"`
	LastError     string              `json:"last_error,omitempty"`
	LastLatencyMS float64             `json:"last_latency_ms,omitempty"`
	Created       time.Time           `json:"created"`
	Updated       time.Time           `json:"updated"`
	Notification  alerts.Notification `json:"notification"`
}

var deliveryStates = []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryRejected, store.DeliveryDropped, store.DeliverySilenced}

// listDeliveries: GET /api/v1/alerts/deliveries?state=&receiver=&key=&limit=&cursor=
func (s *Server) listDeliveries(c echo.Context) error {
	if s.deps.Deliveries == nil {
		return notFound("", "no alerts are configured (alerts: in freshet.yaml)")
	}
	var q store.DeliveryQuery
	if v := c.QueryParam("state"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st = strings.TrimSpace(st)
			if !slices.Contains(deliveryStates, st) {
				return badRequest("state", "unknown delivery state %q (known: %s)", st, strings.Join(deliveryStates, ", "))
			}
			q.States = append(q.States, st)
		}
	}
	q.Receiver, q.Key, q.Cursor = c.QueryParam("receiver"), c.QueryParam("key"), c.QueryParam("cursor")
	var err error
	if q.Limit, err = limitParam(c, store.MaxLimit); err != nil {
		return err
	}
	page, err := s.deps.Deliveries.Deliveries(c.Request().Context(), q)
	if errors.Is(err, store.ErrBadCursor) {
		return badRequest("cursor", "cursor is not one this server gave")
	}
	if err != nil {
		return err
	}
	out := struct {
		Deliveries []wireDelivery `json:"deliveries"`
		NextCursor string         `json:"next_cursor,omitempty"`
	}{Deliveries: make([]wireDelivery, 0, len(page.Deliveries)), NextCursor: page.Next}
	for _, d := range page.Deliveries {
		w := wireDelivery{ID: d.ID, Receiver: d.Receiver, Key: d.Key, Status: d.Status, State: d.State, Attempts: d.Attempts,
			LastCode: d.LastCode, LastError: d.LastError, LastLatencyMS: float64(d.LastLatency.Microseconds()) / 1000,
			Created: d.Created.UTC(), Updated: d.Updated.UTC()}
		if d.State == store.DeliveryPending {
			w.NextAttempt = optTime(d.NextAttempt)
		}
		_ = json.Unmarshal(d.Notification, &w.Notification)
		out.Deliveries = append(out.Deliveries, w)
	}
	return c.JSON(http.StatusOK, out)
}

// testReceiver: POST /api/v1/alerts/test?receiver=NAME sends a test
// notification (firing, then resolved) straight to the receiver.
func (s *Server) testReceiver(c echo.Context) error {
	if s.deps.Deliveries == nil {
		return notFound("", "no alerts are configured (alerts: in freshet.yaml)")
	}
	name := c.QueryParam("receiver")
	if name == "" {
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Field: "receiver", Message: "receiver is required: the name of a receiver in freshet.yaml"}
	}
	if !slices.ContainsFunc(s.deps.AlertRules.Receivers, func(r config.Receiver) bool { return r.Name == name }) {
		return notFound("receiver", "no receiver %q in freshet.yaml", name)
	}
	if err := s.deps.Deliveries.Test(c.Request().Context(), name); err != nil {
		return &Error{Status: http.StatusBadGateway, Code: "delivery_failed", Field: "receiver", Message: err.Error()}
	}
	return c.JSON(http.StatusOK, map[string]string{"receiver": name, "outcome": "delivered"})
}

type wireSilence struct {
	engine.Silence
	Active bool `json:"active"`
}

func (s *Server) listSilences(c echo.Context) error {
	al, err := s.alerting()
	if err != nil {
		return err
	}
	now := s.opts.Now()
	out := []wireSilence{}
	for _, sl := range al.Silences() {
		out = append(out, wireSilence{Silence: sl, Active: sl.Active(now)})
	}
	return c.JSON(http.StatusOK, map[string]any{"silences": out})
}

// addSilence: POST /api/v1/silences
// {"match": {"key_prefix": "raw/crm"}, "duration": "2h", "comment": "vendor outage", "created_by": "alice"}
// (or "ends_at"; "starts_at" defaults to now).
func (s *Server) addSilence(c echo.Context) error {
	al, err := s.alerting()
	if err != nil {
		return err
	}
	_, raw, err := readObject(c, 64<<10)
	if err != nil {
		return err
	}
	var sl engine.Silence
	var dur time.Duration
	for name, v := range raw {
		var err error
		switch name {
		case "match":
			dec := json.NewDecoder(strings.NewReader(string(v)))
			dec.DisallowUnknownFields()
			if err = dec.Decode(&sl.Match); err != nil {
				return badRequest("match", "match must be an object of keys, key_prefix, group, owner, tag, kind, rule: %v", err)
			}
		case "comment":
			err = json.Unmarshal(v, &sl.Comment)
		case "created_by":
			err = json.Unmarshal(v, &sl.CreatedBy)
		case "starts_at":
			err = json.Unmarshal(v, &sl.StartsAt)
		case "ends_at":
			err = json.Unmarshal(v, &sl.EndsAt)
		case "duration":
			var d string
			if err = json.Unmarshal(v, &d); err == nil {
				dur, err = asset.ParseDuration(d)
			}
		default:
			return &Error{Status: http.StatusBadRequest, Code: "unknown_field", Field: name,
				Message: "unknown field " + name + " (known: match, comment, created_by, starts_at, ends_at, duration)"}
		}
		if err != nil {
			return badRequest(name, "%s: %v", name, err)
		}
	}
	if tok, ok := c.Get(principalKey).(auth.Token); ok {
		sl.CreatedBy = tok.Name
	} else if sl.CreatedBy == "" {
		sl.CreatedBy = c.Request().Header.Get("X-Freshet-Actor")
	}
	if !validActor(sl.CreatedBy) {
		return badRequest("created_by", "created_by must be a name of at most 200 characters without control characters")
	}
	now := s.opts.Now().UTC()
	switch {
	case dur > 0 && !sl.EndsAt.IsZero():
		return badRequest("duration", "give duration or ends_at, not both")
	case dur > 0:
		start := sl.StartsAt
		if start.IsZero() {
			start = now
		}
		sl.EndsAt = start.Add(dur)
	case sl.EndsAt.IsZero():
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Field: "duration", Message: `a silence needs an end: "duration": "2h" or "ends_at"`}
	}
	created, err := al.AddSilence(c.Request().Context(), sl, now)
	if errors.Is(err, engine.ErrSilenceInvalid) {
		msg := strings.TrimPrefix(err.Error(), engine.ErrSilenceInvalid.Error()+": ")
		field, rest, _ := strings.Cut(msg, ": ")
		return badRequest(field, "%s", rest)
	}
	if err != nil {
		return err
	}
	s.log.Info("silence added", "id", created.ID, "by", created.CreatedBy, "ends_at", created.EndsAt, "comment", created.Comment)
	return c.JSON(http.StatusCreated, wireSilence{Silence: created, Active: created.Active(now)})
}

// expireSilence: DELETE /api/v1/silences/{id}[?actor=NAME] ends it now.
func (s *Server) expireSilence(c echo.Context) error {
	al, err := s.alerting()
	if err != nil {
		return err
	}
	by := s.actor(c, "")
	now := s.opts.Now().UTC()
	sl, err := al.ExpireSilence(c.Request().Context(), c.Param("id"), by, now)
	if errors.Is(err, engine.ErrSilenceNotFound) {
		return notFound("id", "no silence %q", c.Param("id"))
	}
	if err != nil {
		return err
	}
	s.log.Info("silence expired", "id", sl.ID, "by", by)
	return c.JSON(http.StatusOK, wireSilence{Silence: sl, Active: false})
}
