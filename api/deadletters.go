package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/ingest"
)

// DeadLetters are the acknowledged events the store rejected on their own
// (see docs/wal.md): listed for an operator, replayed once the cause is
// fixed.
type DeadLetters interface {
	DeadLetters() ([]ingest.DeadLetter, error)
	ReplayDeadLetters(ctx context.Context) (int, error)
}

func (s *Server) listDeadLetters(c echo.Context) error {
	var all []ingest.DeadLetter
	if s.deps.DeadLetters != nil {
		var err error
		if all, err = s.deps.DeadLetters.DeadLetters(); err != nil {
			return err
		}
	}
	if all == nil {
		all = []ingest.DeadLetter{}
	}
	return c.JSON(http.StatusOK, map[string]any{"count": len(all), "dead_letters": all})
}

func (s *Server) replayDeadLetters(c echo.Context) error {
	if s.deps.DeadLetters == nil {
		return c.JSON(http.StatusOK, map[string]int{"replayed": 0})
	}
	n, err := s.deps.DeadLetters.ReplayDeadLetters(c.Request().Context())
	if err != nil {
		return err // a full log is a 503 with Retry-After, like ingest
	}
	return c.JSON(http.StatusOK, map[string]int{"replayed": n})
}
