// Package api serves Freshet's REST API (/api/v1), health endpoints and the
// OpenAPI document over Echo. It depends on small interfaces declared here,
// satisfied by the catalog, the lineage index, the store and ingest.
package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/openlineage/marquez"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/ui"
)

// Catalog is the read side of the in-memory catalog.
type Catalog interface {
	List(f catalog.Filter) ([]catalog.Asset, bool)
	Get(k asset.Key) (catalog.Asset, bool)
	Problems(group string) []catalog.Problem
	// Glance is a cheaper Get for graph views (GET /api/v1/lineage).
	Glance(k asset.Key, meta ...string) (catalog.Glance, bool)
}

// Lineage returns the current immutable lineage snapshot.
type Lineage interface {
	Current() *lineage.Graph
}

// EventReader pages through stored history.
type EventReader interface {
	Events(ctx context.Context, q store.EventQuery) (store.EventPage, error)
}

// Ingester accepts decoded, validated events and returns once they are
// durable.
type Ingester interface {
	Submit(ctx context.Context, events []asset.Event) error
}

// Deps are the components the API serves.
type Deps struct {
	Catalog Catalog
	Lineage Lineage
	Events  EventReader
	Ingest  Ingester
	// Ready reports whether the server can take traffic (nil error = ready).
	Ready func(ctx context.Context) error
	// Healthy reports whether the process works at all; an error fails
	// /healthz, asking an orchestrator to restart it (nil: always healthy).
	Healthy func(ctx context.Context) error
	// Freshness is the freshness monitor (current states, SLAs).
	Freshness Freshness
	// Declare makes a key an asset, so an SLA can be set on a table before
	// it reports anything (nil: such a PUT is a 404).
	Declare func(ctx context.Context, key asset.Key) error
	// DeadLetters lists and replays events set aside by the store writer
	// (nil: none are kept; the list is empty).
	DeadLetters DeadLetters
	// Metrics serves the Prometheus exposition at /metrics (nil: 404).
	Metrics http.Handler
	// Runs launches and reads executor runs (nil: the runs routes are 404).
	Runs Runs
	// Automation reads and switches the freshness automation (nil: 404).
	Automation Automation
	// Alerts, Deliveries and AlertRules serve the alerting (nil: 404).
	Alerts     Alerting
	Deliveries Deliveries
	AlertRules config.Alerting
	// Live is what GET /api/v1/stream follows (nil: 404).
	Live Live
	// Columns is column-level lineage (nil: its routes are 404).
	Columns Columns
	// Assets tells new keys from assets, for the asset limits (nil: no
	// asset limits).
	Assets AssetSet
	// Specs stores specs from outside the definitions file: the dbt
	// import (nil: POST /api/v1/dbt/import is 404).
	Specs SpecWriter
}

// SpecWriter stores specs made outside the definitions file and makes
// them current; it returns the keys the definitions file declares, whose
// specs it keeps but does not use.
type SpecWriter interface {
	PutSpecs(ctx context.Context, specs []asset.Spec) (shadowed []asset.Key, err error)
}

// Options tune the server.
type Options struct {
	Logger    *slog.Logger
	BodyLimit int64 // bytes accepted by ingest endpoints; 0 means DefaultBodyLimit
	Version   string
	Now       func() time.Time
	NewID     func() string
	// Auth checks bearer tokens and their scopes; nil, or a token file
	// that never held a token, leaves the API open (loopback, tests).
	Auth Authenticator
	// AllowedHosts are the Host names answered (empty: any); a server on
	// loopback should allow only loopback names (DNS rebinding).
	AllowedHosts []string
	// AllowedOrigins may make cross-origin browser requests (CORS); empty:
	// none, only same-origin pages (the UI) may.
	AllowedOrigins []string
	// MetricsAuth makes /metrics need a read token too.
	MetricsAuth bool
	// MaxEvents bounds the events of one ingest request (0:
	// ingest.DefaultMaxEvents).
	MaxEvents int
	// DBTBodyLimit bounds the body of POST /api/v1/dbt/import, sent and
	// inflated: a manifest is far larger than an event batch (0:
	// DefaultDBTBodyLimit).
	DBTBodyLimit int64
	// TracerProvider gives every request a server span named after its
	// route (api/telemetry.go); nil or the no-op provider: no spans.
	TracerProvider trace.TracerProvider
	// Limits (api/limits.go). For each count, 0 means its default and a
	// negative value no limit. IngestWait is how long an ingest request
	// waits for a slot (0: DefaultIngestWait).
	MaxConcurrentIngest, MaxAssets, NewAssetsPerMinute int
	MaxIngestBytes                                     int64
	IngestWait                                         time.Duration
	// ReadTimeout bounds reading a request, body included (0: a minute).
	ReadTimeout time.Duration
	// OpenLineage are the namespaces of Freshet's jobs and of assets not
	// named ol/... in OpenLineage terms (GET /api/v1/lineage); empty:
	// "freshet" and "freshet://<job namespace>", as openlineage/emit.
	OpenLineage marquez.Namespaces
	// Leadership, when several servers share a store, sends the routes
	// only the leader serves (runs, alerts, silences, automation) to it
	// (api/forward.go); nil: this server is the only one. Name says who
	// forwarded, in the X-Freshet-Forwarded-By header.
	Leadership Leadership
	Name       string
}

