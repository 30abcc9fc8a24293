package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
)

// Runs launches and reads executor runs (runs.Service has it).
type Runs interface {
	Launch(ctx context.Context, req runs.LaunchRequest) (store.RunRecord, error)
	Cancel(ctx context.Context, id string) (store.RunRecord, error)
	Reexecute(ctx context.Context, id string, fromFailure bool) (store.RunRecord, error)
	Get(ctx context.Context, id string) (store.RunRecord, []store.StepRecord, error)
	List(ctx context.Context, q store.RunQuery) (store.RunPage, error)
	Logs(ctx context.Context, q store.RunLogQuery) ([]store.RunLogLine, error)
	Follow(id string) (<-chan runs.Update, func(), bool)
}

// wireRun is a run as the API writes it.
type wireRun struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Trigger   string     `json:"trigger"`
	Selection []string   `json:"selection"`
	Partition string     `json:"partition,omitempty"`
	Parent    string     `json:"parent,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Created   time.Time  `json:"created"`
	Started   *time.Time `json:"started,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
	Steps     []wireStep `json:"steps,omitempty"`
}

type wireStep struct {
	Asset    asset.Key  `json:"asset"`
	Status   string     `json:"status"`
	Attempts int        `json:"attempts"`
	Reason   string     `json:"reason,omitempty"`
	Started  *time.Time `json:"started,omitempty"`
	Ended    *time.Time `json:"ended,omitempty"`
}

