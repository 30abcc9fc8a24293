package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/freshet-dev/freshet/api"
	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/auth"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/examples"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/telemetry"
	"github.com/freshet-dev/freshet/ui"
)

type serverFlags struct {
	addr        string
	dataDir     string
	store       string
	bodyLimit   int64
	logLevel    string
	walDir      string
	walMaxBytes int64
	batchSize   int
	batchDelay  time.Duration
	pprofAddr   string
	publicURL   string

	insecure       bool
	allowedHosts   []string
	allowedOrigins []string
	metricsAuth    bool
	dev            bool // freshet dev: loopback only
	maxEvents      int
	noAssetMetrics bool
	limits         limitFlags
	dbtBodyLimit   int64
	signals        signalFlags
}

func (f *serverFlags) register(cmd *cobra.Command, defaultDataDir string) {
	f.signals.register(cmd)
	cmd.Flags().StringVar(&f.addr, "addr", "127.0.0.1:3000", "address to listen on (host:port; use :3000 for all interfaces)")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", defaultDataDir, "directory for the embedded store and the write-ahead log")
	cmd.Flags().StringVar(&f.store, "store", "embedded", "event store: embedded, or clickhouse://user:pass@host:9000/db (options: docs/clickhouse.md)")
	cmd.Flags().Int64Var(&f.bodyLimit, "max-body-bytes", 16<<20, "largest request body accepted by POST /api/v1/events and /api/v1/lineage (413 beyond)")
	cmd.Flags().Int64Var(&f.dbtBodyLimit, "max-dbt-body-bytes", api.DefaultDBTBodyLimit, "largest body accepted by POST /api/v1/dbt/import (freshet dbt import), sent and after gzip (413 beyond)")
	cmd.Flags().IntVar(&f.maxEvents, "max-events-per-request", ingest.DefaultMaxEvents, "most events in one POST /api/v1/events or /api/v1/lineage/batch (400 too_many_events beyond)")
	f.limits.register(cmd)
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&f.walDir, "wal-dir", "", "write-ahead log directory (default DATA-DIR/wal); put it on a local disk")
	cmd.Flags().Int64Var(&f.walMaxBytes, "wal-max-bytes", 1<<30, "most unconfirmed data the write-ahead log holds; when full, ingest answers 503 with Retry-After")
	cmd.Flags().IntVar(&f.batchSize, "batch-size", 50000, "most events written to the store in one batch (fewer while the store is slow: about what it writes in --max-unstored-age)")
	cmd.Flags().DurationVar(&f.batchDelay, "batch-delay", 50*time.Millisecond, "longest wait for a store batch to fill")
	if !f.dev {
		cmd.Flags().BoolVar(&f.insecure, "insecure", false, "serve a non-loopback address without API tokens (anyone who reaches the port can write)")
		cmd.Flags().StringArrayVar(&f.allowedHosts, "allowed-host", nil, "a Host name this server answers to, repeatable (default on loopback: localhost, 127.0.0.1, ::1; otherwise any)")
		cmd.Flags().StringArrayVar(&f.allowedOrigins, "allowed-origin", nil, "a browser origin allowed to call the API cross-site (CORS), repeatable, e.g. https://grafana.example.com")
		cmd.Flags().BoolVar(&f.metricsAuth, "metrics-auth", false, "require a read token for /metrics too")
	}
	cmd.Flags().StringVar(&f.publicURL, "public-url", "", "how people reach this server, for the links in alerts (default http://ADDR)")
	cmd.Flags().StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go's /debug/pprof profiles on this address (e.g. 127.0.0.1:6060; off by default, keep it on loopback)")
	cmd.Flags().BoolVar(&f.noAssetMetrics, "no-asset-metrics", false, "leave the per-asset series (freshet_asset_*) out of /metrics, for very large catalogs (docs/operations.md)")
}

