// Package app wires Freshet's components together: the store, the
// in-memory catalog and lineage index, the ingest pipeline and the API.
// It is the only place that knows all of them; cmd/freshet parses flags and
// calls it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/freshet-dev/freshet/alerts/engine"
	"github.com/freshet-dev/freshet/alerts/outbox"
	"github.com/freshet-dev/freshet/api"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/automation"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/freshness/monitor"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/ingest/wal"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/live"
	"github.com/freshet-dev/freshet/openlineage/emit"
	"github.com/freshet-dev/freshet/openlineage/marquez"
	"github.com/freshet-dev/freshet/retention"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/clickhouse"
	"github.com/freshet-dev/freshet/store/embedded"
)

// Config is everything needed to start Freshet.
type Config struct {
	// Store is "embedded" (default) or a clickhouse:// URL.
	Store string
	// DataDir holds the embedded store and, unless WALDir says otherwise,
	// the write-ahead log and its dead letters.
	DataDir string
	// Definitions are the parsed asset definitions (freshet.yaml).
	Definitions *config.File
	BodyLimit   int64
	// DBTBodyLimit bounds a dbt import's body (0: api.DefaultDBTBodyLimit).
	DBTBodyLimit int64
	Version      string
	Logger       *slog.Logger
	// WALDir holds the write-ahead log (default DataDir/wal).
	WALDir string
	// WALMaxBytes bounds the unconfirmed data the log holds before ingest
	// answers 503 (default 1 GiB); WALSegmentBytes is where it starts a new
	// segment file (default 64 MiB).
	WALMaxBytes, WALSegmentBytes int64
	// BatchSize and BatchDelay bound the store writer's batches (defaults
	// 50,000 events and 50ms; see ingest.Options).
	BatchSize  int
	BatchDelay time.Duration
	// Freshness tunes the freshness monitor.
	Freshness monitor.Options
	// Launcher runs materialize commands (default: child processes of
	// this server, executor.LocalLauncher).
	Launcher executor.Launcher
	// Instance names this server in the runs it starts (default
	// hostname:pid).
	Instance string
	// ServerURL is how people reach this server (links in alerts).
	ServerURL string
	// Tokens, when set and holding an active token, require bearer tokens
	// with scopes on the API (docs/security.md).
	Tokens api.Authenticator
	// AllowedHosts, AllowedOrigins and MetricsAuth: see api.Options.
	AllowedHosts   []string
	AllowedOrigins []string
	MetricsAuth    bool
	// MaxEvents bounds the events of one ingest request (0: the default).
	MaxEvents int
	// TracerProvider records traces (telemetry.Setup, docs/operations.md):
	// HTTP requests, ingest and its store writes, freshness passes, runs
	// and their steps, alert deliveries. Nil or the no-op provider: none,
	// and the components skip their spans.
	TracerProvider trace.TracerProvider
	// NoAssetMetrics leaves the per-asset series (freshet_asset_*) out of
	// /metrics, for catalogs too large to scrape them.
	NoAssetMetrics bool
	// Limits on ingest and catalog growth (docs/security.md): 0 takes
	// api's default, a negative value turns the limit off.
	MaxConcurrentIngest, MaxAssets, NewAssetsPerMinute int
	MaxIngestBytes                                     int64
	// IngestWait is how long an ingest request waits for a slot before
	// 429 (0: api.DefaultIngestWait); ReadTimeout bounds reading a request
	// (0: a minute).
	IngestWait, ReadTimeout time.Duration
	// StoreReadTimeout bounds every store read the API makes (default
	// DefaultStoreReadTimeout); beyond it the API answers 503.
	StoreReadTimeout time.Duration
	// WALUnhealthyAfter is how long the write-ahead log may fail without
	// one successful write before /healthz fails, so that an orchestrator
	// restarts the process (default DefaultWALUnhealthyAfter).
	WALUnhealthyAfter time.Duration
	// Backpressure bounds the acknowledged backlog the store has not
	// confirmed (see ingest.Options).
	MaxUnstoredAge   time.Duration
	MaxUnstoredBytes int64
	AckWait          time.Duration
	// Election, when set, makes this server one of several that share a
	// ClickHouse store (app/cluster.go, docs/scaling.md): it follows the
	// store's event log, and leads (records freshness changes, runs,
	// alerts) only when elected. Instance must be its name there.
	Election Election
	// FollowOverlap is how much of the shared log each poll reads again
	// (0: follow's default, 10s), and how often the specs other servers
	// stored are compared with this server's.
	FollowOverlap time.Duration
}

