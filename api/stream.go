package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/live"
)

// Live is the hub of change notices the stream follows.
type Live interface {
	Subscribe(topics []string) (*live.Sub, error)
	Unsubscribe(*live.Sub)
}

// keepAliveEvery keeps idle streams open through proxies that close quiet
// connections (a comment line every so often).
const keepAliveEvery = 15 * time.Second

// stream: GET /api/v1/stream?topics=events,freshness,runs,alerts, the
// server-sent events the web UI follows to refresh what it shows. Each
// event names its topic and carries a short notice of what changed; a
// "resync" event says notices were dropped (the client was slow), so the
// client re-reads everything it shows. docs/api.md has the format.
func (s *Server) stream(c echo.Context) error {
	if s.deps.Live == nil {
		return notFound("", "this server has no live stream")
	}
	topics, err := topicsParam(c.QueryParam("topics"))
	if err != nil {
		return err
	}
	sub, err := s.deps.Live.Subscribe(topics)
	if errors.Is(err, live.ErrTooMany) {
		c.Response().Header().Set("Retry-After", "5")
		return &Error{Status: http.StatusServiceUnavailable, Code: "too_many_streams",
			Message: "the server follows as many live streams as it allows; retry later"}
	}
	if err != nil {
		return err
	}
	defer s.deps.Live.Unsubscribe(sub)

	w := c.Response()
	// A stream lasts as long as the client stays: lift the server's write
	// deadline for this response.
	_ = http.NewResponseController(w.Writer).SetWriteDeadline(time.Time{})
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if topics == nil {
		topics = live.Topics
	}
	hello, err := json.Marshal(map[string]any{"topics": topics, "server_time": s.opts.Now().UTC()})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "retry: 2000\nevent: hello\ndata: %s\n\n", hello); err != nil {
		return nil
	}
	w.Flush()

	ctx := c.Request().Context()
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil // shutting down: the client reconnects to the next server
		case <-keepAlive.C:
			_, err = io.WriteString(w, ": keep-alive\n\n")
		case n := <-sub.C():
			if sub.Lagged() {
				_, err = io.WriteString(w, "event: resync\ndata: {}\n\n")
			}
			if err == nil {
				_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", n.Seq, n.Topic, n.Data)
			}
		}
		if err != nil {
			return nil // the client went away
		}
		w.Flush()
	}
}

// topicsParam parses ?topics=a,b (nil: all topics).
func topicsParam(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var out []string
	for t := range strings.SplitSeq(v, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains(live.Topics, t) {
			return nil, badRequest("topics", "unknown topic %q: the topics are %s", t, strings.Join(live.Topics, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}