// startTracing sets up traces from the OTEL_* environment: off unless
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER=otlp) is set
// (docs/operations.md). stop flushes the spans still queued; call it
// after the app has closed.
func startTracing(ctx context.Context, log *slog.Logger) (*telemetry.Tracing, func(), error) {
	tr, err := telemetry.Setup(ctx, telemetry.Options{Version: version, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	if tr.Enabled() {
		log.Info("tracing on: spans go to the OTLP endpoint", "protocol", tr.Protocol, "sampler", tr.Sampler)
	}
	return tr, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			log.Warn("flushing traces at shutdown", "err", err)
		}
	}, nil
}

// servePprof serves Go's runtime profiles on their own listener, apart
// from the API, so diagnosing memory or CPU in production needs no rebuild.
func (f *serverFlags) servePprof(ctx context.Context, log *slog.Logger) error {
	if f.pprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", f.pprofAddr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go srv.Serve(ln)
	log.Info("pprof serving", "addr", ln.Addr().String())
	return nil
}

// appConfig is what every server command passes to app.Open.
func (f *serverFlags) appConfig(defs *config.File, log *slog.Logger) (app.Config, error) {
	cfg := app.Config{Store: f.store, DataDir: f.dataDir, Definitions: defs, BodyLimit: f.bodyLimit,
		Version: version, Logger: log, WALDir: f.walDir, WALMaxBytes: f.walMaxBytes,
		BatchSize: f.batchSize, BatchDelay: f.batchDelay, Launcher: stepLauncher(log), ServerURL: f.serverURL(),
		AllowedOrigins: f.allowedOrigins, MetricsAuth: f.metricsAuth, MaxEvents: f.maxEvents, NoAssetMetrics: f.noAssetMetrics,
		DBTBodyLimit: f.dbtBodyLimit}
	f.limits.apply(&cfg)
	f.signals.apply(&cfg)
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil {
		return cfg, fmt.Errorf("--addr %q: %w", f.addr, err)
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	tokens, err := auth.Open(f.dataDir)
	if err != nil {
		return cfg, err
	}
	cfg.Tokens = tokens
	switch {
	case f.dev && !loopback:
		return cfg, fmt.Errorf("--addr %s: freshet dev listens on loopback only (it is open to anyone who reaches it); run freshet serve with tokens for a shared server", f.addr)
	case !loopback && !tokens.HasActive(time.Now()) && !f.insecure:
		return cfg, fmt.Errorf("refusing to serve %s without API tokens: anyone who reaches it could write. Create one first:\n"+
			"  freshet token create --data-dir %s --name admin --scope admin\n"+
			"or listen on loopback (--addr 127.0.0.1:3000), or pass --insecure", f.addr, f.dataDir)
	}
	cfg.AllowedHosts = f.allowedHosts
	if len(cfg.AllowedHosts) == 0 && loopback {
		// DNS rebinding: a page on a name that resolves to 127.0.0.1 must
		// not reach the API.
		cfg.AllowedHosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	return cfg, nil
}

func (f *serverFlags) serverURL() string {
	if f.publicURL != "" {
		return f.publicURL
	}
	return "http://" + f.addr
}

// stepLauncher runs materialize commands as children of this process,
// with FRESHET_BIN naming this binary, so a step's script can call
// "$FRESHET_BIN" report ... whatever its PATH.
func stepLauncher(log *slog.Logger) *executor.LocalLauncher {
	exe, err := os.Executable()
	if err != nil {
		return &executor.LocalLauncher{Log: log}
	}
	return &executor.LocalLauncher{Log: log, Environ: func() []string {
		return append(os.Environ(), "FRESHET_BIN="+exe)
	}}
}

func (f *serverFlags) logger(cmd *cobra.Command) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})), nil
}