// DefaultWALUnhealthyAfter: see Config.WALUnhealthyAfter.
const DefaultWALUnhealthyAfter = 5 * time.Minute

// tracer is a component's tracer; nil when tracing is off.
func (c Config) tracer(component string) trace.Tracer {
	if _, off := c.TracerProvider.(noop.TracerProvider); off || c.TracerProvider == nil {
		return nil
	}
	return c.TracerProvider.Tracer("github.com/freshet-dev/freshet/"+component, trace.WithInstrumentationVersion(c.Version))
}

// App is a running Freshet instance.
type App struct {
	log      *slog.Logger
	store    store.Store
	catalog  *catalog.Catalog
	lineage  *lineage.Index
	columns  *lineage.Columns // column-level lineage (app/columns.go)
	wal      *wal.Log
	pipeline *ingest.Pipeline
	monitor  *monitor.Monitor
	api      *api.Server
	live     *live.Hub // change notices for the web UI's stream
	runs     *runs.Service
	olOut    *emit.Emitter // nil unless the definitions have an openlineage block
	auto     *automation.Automation
	declared []asset.Spec

	stopRuns context.CancelFunc
	autoDone chan struct{}

	retainer   *retention.Retainer // nil: no retention window set
	retainDone chan struct{}

	engine     *engine.Engine
	outbox     *outbox.Outbox
	alertRules config.Alerting
	alertDone  chan struct{}
	alertWake  chan struct{}

	stopWriter  context.CancelFunc
	writerDone  chan error
	retryDone   chan struct{}
	monitorDone chan struct{}
	monitorCtx  context.Context
	monitorOnce sync.Once
	closeOnce   sync.Once
	closeErr    error
	specs       []asset.Spec // effective specs (definitions + stored), for the monitor
	defs        *config.File
	specKeys    map[asset.Key]bool       // keys of specs
	selMu       sync.Mutex               // guards specs, specKeys, selected and specsSent, orders SetSpecs calls
	specMu      sync.Mutex               // serialises spec writes (PutSpecs, declare)
	graphMu     sync.Mutex               // orders observed-edge updates with PutSpecs' lineage reset
	selected    map[asset.Key]asset.Spec // assets outside specs that a selection policy covers
	specsSent   bool
	sums        []store.Summary // from the last rebuild, until the monitor has loaded them
	cluster     *cluster        // nil unless several servers share the store
}

