package app

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/alerts/engine"
	"github.com/freshet-dev/freshet/alerts/outbox"
	"github.com/freshet-dev/freshet/alerts/receiver"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/config"
	"github.com/freshet-dev/freshet/live"
	"github.com/freshet-dev/freshet/store"
)

// openAlerts builds the receivers, the outbox and the engine from the
// alerts block of freshet.yaml; without receivers there is nothing to do.
func (a *App) openAlerts(ctx context.Context, cfg Config) error {
	if cfg.Definitions == nil || len(cfg.Definitions.Alerts.Receivers) == 0 {
		return nil
	}
	al := cfg.Definitions.Alerts
	as, ok := a.store.(store.AlertStore)
	if !ok {
		return fmt.Errorf("the %T store keeps no alerts", a.store)
	}
	host, _ := os.Hostname()
	var recs []alerts.Receiver
	rates := map[string]int{}
	resend := map[string]time.Duration{}
	for _, r := range al.Receivers {
		rec, err := receiver.FromConfig(r, receiver.Options{Logger: cfg.Logger, Hostname: host, ServerURL: cfg.ServerURL})
		if err != nil {
			return fmt.Errorf("alert receiver %s: %w", r.Name, err)
		}
		recs = append(recs, rec)
		if r.RatePerMinute > 0 {
			rates[r.Name] = r.RatePerMinute
		}
		if r.Type == config.ReceiverAlertmanager {
			// Well inside Alertmanager's default resolve_timeout (5m).
			resend[r.Name] = time.Minute
		}
	}
	a.outbox = outbox.New(as, recs, outbox.Options{Logger: cfg.Logger, RatePerMinute: rates, Tracer: cfg.tracer("alerts")})
	a.engine = engine.New(al.Rules, as, a.outbox, engine.Options{
		Spec: func(k asset.Key) (asset.Spec, bool) {
			s, _, ok := a.catalog.Spec(k)
			return s, ok
		},
		ServerURL: cfg.ServerURL, Logger: cfg.Logger, ResendEvery: resend,
	})
	if err := a.engine.Load(ctx); err != nil {
		return err
	}
	a.alertRules = al
	return nil
}

// wakeAlerts tells the alert loop about events that can open or close an
// incident without a freshness pass (checks, failed materializations).
func (a *App) wakeAlerts(events []asset.Event) {
	if a.engine == nil {
		return
	}
	for i := range events {
		switch events[i].Kind {
		case asset.KindCheckResult, asset.KindMaterializationFailed, asset.KindMaterialization:
			select {
			case a.alertWake <- struct{}{}:
			default:
			}
			return
		}
	}
}

// alert runs the outbox and evaluates the rules after each freshness
// pass until ctx ends.
func (a *App) alert(ctx context.Context) {
	defer close(a.alertDone)
	if a.engine == nil {
		return
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if err := a.outbox.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("alert outbox stopped", "err", err)
		}
	}()
	defer func() { <-sent }()
	var lastFiring string
	for {
		pass := a.monitor.Evaluated()
		select {
		case <-ctx.Done():
			return
		case <-pass:
		case <-a.alertWake:
			// A failed check or materialization: the catalog has it now,
			// and freshness passes do not wait for such events.
		}
		in := engine.Input{Now: time.Now(), Freshness: a.monitor.Snapshot(), Problems: a.catalog.Problems(""), Graph: a.lineage.Current()}
		if err := a.engine.Evaluate(ctx, in); err != nil && ctx.Err() == nil {
			a.log.Warn("alert evaluation", "err", err)
		}
		if sig := firingSignature(a.engine.Firing()); sig != lastFiring {
			lastFiring = sig
			if err := a.live.Publish(live.TopicAlerts, live.AlertsNotice{Open: strings.Count(sig, "\n")}); err != nil {
				a.log.Warn("live notice", "err", err)
			}
		}
	}
}

// firingSignature changes when an incident opens, resolves, is sent or
// held, or its impact changes: what the alerts page shows.
func firingSignature(open []engine.Open) string {
	var b strings.Builder
	for _, o := range open {
		fmt.Fprintf(&b, "%s|%s|%s|%d|%d\n", o.Notification.Key, o.Notification.Status, o.Held,
			o.LastSent.UnixNano(), len(o.Notification.Impacted))
	}
	return b.String()
}
