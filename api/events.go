package api

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// postEvents accepts one JSON event, a JSON array or NDJSON. The batch is
// all-or-nothing and acknowledged (202) only once it is durable.
func (s *Server) postEvents(c echo.Context) error {
	req := c.Request()
	if err := checkEventsType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	waitStored, err := waitParam(c)
	if err != nil {
		return err
	}
	if req.ContentLength > s.opts.BodyLimit {
		return &http.MaxBytesError{Limit: s.opts.BodyLimit}
	}
	body := http.MaxBytesReader(c.Response(), req.Body, s.opts.BodyLimit)
	events, err := s.decoder.Decode(body, req.ContentLength, req.Header.Get(echo.HeaderContentType), s.opts.Now(), s.newID, s.opts.MaxEvents)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Message: "request body holds no events"}
	}
	if waitStored {
		return s.submitStored(c, events)
	}
	if err := s.deps.Ingest.Submit(req.Context(), events); err != nil {
		return err
	}
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].ID
	}
	return c.JSON(http.StatusAccepted, map[string]any{"accepted": len(events), "ids": ids})
}

func (s *Server) newID() string {
	if s.opts.NewID != nil {
		return s.opts.NewID()
	}
	return asset.NewEventID()
}

type eventsResponse struct {
	Events     []asset.Event `json:"events"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func (s *Server) listEvents(c echo.Context) error {
	q, err := eventQuery(c)
	if err != nil {
		return err
	}
	if a := c.QueryParam("asset"); a != "" {
		if q.Asset, err = asset.ParseKey(a); err != nil {
			return badRequest("asset", "%v", err)
		}
	}
	return s.writeEvents(c, q)
}

func (s *Server) assetEvents(c echo.Context) error {
	key, err := s.knownKey(c) // 404 for an asset nobody has heard of, as elsewhere
	if err != nil {
		return err
	}
	q, err := eventQuery(c)
	if err != nil {
		return err
	}
	q.Asset = key
	return s.writeEvents(c, q)
}

func (s *Server) writeEvents(c echo.Context, q store.EventQuery) error {
	page, err := s.deps.Events.Events(c.Request().Context(), q)
	if err != nil {
		if isBadCursor(err) {
			return badRequest("cursor", "cursor was not returned by this server")
		}
		return err
	}
	if page.Events == nil {
		page.Events = []asset.Event{}
	}
	return c.JSON(http.StatusOK, eventsResponse{Events: page.Events, NextCursor: page.Next})
}

// eventQuery parses the history filters shared by /events and
// /assets/{key}/events.
func eventQuery(c echo.Context) (store.EventQuery, error) {
	var q store.EventQuery
	if kinds := c.QueryParam("kind"); kinds != "" {
		for _, k := range strings.Split(kinds, ",") {
			kind := asset.Kind(strings.TrimSpace(k))
			if !knownKind(kind) {
				return q, badRequest("kind", "unknown event kind %q", k)
			}
			q.Kinds = append(q.Kinds, kind)
		}
	}
	var err error
	if q.Since, err = timeParam(c, "since"); err != nil {
		return q, err
	}
	if q.Until, err = timeParam(c, "until"); err != nil {
		return q, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return q, badRequest("until", "until must be after since")
	}
	if q.Limit, err = limitParam(c, store.MaxLimit); err != nil {
		return q, err
	}
	q.Cursor = c.QueryParam("cursor")
	switch order := c.QueryParam("order"); order {
	case "", "desc":
	case "asc":
		q.Ascending = true
	default:
		return q, badRequest("order", "order must be asc or desc, not %q", order)
	}
	return q, nil
}

func knownKind(k asset.Kind) bool {
	switch k {
	case asset.KindMaterialization, asset.KindMaterializationFailed, asset.KindObservation, asset.KindCheckResult,
		asset.KindRunStarted, asset.KindRunSucceeded, asset.KindRunFailed, asset.KindRunCanceled,
		asset.KindFreshnessChanged, asset.KindPolicyChanged, asset.KindAlertSent, asset.KindAutomationDecision:
		return true
	}
	return false
}

var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

func timeParam(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(name, "%s must be an RFC 3339 time such as 2026-11-25T08:00:00Z, not %q", name, v)
	}
	// Stores keep nanoseconds since 1970 in an int64: outside that range a
	// bound would wrap around and silently mean the opposite.
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, badRequest(name, "%s must be between 1970 and 2262, not %q", name, v)
	}
	return t.UTC(), nil
}

func limitParam(c echo.Context, max int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("limit", "limit must be an integer from 1 to %d, not %q", max, v)
	}
	return n, nil
}