// Open opens the store and rebuilds the in-memory state from it.
func Open(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &App{log: cfg.Logger, store: st, catalog: catalog.New(), lineage: lineage.NewIndex(),
		defs: cfg.Definitions, selected: map[asset.Key]asset.Spec{}, live: live.New(0, 0),
		columns: lineage.NewColumns()}
	if cfg.Definitions != nil {
		a.declared = cfg.Definitions.Assets
	}
	if cfg.Instance == "" {
		host, _ := os.Hostname()
		cfg.Instance = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if err := a.openCluster(ctx, cfg); err != nil {
		st.Close()
		return nil, err
	}
	start := time.Now()
	if err := a.rebuild(ctx); err != nil {
		st.Close()
		return nil, err
	}
	a.log.Info("state rebuilt from store", "assets", a.catalog.Len(), "took", time.Since(start).Round(time.Millisecond))

	walDir := cfg.WALDir
	if walDir == "" {
		if cfg.DataDir == "" {
			st.Close()
			return nil, errors.New("the write-ahead log needs a directory: set --data-dir or --wal-dir")
		}
		walDir = filepath.Join(cfg.DataDir, "wal")
	}
	walOpts := wal.Options{MaxBytes: cfg.WALMaxBytes, SegmentBytes: cfg.WALSegmentBytes}
	if a.wal, err = wal.Open(walDir, walOpts, cfg.Logger); err != nil {
		st.Close()
		return nil, fmt.Errorf("open write-ahead log: %w", err)
	}
	ingestOpts := ingest.Options{BatchSize: cfg.BatchSize, BatchDelay: cfg.BatchDelay, Logger: cfg.Logger,
		OnStored: a.stored, Tracer: cfg.tracer("ingest"),
		MaxUnstoredAge: cfg.MaxUnstoredAge, MaxUnstoredBytes: cfg.MaxUnstoredBytes, AckWait: cfg.AckWait}
	if ingestOpts.DeadLetters, err = ingest.OpenDeadLetters(filepath.Join(walDir, "dead-letters.ndjson")); err != nil {
		a.wal.Close()
		st.Close()
		return nil, err
	}
	a.pipeline = ingest.NewPipeline(a.wal, st, ingestOpts, a.observeOwn)
	fopts := cfg.Freshness
	fopts.Logger = cfg.Logger
	fopts.Seed = a.latestEvents
	fopts.FirstSeen = a.firstSeen
	fopts.History = st // history older than the monitor's in-memory window
	fopts.Tracer = cfg.tracer("freshness")
	var rec monitor.Recorder = a.pipeline
	if a.cluster != nil {
		rec = standbyRecorder{next: rec, leading: &a.cluster.leading}
	}
	a.monitor = monitor.New(a.lineage, rec, fopts)
	a.selectPolicies(a.catalog.Keys())
	recent, err := st.RecentSuccesses(ctx, monitor.RestartHistory)
	if err != nil {
		a.wal.Close()
		st.Close()
		return nil, fmt.Errorf("load recent history: %w", err)
	}
	if err := a.monitor.Load(a.sums, recent); err != nil {
		a.wal.Close()
		st.Close()
		return nil, fmt.Errorf("restore freshness state: %w", err)
	}
	a.sums = nil
	// The rebuild's decoded summaries and history are garbage now: give the
	// memory back to the system rather than keep the start-up peak.
	defer debug.FreeOSMemory()
	// Acknowledged before a crash but not yet stored: show it now, the
	// writer stores it shortly. The catalog counts it as pending until
	// the store says whether it was new (it may have been stored before
	// the crash), so counts end up equal to the store's.
	if err := a.pipeline.Recovered(a.observeOwn); err != nil {
		a.wal.Close()
		st.Close()
		return nil, fmt.Errorf("read write-ahead log: %w", err)
	}

	if err := a.openRuns(cfg); err != nil {
		a.wal.Close()
		st.Close()
		return nil, err
	}
	a.retainDone = make(chan struct{})
	if err := a.openRetention(cfg); err != nil {
		if a.olOut != nil {
			a.olOut.Close()
		}
		a.wal.Close()
		st.Close()
		return nil, err
	}
	a.alertDone, a.alertWake = make(chan struct{}), make(chan struct{}, 1)
	if err := a.openAlerts(ctx, cfg); err != nil {
		if a.olOut != nil {
			a.olOut.Close()
		}
		a.wal.Close()
		st.Close()
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.retainer != nil {
		reg.MustRegister(a.retainer.Collectors()...)
	}
	reg.MustRegister(a.pipeline.Collectors()...)
	guard := newStoreGuard(st, cfg.StoreReadTimeout)
	reg.MustRegister(guard.collectors()...)
	reg.MustRegister(walFailing(a.wal))
	reg.MustRegister(a.runs.Collectors()...)
	if a.olOut != nil {
		reg.MustRegister(a.olOut.Collectors()...)
	}
	if a.cluster != nil {
		reg.MustRegister(a.cluster.follower.Collectors()...)
		reg.MustRegister(leadingGauge(&a.cluster.leading))
	}
	if cfg.NoAssetMetrics {
		reg.MustRegister(a.monitor.Collector().WithoutAssets()) // and no catalog health: all per asset
	} else {
		reg.MustRegister(a.monitor.Collector(), a.catalog.Collector())
	}
	deps := api.Deps{
		Catalog:     a.catalog,
		Lineage:     a.lineage,
		Events:      guard,
		Ingest:      clientIngest{a.pipeline},
		Freshness:   a.monitor,
		DeadLetters: a.pipeline,
		Declare:     a.declare,
		Specs:       a,
		Runs:        guardedRuns{a.runs, guard},
		Automation:  a.auto,
		Ready:       func(ctx context.Context) error { return ready(ctx, a.wal, guard) },
		Healthy:     func(context.Context) error { return healthy(a.wal, cfg.WALUnhealthyAfter) },
		Metrics:     promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		AlertRules:  a.alertRules,
		Live:        a.live,
		Columns:     a.columns,
		Assets:      a.catalog,
	}
	if a.engine != nil {
		deps.Alerts, deps.Deliveries = a.engine, a.outbox
		reg.MustRegister(a.engine.Collector())
		reg.MustRegister(a.outbox.Collectors()...)
	}
	a.api = api.New(deps, api.Options{Logger: cfg.Logger, BodyLimit: cfg.BodyLimit, Version: cfg.Version,
		Auth: cfg.Tokens, AllowedHosts: cfg.AllowedHosts, AllowedOrigins: cfg.AllowedOrigins, MetricsAuth: cfg.MetricsAuth, MaxEvents: cfg.MaxEvents,
		TracerProvider: cfg.TracerProvider, MaxConcurrentIngest: cfg.MaxConcurrentIngest, MaxIngestBytes: cfg.MaxIngestBytes, IngestWait: cfg.IngestWait,
		MaxAssets: cfg.MaxAssets, NewAssetsPerMinute: cfg.NewAssetsPerMinute, ReadTimeout: cfg.ReadTimeout,
		DBTBodyLimit: cfg.DBTBodyLimit, OpenLineage: olNamespaces(cfg.Definitions), Name: cfg.Instance,
		Leadership: a.leadership()})
	reg.MustRegister(a.api.Collectors()...)

	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.stopWriter, a.writerDone, a.monitorDone = cancel, make(chan error, 1), make(chan struct{})
	go func() { a.writerDone <- a.pipeline.Run(wctx) }()
	a.retryDone = make(chan struct{})
	go func() { a.wal.Retry(wctx, time.Second); close(a.retryDone) }()
	a.monitorCtx = wctx
	return a, nil
}

func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	switch {
	case cfg.Store == "" || cfg.Store == "embedded":
		if cfg.DataDir == "" {
			return nil, errors.New("the embedded store needs a data directory (--data-dir)")
		}
		st, err := embedded.Open(ctx, cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("open embedded store in %s: %w", cfg.DataDir, err)
		}
		return st, nil
	case strings.HasPrefix(cfg.Store, "clickhouse://"):
		opts := []clickhouse.Option{clickhouse.WithLogger(cfg.Logger)}
		if cfg.Election != nil {
			opts = append(opts, clickhouse.WithSharedWriters()) // the other servers write too
		}
		st, err := clickhouse.Open(ctx, cfg.Store, opts...)
		if err != nil {
			return nil, fmt.Errorf("open ClickHouse store: %w", err)
		}
		return st, nil
	default:
		return nil, fmt.Errorf("unknown store %q: use embedded or clickhouse://host:9000/db", cfg.Store)
	}
}

// rebuild loads specs, per-asset summaries and observed edges from the
// store: aggregates, not a replay of every event.
func (a *App) rebuild(ctx context.Context) error {
	stored, err := a.store.Specs(ctx)
	if err != nil {
		return fmt.Errorf("load specs: %w", err)
	}
	sums, err := a.store.Summaries(ctx)
	if err != nil {
		return fmt.Errorf("load asset summaries: %w", err)
	}
	edges, err := a.store.ObservedEdges(ctx)
	if err != nil {
		return fmt.Errorf("load observed lineage: %w", err)
	}
	specs := mergeSpecs(a.declared, stored)
	for i := range specs {
		specs[i].Freshness = a.defs.SelectPolicy(specs[i]) // stored specs get selections too
	}
	a.specs, a.sums = specs, sums
	a.specKeys = make(map[asset.Key]bool, len(specs))
	for _, sp := range specs {
		a.specKeys[sp.Key] = true
	}
	a.catalog.Load(specs, sums, edges)
	a.lineage.Reset(a.catalog.Keys(), declaredEdges(specs), edges)
	a.declaredColumns(specs)
	a.summaryColumns(sums)
	return nil
}

// mergeSpecs: the definitions file is authoritative for the keys it
// declares; stored specs (set through the API) fill in the rest.
func mergeSpecs(declared, stored []asset.Spec) []asset.Spec {
	out := append([]asset.Spec(nil), declared...)
	seen := make(map[asset.Key]bool, len(declared))
	for _, s := range declared {
		seen[s.Key] = true
	}
	for _, s := range stored {
		if !seen[s.Key] {
			out = append(out, s)
		}
	}
	return out
}

func declaredEdges(specs []asset.Spec) []asset.Edge {
	var edges []asset.Edge
	for _, s := range specs {
		for _, d := range s.Deps {
			edges = append(edges, asset.Edge{Upstream: d, Downstream: s.Key})
		}
	}
	return edges
}

// observe keeps the catalog and lineage current after each durable batch.
func (a *App) observe(events []asset.Event) {
	// The catalog returns only edges it has not returned before: the
	// lineage index keeps every observed edge (resetDeclaredEdges carries
	// them over; rebuild reloads both), so it needs only those.
	discovered, edges := a.catalog.ApplyLineage(events)
	if len(discovered) > 0 || len(edges) > 0 {
		a.graphMu.Lock()
		a.lineage.Observe(discovered, edges)
		a.graphMu.Unlock()
	}
	for i := range events {
		a.eventColumns(&events[i])
	}
	if len(discovered) > 0 {
		a.selectPolicies(discovered)
	}
	a.monitor.Observe(events)
	a.wakeAlerts(events)
	if err := a.live.PublishEvents(events); err != nil {
		a.log.Warn("live notice", "err", err)
	}
}

// notifyRun tells the live stream's followers that a run or step changed.
func (a *App) notifyRun(u runs.Update) {
	var n live.RunNotice
	switch {
	case u.Run != nil:
		n = live.RunNotice{Run: u.Run.ID, Status: u.Run.Status}
	case u.Step != nil:
		n = live.RunNotice{Run: u.Step.RunID, Status: u.Step.Status, Step: u.Step.Asset}
	default:
		return
	}
	if err := a.live.Publish(live.TopicRuns, n); err != nil {
		a.log.Warn("live notice", "err", err)
	}
	if a.olOut != nil {
		a.olOut.Notify(u)
	}
}

// olNamespaces are the OpenLineage namespaces of the definitions' block
// (empty without one: the defaults).
func olNamespaces(defs *config.File) marquez.Namespaces {
	if defs == nil || defs.OpenLineage == nil {
		return marquez.Namespaces{}
	}
	return marquez.Namespaces{Job: defs.OpenLineage.Namespace, Dataset: defs.OpenLineage.DatasetNamespace}
}

// openLineageOut sets up the OpenLineage events of runs when the
// definitions ask for them (openlineage:); they are sent from the start.
func (a *App) openLineageOut(cfg Config, defs *config.File) error {
	c := defs.OpenLineage
	if c == nil {
		return nil
	}
	var key string
	if c.APIKeyEnv != "" {
		if key = os.Getenv(c.APIKeyEnv); key == "" {
			return fmt.Errorf("openlineage.api_key_env: the environment variable %s is not set", c.APIKeyEnv)
		}
	}
	producer := emit.DefaultProducer
	if cfg.Version != "" {
		producer += "/releases/tag/" + url.PathEscape(cfg.Version)
	}
	e, err := emit.New(emit.Options{URL: c.URL, Endpoint: c.Endpoint, Namespace: c.Namespace, DatasetNamespace: c.DatasetNamespace,
		APIKey: key, Producer: producer, QueueSize: c.QueueSize, Timeout: c.Timeout, Log: cfg.Logger,
		Upstream: func(k asset.Key) []asset.Key { return a.lineage.Current().Parents(k) }})
	if err != nil {
		return err
	}
	a.olOut = e
	e.Start()
	return nil
}

// selectPolicies gives the assets among keys that the specs do not cover
// the first matching selection policy of the definitions file, and hands
// the monitor the new set when one matched (and on the first call):
// selections cover assets that appear through events too, from the moment
// they appear.
func (a *App) selectPolicies(keys []asset.Key) {
	a.selMu.Lock()
	defer a.selMu.Unlock()
	added := false
	if a.defs.HasSelections() {
		for _, k := range keys {
			if _, ok := a.specKeys[k]; ok {
				continue
			}
			if _, ok := a.selected[k]; ok {
				continue
			}
			spec, _, ok := a.catalog.Spec(k)
			if !ok {
				continue
			}
			if p := a.defs.SelectPolicy(spec); p != nil {
				spec.Freshness = p
				a.selected[k] = spec
				added = true
			}
		}
	}
	if added || !a.specsSent {
		a.sendSpecsLocked()
	}
}

// declare makes key an asset (origin api) when an SLA is set on it before
// anything reported it; the spec is stored, so it survives a restart.
func (a *App) declare(ctx context.Context, key asset.Key) error {
	a.specMu.Lock() // a concurrent PutSpecs of key must not be overwritten
	defer a.specMu.Unlock()
	if _, ok := a.catalog.Get(key); ok {
		return nil
	}
	spec := asset.Spec{Key: key, Origin: asset.OriginAPI}
	if err := a.store.PutSpecs(ctx, []asset.Spec{spec}); err != nil {
		return fmt.Errorf("declare %s: %w", key, err)
	}
	added := a.catalog.SetSpecs([]asset.Spec{spec})
	a.graphMu.Lock()
	a.lineage.Observe(added, nil)
	a.graphMu.Unlock()
	return nil
}

// firstSeen is the time of an asset's first event, from the catalog.
func (a *App) firstSeen(k asset.Key) time.Time {
	_, first, _ := a.catalog.Spec(k)
	return first
}

// latestEvents is what the catalog knows of an asset's recent history:
// it seeds the freshness monitor when the asset starts to matter.
func (a *App) latestEvents(k asset.Key) []asset.Event {
	c, ok := a.catalog.Get(k)
	if !ok {
		return nil
	}
	var out []asset.Event
	for _, e := range []*asset.Event{c.LastObservation, c.LastMaterialization, c.LastFailure} {
		if e != nil {
			out = append(out, *e)
		}
	}
	return out
}

// Submit ingests events as the API does (used by the demo).
func (a *App) Submit(ctx context.Context, events []asset.Event) error {
	return a.pipeline.Submit(ctx, events)
}

// Drain waits until every event acknowledged so far is in the store.
func (a *App) Drain(ctx context.Context) error { return a.pipeline.Drain(ctx) }

// Catalog exposes the in-memory catalog (read-only use).
func (a *App) Catalog() *catalog.Catalog { return a.catalog }

// Serve answers HTTP on ln until ctx ends. The freshness monitor starts
// with the first Serve, so events submitted before (the demo's backfill)
// are evaluated together in its first pass rather than first seen as
// "never materialized".
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	a.startMonitor()
	return a.api.Serve(ctx, ln)
}