func newServeCmd() *cobra.Command {
	var (
		f       serverFlags
		cfgPath string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Freshet server on your asset definitions",
		Long: `Run the Freshet server: REST API under /api/v1, health at /healthz and /readyz.

The definitions file (freshet.yaml, see docs/config.md) declares assets and
their dependencies; assets first seen in events are added as "discovered".

Metrics are at /metrics. Traces go to an OpenTelemetry collector over OTLP
when OTEL_EXPORTER_OTLP_ENDPOINT is set (e.g. http://otel-collector:4318;
OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and the other OTEL_* variables
apply): see docs/operations.md.`,
		Example: `  freshet serve --config freshet.yaml --data-dir /var/lib/freshet
  freshet serve --config freshet.yaml --addr :3000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := f.logger(cmd)
			if err != nil {
				return err
			}
			var defs *config.File
			if cfgPath != "" {
				if defs, err = config.Load(cfgPath); err != nil {
					return err
				}
			}
			cfg, err := f.appConfig(defs, log)
			if err != nil {
				return err
			}
			tracing, stopTracing, err := startTracing(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer stopTracing() // after a.Close: the spans of the shutdown too
			cfg.TracerProvider = tracing.Provider()
			a, err := app.Open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := f.servePprof(cmd.Context(), log); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", f.addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", f.addr, err)
			}
			log.Info("freshet serving", "addr", ln.Addr().String(), "store", f.store, "data_dir", f.dataDir)
			return a.Serve(cmd.Context(), ln)
		},
	}
	f.register(cmd, "./freshet-data")
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "asset definitions file (freshet.yaml)")
	return cmd
}

func newDevCmd() *cobra.Command {
	var (
		f        serverFlags
		simulate time.Duration
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the demo: embedded store, demo asset graph, a week of history",
		Long: `Run Freshet with the demo definitions (examples/freshet.yaml: 21 assets from
raw sources through dbt staging and marts to dashboards). On first start it
writes a week of realistic history; while running it keeps producing new
materializations so the catalog stays alive. raw/crm/accounts is broken on
purpose: its export fails, so everything downstream of it goes stale.`,
		Example: `  freshet dev
  freshet dev --addr 127.0.0.1:8080 --data-dir /tmp/freshet-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := f.logger(cmd)
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), cmd, f, simulate, log)
		},
	}
	f.dev = true
	f.register(cmd, "./.freshet")
	cmd.Flags().DurationVar(&simulate, "simulate-every", 5*time.Second, "how often the demo emits the events that fell due (0 disables)")
	return cmd
}

func runDev(ctx context.Context, cmd *cobra.Command, f serverFlags, every time.Duration, log *slog.Logger) error {
	defs, err := config.Parse(examples.DemoConfigName, examples.DemoConfig)
	if err != nil {
		return fmt.Errorf("demo definitions: %w", err)
	}
	start := time.Now()
	cfg, err := f.appConfig(defs, log)
	if err != nil {
		return err
	}
	tracing, stopTracing, err := startTracing(ctx, log)
	if err != nil {
		return err
	}
	defer stopTracing() // after a.Close: the spans of the shutdown too
	cfg.TracerProvider = tracing.Provider()
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := f.servePprof(ctx, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	demo := &demoFeed{app: a, specs: defs.Assets, log: log}
	if err := demo.backfill(ctx, time.Now()); err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	webUI := url + "/"
	if !ui.Built() {
		webUI = "not built into this binary (make ui, then make build)"
	}
	fmt.Fprintf(cmd.OutOrStdout(), `Freshet dev is running (started in %s).
  data:     %s
  UI:       %s
  API:      %s/api/v1/assets
  OpenAPI:  %s/api/v1/openapi.json
  Metrics:  %s/metrics
  CLI:      freshet assets --server %s
            freshet lineage raw/shop/orders --downstream --server %s
            freshet status --server %s     (raw/crm/accounts is broken on purpose: find what it makes stale)
  Runs:     freshet runs --server %s       (Freshet rebuilds the fx assets when they go stale)
            freshet logs RUN_ID --server %s
Press Ctrl+C to stop.
`, time.Since(start).Round(time.Millisecond), strings.TrimSuffix(f.dataDir, "/"), webUI, url, url, url, url, url, url, url, url)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Serve(ctx, ln) })
	if every > 0 {
		g.Go(func() error { return demo.run(ctx, every) })
	}
	err = g.Wait()
	if ctx.Err() != nil && err == nil {
		log.Info("freshet dev stopped")
	}
	return err
}
