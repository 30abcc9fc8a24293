package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/lineage"
)

// maxDepth bounds ?depth= so a typo cannot ask for a billion levels; 0
// means unlimited.
const maxDepth = 10000

// assetLineage: ?direction=upstream|downstream|both (default both) &depth=N (0 = unlimited).
func (s *Server) assetLineage(c echo.Context) error {
	key, err := keyParam(c)
	if err != nil {
		return err
	}
	depth := 0
	if v := c.QueryParam("depth"); v != "" {
		if depth, err = strconv.Atoi(v); err != nil || depth < 0 || depth > maxDepth {
			return badRequest("depth", "depth must be an integer from 0 (unlimited) to %d, not %q", maxDepth, v)
		}
	}
	g := s.deps.Lineage.Current()
	var sub lineage.Subgraph
	switch dir := c.QueryParam("direction"); dir {
	case "upstream":
		sub, err = g.Upstream(key, depth)
	case "downstream":
		sub, err = g.Downstream(key, depth)
	case "", "both":
		sub, err = g.Neighbourhood(key, depth)
	default:
		return badRequest("direction", "direction must be upstream, downstream or both, not %q", dir)
	}
	if err != nil {
		return lineageError("key", err)
	}
	return c.JSON(http.StatusOK, sub)
}

func (s *Server) fullGraph(c echo.Context) error {
	return c.JSON(http.StatusOK, s.deps.Lineage.Current().All())
}

// lineagePath returns every node and edge on a path from ?from= to ?to=.
func (s *Server) lineagePath(c echo.Context) error {
	from, err := queryKey(c, "from")
	if err != nil {
		return err
	}
	to, err := queryKey(c, "to")
	if err != nil {
		return err
	}
	g := s.deps.Lineage.Current()
	for field, k := range map[string]asset.Key{"from": from, "to": to} {
		if !g.Has(k) {
			return notFound(field, "%s %q is not in the lineage graph", field, k)
		}
	}
	sub, err := g.Between(from, to)
	if err != nil {
		return lineageError("from", err)
	}
	return c.JSON(http.StatusOK, sub)
}

func (s *Server) roots(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string][]asset.Key{"keys": nonNil(s.deps.Lineage.Current().Roots())})
}

func (s *Server) leaves(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string][]asset.Key{"keys": nonNil(s.deps.Lineage.Current().Leaves())})
}

func queryKey(c echo.Context, name string) (asset.Key, error) {
	v := c.QueryParam(name)
	if v == "" {
		return "", &Error{Status: http.StatusBadRequest, Code: "missing_field", Field: name, Message: name + " is required"}
	}
	k, err := asset.ParseKey(v)
	if err != nil {
		return "", badRequest(name, "%v", err)
	}
	return k, nil
}

func lineageError(field string, err error) error {
	if errors.Is(err, lineage.ErrUnknownAsset) {
		return notFound(field, "%v", err)
	}
	return err
}

func nonNil(keys []asset.Key) []asset.Key {
	if keys == nil {
		return []asset.Key{}
	}
	return keys
}