func (a *App) startMonitor() {
	a.monitorOnce.Do(func() {
		go func() { a.monitor.Run(a.monitorCtx); close(a.monitorDone) }()
		if a.cluster != nil {
			a.campaign() // the executor and alerts start when elected
			return
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(a.monitorCtx))
		a.stopRuns = cancel
		a.runs.Start(ctx)
		go a.automate(ctx)
		go a.alert(ctx)
		go a.retain(ctx)
	})
}

// openRuns sets up the executor's runs and the automation. Commands come
// from the definitions file only: API-declared specs never carry one.
func (a *App) openRuns(cfg Config) error {
	rs, ok := a.store.(store.RunStore)
	if !ok {
		return fmt.Errorf("the %T store keeps no runs", a.store)
	}
	defs := cfg.Definitions
	if defs == nil {
		defs = &config.File{}
	}
	launcher := cfg.Launcher
	if launcher == nil {
		launcher = &executor.LocalLauncher{Log: cfg.Logger}
	}
	instance := cfg.Instance
	if err := a.openLineageOut(cfg, defs); err != nil {
		return err
	}
	a.runs = runs.New(runs.Options{Store: rs, Events: a.pipeline, Launcher: launcher,
		Limits: executor.LimitsFromConfig(defs), Owner: instance, Log: cfg.Logger, Tracer: cfg.tracer("runs"),
		Notify: a.notifyRun})
	a.runs.SetSpecs(runSpecs(a.specs))
	a.auto = automation.New(a.runs, automation.Options{
		Enabled: defs.Automation.Enabled, Cooldown: defs.Automation.Cooldown, MaxBackoff: defs.Automation.MaxBackoff,
		Allowed: func(k asset.Key) bool {
			spec, _, _ := a.catalog.Spec(k)
			return !defs.Automation.Excluded(spec)
		},
		Events: a.pipeline, Log: cfg.Logger,
	})
	a.autoDone = make(chan struct{})
	return nil
}

