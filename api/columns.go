package api

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/lineage"
)

// Columns is column-level lineage (lineage.Columns).
type Columns interface {
	Of(key asset.Key) asset.ColumnLineage
	ReadBy(key asset.Key, columns []string) map[string][]asset.ColumnInput
	Downstreamed(key asset.Key) []string
	Trace(start asset.ColumnRef, up, down bool, depth, maxNodes int) (lineage.ColumnGraph, error)
}

// maxColumnNodes caps one column traversal's answer.
const maxColumnNodes = 5000

type wireColumn struct {
	Name        string              `json:"name"`
	Type        string              `json:"type,omitempty"`
	Description string              `json:"description,omitempty"`
	Upstream    []asset.ColumnInput `json:"upstream"`
	Downstream  []asset.ColumnInput `json:"downstream"`
}

// assetColumns: GET /api/v1/assets/{key}/columns, the asset's columns
// (declared in its spec, reported by its latest schema, or named by
// column lineage) with the columns each is computed from and the columns
// computed from it.
func (s *Server) assetColumns(c echo.Context) error {
	cols, err := s.columnsOrNotFound()
	if err != nil {
		return err
	}
	key, err := keyParam(c)
	if err != nil {
		return err
	}
	a, ok := s.deps.Catalog.Get(key)
	if !ok {
		return notFound("key", "no asset %q", key)
	}
	byName := map[string]*wireColumn{}
	var order []string
	add := func(name, typ, desc string) {
		if name == "" {
			return
		}
		w, ok := byName[name]
		if !ok {
			w = &wireColumn{Name: name, Upstream: []asset.ColumnInput{}, Downstream: []asset.ColumnInput{}}
			byName[name] = w
			order = append(order, name)
		}
		if w.Type == "" {
			w.Type = typ
		}
		if w.Description == "" {
			w.Description = desc
		}
	}
	for _, col := range a.Spec.Columns {
		add(col.Name, col.Type, col.Description)
	}
	for _, e := range []*asset.Event{a.LastMaterialization, a.LastObservation} {
		for _, f := range schemaColumns(e) {
			add(f.Name, f.Type, f.Description)
		}
	}
	up := cols.Of(key)
	for _, name := range slices.Sorted(maps.Keys(up)) {
		add(name, "", "")
	}
	for _, name := range cols.Downstreamed(key) {
		add(name, "", "")
	}
	down := cols.ReadBy(key, order)
	out := struct {
		Asset   asset.Key    `json:"asset"`
		Columns []wireColumn `json:"columns"`
	}{Asset: key, Columns: make([]wireColumn, 0, len(order))}
	for _, name := range order {
		w := byName[name]
		if ins := up[name]; ins != nil {
			w.Upstream = ins
		}
		if outs := down[name]; outs != nil {
			w.Downstream = outs
		}
		out.Columns = append(out.Columns, *w)
	}
	return c.JSON(http.StatusOK, out)
}

// columnLineage: GET /api/v1/assets/{key}/columns/{column}/lineage,
// direction=upstream|downstream|both (default both), depth (0: all),
// limit (at most maxColumnNodes columns).
func (s *Server) columnLineage(c echo.Context) error {
	cols, err := s.columnsOrNotFound()
	if err != nil {
		return err
	}
	key, err := keyParam(c)
	if err != nil {
		return err
	}
	column := c.Param("column")
	if c.Request().URL.RawPath != "" {
		if column, err = url.PathUnescape(column); err != nil {
			return badRequest("column", "the column name is not valid percent-encoding: %v", err)
		}
	}
	if column == "" {
		return badRequest("column", "name a column: /assets/{key}/columns/{column}/lineage")
	}
	depth := 0
	if v := c.QueryParam("depth"); v != "" {
		if depth, err = strconv.Atoi(v); err != nil || depth < 0 || depth > maxDepth {
			return badRequest("depth", "depth must be an integer from 0 (unlimited) to %d, not %q", maxDepth, v)
		}
	}
	limit, err := limitParam(c, maxColumnNodes)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = maxColumnNodes
	}
	var up, down bool
	switch dir := c.QueryParam("direction"); dir {
	case "upstream":
		up = true
	case "downstream":
		down = true
	case "", "both":
		up, down = true, true
	default:
		return badRequest("direction", "direction must be upstream, downstream or both, not %q", dir)
	}
	if _, ok := s.deps.Catalog.Get(key); !ok {
		return notFound("key", "no asset %q", key)
	}
	g, err := cols.Trace(asset.ColumnRef{Asset: key, Column: column}, up, down, depth, limit)
	if errors.Is(err, lineage.ErrUnknownColumn) {
		return notFound("column", "no column lineage names column %q of %s", column, key)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

func (s *Server) columnsOrNotFound() (Columns, error) {
	if s.deps.Columns == nil {
		return nil, notFound("", "this server keeps no column lineage")
	}
	return s.deps.Columns, nil
}

// schemaColumns reads an event's columns metadata (the OpenLineage
// schema facet's fields); what does not parse is skipped.
func schemaColumns(e *asset.Event) []asset.Column {
	if e == nil {
		return nil
	}
	v, ok := e.Metadata[asset.ColumnsKey]
	if !ok || v.Type != asset.MetaJSON {
		return nil
	}
	var cols []asset.Column
	if json.Unmarshal([]byte(v.Text), &cols) != nil {
		return nil
	}
	return cols
}
