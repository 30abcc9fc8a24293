package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/openlineage/marquez"
)

// Marquez-compatible read: GET /api/v1/lineage?nodeId=dataset:NS:NAME
// (or job:NS:NAME)&depth=N answers Marquez's lineage graph from Freshet's
// (package openlineage/marquez has the mapping). The same path's POST is
// OpenLineage in (api/openlineage.go), as in Marquez.

// marquezDefaultDepth is Marquez's default.
const marquezDefaultDepth = 20

func (s *Server) marquezLineage(c echo.Context) error {
	nodeID := c.QueryParam("nodeId")
	if nodeID == "" {
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Field: "nodeId",
			Message: "nodeId is required: dataset:NAMESPACE:NAME or job:NAMESPACE:NAME"}
	}
	depth := marquezDefaultDepth
	if v := c.QueryParam("depth"); v != "" {
		var err error
		if depth, err = strconv.Atoi(v); err != nil || depth < 1 || depth > maxDepth {
			return badRequest("depth", "depth must be an integer from 1 to %d, not %q", maxDepth, v)
		}
	}
	ns := s.opts.OpenLineage
	if ns.Job == "" {
		ns.Job = "freshet"
	}
	if ns.Dataset == "" {
		ns.Dataset = "freshet://" + ns.Job
	}
	out, err := marquez.Query(s.deps.Lineage.Current(), s.deps.Catalog, ns, nodeID, depth)
	switch {
	case errors.Is(err, marquez.ErrBadNodeID):
		return badRequest("nodeId", "%v", err)
	case errors.Is(err, marquez.ErrNotFound):
		return notFound("nodeId", "%v", err)
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, out)
}
