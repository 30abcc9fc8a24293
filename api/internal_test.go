package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store"
)

type emptyDeps struct{}

func (emptyDeps) List(catalog.Filter) ([]catalog.Asset, bool) { return nil, false }
func (emptyDeps) Get(asset.Key) (catalog.Asset, bool)         { return catalog.Asset{}, false }
func (emptyDeps) Problems(string) []catalog.Problem           { return nil }
func (emptyDeps) Glance(asset.Key, ...string) (catalog.Glance, bool) {
	return catalog.Glance{}, false
}
func (emptyDeps) Current() *lineage.Graph                     { return lineage.NewIndex().Current() }
func (emptyDeps) Submit(context.Context, []asset.Event) error { return nil }
func (emptyDeps) Events(context.Context, store.EventQuery) (store.EventPage, error) {
	return store.EventPage{}, nil
}

func newTestServer() *Server {
	d := emptyDeps{}
	return New(Deps{Catalog: d, Lineage: d, Events: d, Ingest: d, Metrics: http.NotFoundHandler()},
		Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// TestOpenAPICoversRoutes fails when a route is added without documenting it
// (or documented without existing).
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	routes := map[string]bool{}
	for _, r := range newTestServer().Routes() {
		if !strings.HasPrefix(r.Path, "/") || r.Method == echo.RouteNotFound {
			continue
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		m := strings.ToLower(r.Method)
		routes[m+" "+p] = true
		if _, ok := doc.Paths[p][m]; !ok {
			t.Errorf("route %s %s is not in openapi.json", r.Method, p)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !routes[m+" "+p] {
				t.Errorf("openapi.json documents %s %s, which is not a route", m, p)
			}
		}
	}
}

func TestPanicBecomes500WithRequestID(t *testing.T) {
	t.Parallel()
	s := newTestServer()
	s.echo.GET("/boom", func(echo.Context) error { panic("kaboom") })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != 500 {
		t.Fatalf("status = %d", rec.Code)
	}
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.RequestID == "" || body.Error.Code != "internal" {
		t.Fatalf("body = %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "kaboom") {
		t.Error("panic value leaked to the client")
	}
	if rec.Header().Get(echo.HeaderXRequestID) != body.Error.RequestID {
		t.Error("request id differs from the X-Request-Id header")
	}
}
