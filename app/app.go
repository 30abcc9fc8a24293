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
	"strings"
	"time"

	"github.com/freshet-dev/freshet/api"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/lineage"
	"github.com/freshet-dev/freshet/store"
	"github.com/freshet-dev/freshet/store/embedded"
)

// Config is everything needed to start Freshet.
type Config struct {
	// Store is "embedded" (default) or a clickhouse:// URL.
	Store string
	// DataDir holds the embedded store (and, later, the write-ahead log).
	DataDir string
	// Definitions are the parsed asset definitions (freshet.yaml).
	Definitions *config.File
	BodyLimit   int64
	Version     string
	Logger      *slog.Logger
}

// App is a running Freshet instance.
type App struct {
	log      *slog.Logger
	store    store.Store
	catalog  *catalog.Catalog
	lineage  *lineage.Index
	pipeline *ingest.Pipeline
	api      *api.Server
	declared []asset.Spec
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
	a := &App{log: cfg.Logger, store: st, catalog: catalog.New(), lineage: lineage.NewIndex()}
	if cfg.Definitions != nil {
		a.declared = cfg.Definitions.Assets
	}
	start := time.Now()
	if err := a.rebuild(ctx); err != nil {
		st.Close()
		return nil, err
	}
	a.log.Info("state rebuilt from store", "assets", a.catalog.Len(), "took", time.Since(start).Round(time.Millisecond))
	a.pipeline = ingest.NewPipeline(st, a.observe)
	a.api = api.New(api.Deps{
		Catalog: a.catalog,
		Lineage: a.lineage,
		Events:  st,
		Ingest:  a.pipeline,
	}, api.Options{Logger: cfg.Logger, BodyLimit: cfg.BodyLimit, Version: cfg.Version})
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
		return nil, errors.New("the ClickHouse store is not built yet: use --store embedded")
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
	a.catalog.Load(specs, sums, edges)
	a.lineage.Reset(a.catalog.Keys(), declaredEdges(specs), edges)
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
	discovered := a.catalog.Apply(events)
	var edges []asset.Edge
	for i := range events {
		for _, u := range events[i].Upstream {
			edges = append(edges, asset.Edge{Upstream: u, Downstream: events[i].Asset})
		}
	}
	a.lineage.Observe(discovered, edges)
}

// Submit ingests events as the API does (used by the demo).
func (a *App) Submit(ctx context.Context, events []asset.Event) error {
	return a.pipeline.Submit(ctx, events)
}

// Catalog exposes the in-memory catalog (read-only use).
func (a *App) Catalog() *catalog.Catalog { return a.catalog }

// Serve answers HTTP on ln until ctx ends.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	return a.api.Serve(ctx, ln)
}

// Close releases the store.
func (a *App) Close() error { return a.store.Close() }