// DefaultBodyLimit is the largest ingest body accepted unless configured.
const DefaultBodyLimit = 16 << 20

// DefaultDBTBodyLimit is the largest dbt import accepted unless
// configured: the manifest of a project of a few thousand models.
const DefaultDBTBodyLimit = 256 << 20

// Server is the HTTP API.
type Server struct {
	echo    *echo.Echo
	handler http.Handler // echo, instrumented when tracing is on
	deps    Deps
	opts    Options
	log     *slog.Logger
	metrics *httpMetrics
	// closing is closed when Serve starts to shut down: live streams end
	// then rather than hold the graceful shutdown for its whole timeout.
	closing   chan struct{}
	closeOnce sync.Once
	slots     *ingestSlots // nil: no bound on concurrent ingest
	decoder   *ingest.Decoder
}

// New builds the server and its routes.
func New(deps Deps, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = DefaultBodyLimit
	}
	if opts.DBTBodyLimit <= 0 {
		opts.DBTBodyLimit = DefaultDBTBodyLimit
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if deps.Ready == nil {
		deps.Ready = func(context.Context) error { return nil }
	}
	if gate := newAssetGate(deps.Assets, opts.MaxAssets, opts.NewAssetsPerMinute, opts.Now); gate != nil {
		if deps.Ingest != nil {
			deps.Ingest = gatedIngester{Ingester: deps.Ingest, gate: gate}
		}
		if deps.Declare != nil {
			deps.Declare = gatedDeclare(gate, deps.Declare)
		}
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{echo: e, deps: deps, opts: opts, log: opts.Logger, metrics: newHTTPMetrics(opts.Version), closing: make(chan struct{}), decoder: ingest.NewDecoder(),
		slots: newIngestSlots(opts.MaxConcurrentIngest, opts.MaxIngestBytes, opts.IngestWait)}
	e.HTTPErrorHandler = s.handleError
	e.Use(s.observe())
	e.Use(middleware.RequestID())
	e.Use(s.logRequests())
	e.Use(s.guard())
	e.Use(s.forward())
	e.Use(s.limitIngest())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableErrorHandler: true, // the error goes to handleError: a 500 with the request id
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic in handler", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
				"path", c.Request().URL.Path, "err", err, "stack", string(stack))
			return err
		},
	}))
	s.routes()
	s.metrics.collectors = append(s.metrics.collectors, s.limitCollectors()...)
	s.handler = s.instrument(e)
	return s
}