// automate reconciles the runs a previous process left, then acts on each
// freshness pass until ctx ends.
func (a *App) automate(ctx context.Context) {
	defer close(a.autoDone)
	if r, err := a.runs.Reconcile(ctx); err != nil {
		a.log.Error("reconciling interrupted runs failed", "err", err)
	} else if r.Runs > 0 || len(r.Failures) > 0 {
		a.log.Warn("runs interrupted by the previous stop reconciled", "runs", r.Runs,
			"processes_stopped", r.Stopped, "recovery_runs", r.Retried, "problems", r.Failures)
	}
	for {
		pass := a.monitor.Evaluated()
		select {
		case <-ctx.Done():
			return
		case <-pass:
		}
		a.auto.Evaluate(ctx, a.monitor.Snapshot(), a.lineage.Current())
	}
}

// Close stops the store writer (after one last attempt to store what is
// pending; anything left stays in the write-ahead log for the next start),
// then closes the log and the store.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		started := true
		a.monitorOnce.Do(func() { started = false; close(a.monitorDone) }) // never started
		switch {
		case started && a.cluster != nil:
			// The term (runs, alerts) ends first: their last events go
			// through the writer.
			a.cluster.closing.Store(true)
			a.cluster.stop()
			<-a.cluster.done
		case started:
			// Runs first: their last events go through the writer.
			a.stopRuns()
			<-a.autoDone
			<-a.alertDone
			<-a.retainDone
			<-a.runs.Done()
		}
		if a.olOut != nil {
			a.olOut.Close() // after the runs: their last events are sent
		}
		a.stopWriter()
		<-a.retryDone
		<-a.monitorDone
		if err := <-a.writerDone; err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("store writer stopped", "err", err)
		}
		a.closeErr = errors.Join(a.wal.Close(), a.store.Close())
	})
	return a.closeErr
}
