package api

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/automation"
)

// Automation reads the freshness automation's decisions and flips its
// global switch (automation.Automation has it).
type Automation interface {
	Enabled() bool
	SetEnabled(on bool)
	Latest(key asset.Key) []automation.Decision
}

type automationBody struct {
	Enabled   bool                  `json:"enabled"`
	Decisions []automation.Decision `json:"decisions"`
}

// getAutomation: GET /api/v1/automation[?asset=KEY]: the switch and the
// latest decision per asset, or one asset's recent decisions (oldest
// first).
func (s *Server) getAutomation(c echo.Context) error {
	au := s.deps.Automation
	if au == nil {
		return notFound("", "this server runs no automation")
	}
	var key asset.Key
	if v := c.QueryParam("asset"); v != "" {
		k, err := asset.ParseKey(v)
		if err != nil {
			return badRequest("asset", "%v", err)
		}
		key = k
	}
	ds := au.Latest(key)
	if ds == nil {
		ds = []automation.Decision{}
	}
	return c.JSON(http.StatusOK, automationBody{Enabled: au.Enabled(), Decisions: ds})
}

// putAutomation: PUT /api/v1/automation {"enabled": false}: pause or
// resume every automated run request (runs in flight go on; manual runs
// are not affected). It lasts until the next restart, which reads
// freshet.yaml again.
func (s *Server) putAutomation(c echo.Context) error {
	au := s.deps.Automation
	if au == nil {
		return notFound("", "this server runs no automation")
	}
	_, raw, err := readObject(c, 4<<10)
	if err != nil {
		return err
	}
	for name := range raw {
		if name != "enabled" {
			return &Error{Status: http.StatusBadRequest, Code: "unknown_field", Field: name, Message: "unknown field " + name + " (known: enabled)"}
		}
	}
	v, ok := raw["enabled"]
	if !ok {
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Field: "enabled", Message: "enabled is required: true or false"}
	}
	var on bool
	if err := json.Unmarshal(v, &on); err != nil {
		return badRequest("enabled", "enabled must be true or false, not %s", v)
	}
	au.SetEnabled(on)
	s.log.Info("automation switched", "enabled", on)
	return c.JSON(http.StatusOK, automationBody{Enabled: au.Enabled(), Decisions: au.Latest("")})
}
