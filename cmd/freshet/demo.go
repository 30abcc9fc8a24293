package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/catalog"
	"github.com/freshet-dev/freshet/examples"
)

// demoWindow is how much history the demo shows.
const demoWindow = 7 * 24 * time.Hour

// demoFeed writes the demo's generated history through the normal ingest
// path, so the demo exercises exactly what real events do.
type demoFeed struct {
	app   *app.App
	specs []asset.Spec
	log   *slog.Logger
	last  time.Time // events before this are written
}

// backfill writes the week before now on a fresh data dir, or the gap
// since the last event when the demo was stopped for a while.
func (d *demoFeed) backfill(ctx context.Context, now time.Time) error {
	from, staleSince := now.Add(-demoWindow), now.Add(-50*time.Hour)
	if last := latestEvent(d.app.Catalog()); !last.IsZero() {
		if last.After(from) {
			from = last
		}
		staleSince = from // the broken export stays broken
	}
	if err := d.emit(ctx, from, now, staleSince); err != nil {
		return err
	}
	// The catalog shows the history at once; wait for the store too, so
	// event history is complete before we say we are running.
	return d.app.Drain(ctx)
}

func (d *demoFeed) emit(ctx context.Context, from, to, staleSince time.Time) error {
	events := examples.History(d.specs, from, to, staleSince)
	for len(events) > 0 {
		n := min(len(events), 1000)
		if err := d.app.Submit(ctx, events[:n]); err != nil {
			return fmt.Errorf("demo history: %w", err)
		}
		events = events[n:]
	}
	d.last = to
	return nil
}

// run emits the events that fall due, every tick, until ctx ends.
func (d *demoFeed) run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			if err := d.emit(ctx, d.last, now, d.last); err != nil && ctx.Err() == nil {
				d.log.Warn("demo feed", "err", err)
			}
		}
	}
}

func latestEvent(c *catalog.Catalog) time.Time {
	var last time.Time
	assets, _ := c.List(catalog.Filter{})
	for _, a := range assets {
		if a.LastTime != nil && a.LastTime.After(last) {
			last = *a.LastTime
		}
	}
	return last
}
