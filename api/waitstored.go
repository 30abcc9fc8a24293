package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
)

// StoredIngester can also wait until the store holds a batch, for
// POST /api/v1/events?wait=stored (read-your-writes).
type StoredIngester interface {
	SubmitStored(ctx context.Context, events []asset.Event, wait time.Duration) (stored bool, err error)
}

// errCannotWait: the ingester behind this server cannot wait for its store.
var errCannotWait = &Error{Status: http.StatusBadRequest, Code: "invalid_value", Field: "wait", Message: "this server cannot wait for the store"}

// storedWait bounds ?wait=stored: well within the server's one-minute
// write timeout. The batch is acknowledged either way; "stored" says
// whether the store had it in time.
const storedWait = 30 * time.Second

// waitParam reads ?wait: "" (acknowledge once durable) or "stored".
func waitParam(c echo.Context) (bool, error) {
	switch w := c.QueryParam("wait"); w {
	case "":
		return false, nil
	case "stored":
		return true, nil
	default:
		return false, badRequest("wait", "wait must be stored (or absent), not %q", w)
	}
}

// submitStored acknowledges events once the store holds them, or after
// storedWait with "stored": false.
func (s *Server) submitStored(c echo.Context, events []asset.Event) error {
	si, ok := s.deps.Ingest.(StoredIngester)
	if !ok {
		return errCannotWait
	}
	stored, err := si.SubmitStored(c.Request().Context(), events, storedWait)
	if err != nil {
		return err
	}
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].ID
	}
	return c.JSON(http.StatusAccepted, map[string]any{"accepted": len(events), "ids": ids, "stored": stored})
}
