package api

import (
	"encoding/base64"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
)

type assetsResponse struct {
	Assets     []catalog.Asset `json:"assets"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// listAssets filters the catalog: ?group=&owner=&tag=&kind=&origin=&q=&limit=&cursor=
func (s *Server) listAssets(c echo.Context) error {
	f := catalog.Filter{
		Group: c.QueryParam("group"), Owner: c.QueryParam("owner"), Tag: c.QueryParam("tag"),
		Kind: c.QueryParam("kind"), Text: c.QueryParam("q"), Origin: asset.Origin(c.QueryParam("origin")),
	}
	switch f.Origin {
	case "", asset.OriginDeclared, asset.OriginDiscovered, asset.OriginAPI, asset.OriginDBT:
	default:
		return badRequest("origin", "origin must be declared, discovered, api or dbt, not %q", f.Origin)
	}
	limit, err := limitParam(c, 10000)
	if err != nil {
		return err
	}
	f.Limit = limit
	if limit == 0 {
		f.Limit = 1000
	}
	if cur := c.QueryParam("cursor"); cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || len(raw) == 0 {
			return badRequest("cursor", "cursor was not returned by this server")
		}
		f.After = asset.Key(raw)
	}
	assets, more := s.deps.Catalog.List(f)
	resp := assetsResponse{Assets: assets}
	if resp.Assets == nil {
		resp.Assets = []catalog.Asset{}
	}
	if more {
		last := assets[len(assets)-1].Spec.Key
		resp.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	return c.JSON(http.StatusOK, resp)
}

type assetResponse struct {
	catalog.Asset
	Upstream   []asset.Key `json:"upstream"`
	Downstream []asset.Key `json:"downstream"`
}

func (s *Server) getAsset(c echo.Context) error {
	key, err := keyParam(c)
	if err != nil {
		return err
	}
	a, ok := s.deps.Catalog.Get(key)
	if !ok {
		return notFound("key", "no asset %q", key)
	}
	g := s.deps.Lineage.Current()
	resp := assetResponse{Asset: a, Upstream: g.Parents(key), Downstream: g.Children(key)}
	if resp.Upstream == nil {
		resp.Upstream = []asset.Key{}
	}
	if resp.Downstream == nil {
		resp.Downstream = []asset.Key{}
	}
	return c.JSON(http.StatusOK, resp)
}
