package api

import (
	"errors"
	"net/http"
	"slices"
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

// Caps of the whole-graph answers: one request must not build hundreds of
// megabytes (a 100k-asset graph is ~100 MB of JSON).
const (
	defaultGraphNodes = 20_000
	maxGraphNodes     = 200_000
	defaultKeysPage   = 1000
	maxKeysPage       = 10_000
)

// graphPage is the whole graph, or its first limit nodes in key order
// with the edges between them.
type graphPage struct {
	lineage.Subgraph
	TotalNodes int  `json:"total_nodes"`
	Truncated  bool `json:"truncated"`
}

// fullGraph: GET /api/v1/lineage/graph[?limit=N]. Past the cap the answer
// says truncated: use the focused views (/assets/{key}/lineage) or raise
// limit.
func (s *Server) fullGraph(c echo.Context) error {
	limit, err := intParam(c, "limit", defaultGraphNodes, maxGraphNodes)
	if err != nil {
		return err
	}
	all := s.deps.Lineage.Current().All()
	out := graphPage{Subgraph: all, TotalNodes: len(all.Nodes)}
	if len(all.Nodes) > limit {
		nodes := all.Nodes[:limit] // All lists the nodes in key order
		keep := make(map[asset.Key]bool, limit)
		for _, n := range nodes {
			keep[n.Key] = true
		}
		edges := make([]lineage.Edge, 0, len(all.Edges))
		for _, e := range all.Edges {
			if keep[e.Upstream] && keep[e.Downstream] {
				edges = append(edges, e)
			}
		}
		out = graphPage{Subgraph: lineage.Subgraph{Nodes: nodes, Edges: edges}, TotalNodes: len(all.Nodes), Truncated: true}
	}
	return c.JSON(http.StatusOK, out)
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
	return keysPage(c, s.deps.Lineage.Current().Roots())
}

func (s *Server) leaves(c echo.Context) error {
	return keysPage(c, s.deps.Lineage.Current().Leaves())
}

// keysPage answers a page of keys in key order: ?limit= (default 1000,
// at most 10,000) and ?cursor= (the last key of the previous page).
func keysPage(c echo.Context, keys []asset.Key) error {
	limit, err := intParam(c, "limit", defaultKeysPage, maxKeysPage)
	if err != nil {
		return err
	}
	// Roots and Leaves come in key order: no sort per request.
	if cur := c.QueryParam("cursor"); cur != "" {
		// A cursor is a key this server gave: anything else is a mistake.
		if _, err := asset.ParseKey(cur); err != nil {
			return badRequest("cursor", "cursor is not one this server gave (the last key of a page): %v", err)
		}
		i, _ := slices.BinarySearch(keys, asset.Key(cur))
		for i < len(keys) && keys[i] <= asset.Key(cur) {
			i++
		}
		keys = keys[i:]
	}
	out := struct {
		Keys       []asset.Key `json:"keys"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}{Keys: nonNil(keys)}
	if len(keys) > limit {
		out.Keys, out.NextCursor = keys[:limit], string(keys[limit-1])
	}
	return c.JSON(http.StatusOK, out)
}

// intParam reads an optional integer query parameter in [1, max].
func intParam(c echo.Context, name string, def, max int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest(name, "%s must be an integer from 1 to %d, not %q", name, max, v)
	}
	return n, nil
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