type wireLog struct {
	Seq       uint64    `json:"seq"`
	Asset     asset.Key `json:"asset"`
	Attempt   int       `json:"attempt"`
	Stream    string    `json:"stream"`
	Time      time.Time `json:"time"`
	Text      string    `json:"text"`
	Truncated bool      `json:"truncated,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toWireRun(r store.RunRecord, steps []store.StepRecord) wireRun {
	w := wireRun{ID: r.ID, Status: r.Status, Trigger: r.Trigger, Selection: runs.Selection(r), Partition: r.Partition,
		Parent: r.Parent, Reason: r.Reason, Created: r.Created.UTC(), Started: optTime(r.Started), Ended: optTime(r.Ended)}
	for _, s := range steps {
		w.Steps = append(w.Steps, toWireStep(s))
	}
	return w
}

func toWireStep(s store.StepRecord) wireStep {
	return wireStep{Asset: s.Asset, Status: s.Status, Attempts: s.Attempts, Reason: s.Reason,
		Started: optTime(s.Started), Ended: optTime(s.Ended)}
}

func toWireLog(l store.RunLogLine) wireLog {
	return wireLog{Seq: l.Seq, Asset: l.Asset, Attempt: l.Attempt, Stream: l.Stream, Time: l.Time.UTC(), Text: l.Text, Truncated: l.Truncated}
}

func (s *Server) runsOrNotFound() (Runs, error) {
	if s.deps.Runs == nil {
		return nil, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "this server runs no executor"}
	}
	return s.deps.Runs, nil
}

// runError maps the runs service's errors to answers.
func runError(err error, id string) error {
	switch {
	case errors.Is(err, runs.ErrNotFound):
		return notFound("id", "no run %q", id)
	case errors.Is(err, runs.ErrFinished), errors.Is(err, runs.ErrNotFinished), errors.Is(err, runs.ErrNothingToRetry):
		return &Error{Status: http.StatusConflict, Code: "conflict", Field: "id", Message: err.Error()}
	case errors.Is(err, runs.ErrBadSelection):
		return badRequest("selection", "%s", strings.TrimPrefix(err.Error(), runs.ErrBadSelection.Error()+": "))
	case errors.Is(err, runs.ErrClosed):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: err.Error()}
	}
	return err
}

// launchRun: POST /api/v1/runs {"selection": ["marts/orders", "+marts/revenue"], "partition": "2026-11-30"}.
// The selection may also be one string of space-separated terms. Commands
// come from freshet.yaml only: a request names assets, never a command.
func (s *Server) launchRun(c echo.Context) error {
	rs, err := s.runsOrNotFound()
	if err != nil {
		return err
	}
	_, raw, err := readObject(c, 64<<10)
	if err != nil {
		return err
	}
	var req runs.LaunchRequest
	for name, v := range raw {
		switch name {
		case "selection":
			var one string
			if json.Unmarshal(v, &one) == nil {
				req.Selection = strings.Fields(one)
			} else if err := json.Unmarshal(v, &req.Selection); err != nil {
				return badRequest("selection", `selection must be a list of terms such as ["marts/orders", "+marts/revenue", "group:marts"]`)
			}
		case "partition":
			if err := json.Unmarshal(v, &req.Partition); err != nil {
				return badRequest("partition", "partition must be a string")
			}
			// It reaches the step's environment: no control characters.
			if len(req.Partition) > 200 || strings.ContainsFunc(req.Partition, unicode.IsControl) {
				return badRequest("partition", "partition must be at most 200 bytes without control characters")
			}
		default:
			return &Error{Status: http.StatusBadRequest, Code: "unknown_field", Field: name,
				Message: "unknown field " + name + " (known: selection, partition)"}
		}
	}
	if len(req.Selection) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Field: "selection",
			Message: `selection is required: keys, +key (with its upstream), key+ (with its downstream), group:NAME, tag:NAME`}
	}
	rec, err := rs.Launch(c.Request().Context(), req)
	if err != nil {
		return runError(err, "")
	}
	_, steps, _ := rs.Get(c.Request().Context(), rec.ID)
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/runs/"+rec.ID)
	return c.JSON(http.StatusCreated, toWireRun(rec, steps))
}

var runStatuses = []string{
	string(executor.RunQueued), string(executor.RunStarting), string(executor.RunStarted), string(executor.RunSuccess),
	string(executor.RunFailure), string(executor.RunCanceling), string(executor.RunCanceled),
}

// listRuns: GET /api/v1/runs?status=FAILURE,STARTED&asset=KEY&trigger=automation&since=&until=&limit=&cursor=
func (s *Server) listRuns(c echo.Context) error {
	rs, err := s.runsOrNotFound()
	if err != nil {
		return err
	}
	var q store.RunQuery
	if v := c.QueryParam("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st = strings.ToUpper(strings.TrimSpace(st))
			if !slices.Contains(runStatuses, st) {
				return badRequest("status", "unknown run status %q (known: %s)", st, strings.Join(runStatuses, ", "))
			}
			q.Statuses = append(q.Statuses, st)
		}
	}
	if v := c.QueryParam("asset"); v != "" {
		k, err := asset.ParseKey(v)
		if err != nil {
			return badRequest("asset", "%v", err)
		}
		q.Asset = k
	}
	q.Trigger = c.QueryParam("trigger")
	if q.Since, err = timeParam(c, "since"); err != nil {
		return err
	}
	if q.Until, err = timeParam(c, "until"); err != nil {
		return err
	}
	if q.Limit, err = limitParam(c, store.MaxLimit); err != nil {
		return err
	}
	q.Cursor = c.QueryParam("cursor")
	page, err := rs.List(c.Request().Context(), q)
	if errors.Is(err, store.ErrBadCursor) {
		return badRequest("cursor", "cursor is not one this server gave")
	}
	if err != nil {
		return err
	}
	out := struct {
		Runs       []wireRun `json:"runs"`
		NextCursor string    `json:"next_cursor,omitempty"`
	}{Runs: make([]wireRun, 0, len(page.Runs)), NextCursor: page.Next}
	for _, r := range page.Runs {
		out.Runs = append(out.Runs, toWireRun(r, nil))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getRun(c echo.Context) error {
	rs, err := s.runsOrNotFound()
	if err != nil {
		return err
	}
	id := c.Param("id")
	rec, steps, err := rs.Get(c.Request().Context(), id)
	if err != nil {
		return runError(err, id)
	}
	return c.JSON(http.StatusOK, toWireRun(rec, steps))
}

// cancelRun: POST /api/v1/runs/{id}/cancel. 202: the run is stopping
// (follow it, or GET it, for the end); 409 if it has ended.
func (s *Server) cancelRun(c echo.Context) error {
	rs, err := s.runsOrNotFound()
	if err != nil {
		return err
	}
	id := c.Param("id")
	rec, err := rs.Cancel(c.Request().Context(), id)
	if err != nil {
		return runError(err, id)
	}
	return c.JSON(http.StatusAccepted, toWireRun(rec, nil))
}

// reexecuteRun: POST /api/v1/runs/{id}/reexecute[?from=failure].
func (s *Server) reexecuteRun(c echo.Context) error {
	rs, err := s.runsOrNotFound()
	if err != nil {
		return err
	}
	id := c.Param("id")
	var fromFailure bool
	switch from := c.QueryParam("from"); from {
	case "", "start":
	case "failure":
		fromFailure = true
	default:
		return badRequest("from", "from must be failure or start, not %q", from)
	}
	rec, err := rs.Reexecute(c.Request().Context(), id, fromFailure)
	if err != nil {
		return runError(err, id)
	}
	_, steps, _ := rs.Get(c.Request().Context(), rec.ID)
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/runs/"+rec.ID)
	return c.JSON(http.StatusCreated, toWireRun(rec, steps))
}

// runLogs: GET /api/v1/runs/{id}/logs?after=SEQ&limit=N, or with
// ?follow=true (or Accept: text/event-stream) a live tail as server-sent
// events until the run ends: "log", "step" and "run" events, then "end".
func (s *Server) runLogs(c echo.Context) error {
	rs, err := s.runsOrNotFound()
	if err != nil {
		return err
	}
	id := c.Param("id")
	var after uint64
	if v := c.QueryParam("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return badRequest("after", "after must be a log sequence number (an integer >= 0), not %q", v)
		}
	}
	limit, err := limitParam(c, store.MaxLogLimit)
	if err != nil {
		return err
	}
	follow := strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/event-stream")
	switch v := c.QueryParam("follow"); v {
	case "":
	case "true", "1":
		follow = true
	case "false", "0":
		follow = false
	default:
		return badRequest("follow", "follow must be true or false, not %q", v)
	}
	if follow {
		return s.followRun(c, rs, id, after)
	}
	lines, err := rs.Logs(c.Request().Context(), store.RunLogQuery{RunID: id, AfterSeq: after, Limit: limit})
	if err != nil {
		return runError(err, id)
	}
	out := struct {
		Lines     []wireLog `json:"lines"`
		NextAfter uint64    `json:"next_after"`
	}{Lines: make([]wireLog, 0, len(lines)), NextAfter: after}
	for _, l := range lines {
		out.Lines = append(out.Lines, toWireLog(l))
		out.NextAfter = l.Seq
	}
	return c.JSON(http.StatusOK, out)
}

// followRun streams a run as server-sent events. It subscribes before
// reading the backlog, so no line falls between the two, and skips what
// the backlog already sent.
func (s *Server) followRun(c echo.Context, rs Runs, id string, after uint64) error {
	ctx := c.Request().Context()
	updates, stop, live := rs.Follow(id)
	defer stop()
	_, steps, err := rs.Get(ctx, id)
	if err != nil {
		return runError(err, id)
	}
	w := c.Response()
	// A live tail lasts as long as the run: lift the server's write
	// deadline for this response.
	_ = http.NewResponseController(w.Writer).SetWriteDeadline(time.Time{})
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	// Where each step is now: a follower that came late still sees every
	// step (changes after this arrive as they happen).
	for _, st := range steps {
		if err := send("step", toWireStep(st)); err != nil {
			return nil
		}
	}
	last := after
	backlog := func() error {
		for {
			lines, err := rs.Logs(ctx, store.RunLogQuery{RunID: id, AfterSeq: last, Limit: store.MaxLogLimit})
			if err != nil {
				return err
			}
			for _, l := range lines {
				if err := send("log", toWireLog(l)); err != nil {
					return err
				}
				last = l.Seq
			}
			if len(lines) < store.MaxLogLimit {
				return nil
			}
		}
	}
	if err := backlog(); err != nil {
		return nil // the client went away or the store failed mid-stream: nothing more to say
	}
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	for live {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil // shutting down: the client reads the rest from the next server
		case <-keepAlive.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case u, ok := <-updates:
			if !ok {
				live = false
				break
			}
			var err error
			switch {
			case u.Log != nil && u.Log.Seq > last:
				last = u.Log.Seq
				err = send("log", toWireLog(*u.Log))
			case u.Step != nil:
				err = send("step", toWireStep(*u.Step))
			case u.Run != nil:
				err = send("run", toWireRun(*u.Run, nil))
			}
			if err != nil {
				return nil
			}
		}
	}
	// The run is over (or this follower fell behind): send what is left,
	// then the final state.
	if backlog() != nil {
		return nil
	}
	rec, steps, err := rs.Get(ctx, id)
	if err != nil {
		return nil
	}
	_ = send("end", toWireRun(rec, steps))
	return nil
}