func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if s.deps.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.deps.Metrics))
	}
	v1 := e.Group("/api/v1")
	v1.GET("/openapi.json", s.openAPI)
	v1.POST("/events", s.postEvents)
	v1.GET("/events", s.listEvents)
	v1.GET("/assets", s.listAssets)
	v1.GET("/assets/:key", s.getAsset)
	v1.GET("/assets/:key/events", s.assetEvents)
	v1.GET("/assets/:key/lineage", s.assetLineage)
	v1.GET("/assets/:key/columns", s.assetColumns) // api/columns.go
	v1.GET("/assets/:key/columns/:column/lineage", s.columnLineage)
	v1.GET("/lineage/graph", s.fullGraph)
	v1.GET("/lineage/path", s.lineagePath)
	v1.GET("/lineage/roots", s.roots)
	v1.GET("/lineage/leaves", s.leaves)
	v1.POST("/lineage", s.postLineage)            // OpenLineage in (api/openlineage.go)
	v1.GET("/lineage", s.marquezLineage)          // Marquez's lineage graph (api/marquez.go)
	v1.POST("/lineage/batch", s.postLineageBatch) // a JSON array or NDJSON of them
	v1.POST("/dbt/import", s.importDBT)           // dbt artifacts (api/dbt.go)
	v1.GET("/freshness", s.listFreshness)
	v1.GET("/assets/:key/freshness", s.assetFreshness)
	v1.PUT("/assets/:key/freshness/policy", s.putPolicy)
	v1.DELETE("/assets/:key/freshness/policy", s.deletePolicy)
	v1.GET("/dead-letters", s.listDeadLetters)
	v1.POST("/dead-letters/replay", s.replayDeadLetters)
	v1.POST("/runs", s.launchRun)
	v1.GET("/runs", s.listRuns)
	v1.GET("/runs/:id", s.getRun)
	v1.POST("/runs/:id/cancel", s.cancelRun)
	v1.POST("/runs/:id/reexecute", s.reexecuteRun)
	v1.GET("/runs/:id/logs", s.runLogs)
	v1.GET("/automation", s.getAutomation)
	v1.PUT("/automation", s.putAutomation)
	v1.GET("/alerts", s.listAlerts)
	v1.GET("/alerts/rules", s.listRules)
	v1.GET("/alerts/deliveries", s.listDeliveries)
	v1.POST("/alerts/test", s.testReceiver)
	v1.GET("/stream", s.stream) // live change notices (api/stream.go)
	v1.GET("/silences", s.listSilences)
	v1.POST("/silences", s.addSilence)
	v1.DELETE("/silences/:id", s.expireSilence)
	// GETs that no route matched are the web UI (ui/): its files, or index.html for its own routes.
	e.Use(s.webUI)
}

var webUI = ui.Handler()

// webUI is the innermost middleware: it sees what the router matched, so
// unknown /api paths keep their JSON 404 and wrong methods their 405.
func (s *Server) webUI(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if c.Path() != "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) ||
			r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
			return next(c)
		}
		webUI.ServeHTTP(c.Response(), r)
		return nil
	}
}

// Handler returns the server as an http.Handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists method and path of every route, for the OpenAPI check.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully, giving in-flight requests up to 10 seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		// A body must arrive within a minute and an answer be written in
		// one (live streams lift their own write deadline); idle
		// keep-alive connections are closed after two.
		ReadTimeout:  cmp.Or(s.opts.ReadTimeout, time.Minute),
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { s.closeOnce.Do(func() { close(s.closing) }) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", err)
	}
	return nil
}

func (s *Server) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod: true, LogURI: true, LogStatus: true, LogLatency: true, LogRequestID: true,
		LogError: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelDebug // successful reads are noise at info in a busy install
			switch {
			case v.Status >= 500:
				level = slog.LevelError
			case v.Status == http.StatusBadRequest && bodyAborted(v.Error):
				// A client that went away mid-body is noise, not news.
			case v.Status >= 400 || c.Request().Method != http.MethodGet:
				level = slog.LevelInfo
			}
			attrs := []slog.Attr{
				slog.String("method", v.Method), slog.String("uri", v.URI), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("request_id", v.RequestID),
			}
			if v.Error != nil {
				attrs = append(attrs, slog.String("err", v.Error.Error()))
			}
			s.log.LogAttrs(c.Request().Context(), level, "http request", attrs...)
			return nil
		},
	})
}

func (s *Server) healthz(c echo.Context) error {
	if s.deps.Healthy != nil {
		if err := s.deps.Healthy(c.Request().Context()); err != nil {
			return &Error{Status: http.StatusServiceUnavailable, Code: "unhealthy", Message: err.Error()}
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.opts.Version})
}

func (s *Server) readyz(c echo.Context) error {
	if err := s.deps.Ready(c.Request().Context()); err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "not_ready", Message: err.Error()}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
