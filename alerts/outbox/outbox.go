// Package outbox is the durable alert outbox: the last stage of the alert
// pipeline, between the engine that decides what to send and the receivers
// that send it (docs/alerts-outbox.md).
//
// It promises:
//
//   - Enqueue returns only once one store.Delivery per receiver is in the
//     store: an acknowledged notification survives kill -9 and is sent
//     after the restart.
//   - Every attempt is recorded (attempts, the receiver's status code and
//     error, with its body for a rejection, the attempt's latency, the next
//     attempt), and every delivery ends delivered, rejected (the receiver
//     refused it for good: it is never retried) or dropped (retries spent:
//     MaxAttempts or MaxAge); a silenced one is recorded and never sent.
//   - Retryable failures (429, 408, 5xx, network errors, timeouts) are
//     retried with capped exponential backoff and jitter, never before the
//     receiver's Retry-After.
//   - Per receiver, the deliveries of one Key go out in the order they were
//     enqueued: a later one waits until the earlier one is settled
//     (delivered, rejected or dropped), so a resolve never overtakes its
//     trigger.
//   - Each receiver has one sender goroutine, which makes one attempt at a
//     time: a receiver that is down, slow or rate limited delays only its
//     own deliveries.
//
// It refuses: deciding what to send or when to repeat it (the engine does);
// merging or superseding deliveries (each enqueued notification is sent);
// exactly-once delivery (a crash between a receiver's answer and the record
// of it sends that notification again after the restart, which the
// receivers' dedup key absorbs); and sharing a store with another outbox
// (one process sends from one store; the pending deliveries are also held
// in its memory, which is what lets it schedule without polling the store).
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/store"
)

// Defaults of Options.
const (
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 10 * time.Minute
	DefaultJitter         = 0.5
	DefaultMaxAttempts    = 300
	DefaultMaxAge         = 24 * time.Hour
	DefaultSendTimeout    = 10 * time.Second
	DefaultPollInterval   = 5 * time.Second
)

// Backoff is the wait between attempts of one delivery: Initial after the
// first failure, doubling after each further one, capped at Max, each wait
// shortened at random by up to Jitter of it (so that deliveries that failed
// together do not retry together). A receiver's Retry-After overrides a
// shorter wait.
type Backoff struct {
	Initial time.Duration // default DefaultInitialBackoff
	Max     time.Duration // default DefaultMaxBackoff
	// Jitter is a fraction in [0, 1]: 0.5 makes a wait of d one between
	// d/2 and d. 0 means DefaultJitter; a negative value means none.
	Jitter float64
}

// Delay is the wait after the given number of consecutive failures (1 or
// more); rnd in [0, 1) picks the jitter.
func (b Backoff) Delay(failures int, rnd float64) time.Duration {
	d := b.Initial
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		d -= time.Duration(float64(d) * b.Jitter * rnd)
	}
	return d
}

// Options tune an Outbox. Zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// Now is the clock for delivery times (default time.Now); latencies
	// are measured on the real clock.
	Now     func() time.Time
	Backoff Backoff
	// MaxAttempts is how many attempts a delivery gets before it is
	// dropped (default DefaultMaxAttempts: with the default backoff, at
	// least 5 minutes apart once capped, MaxAge ends the retries first).
	MaxAttempts int
	// MaxAge is how long after it was enqueued a delivery may still be
	// attempted (default DefaultMaxAge): a retry that would come later is
	// not made, and the delivery is dropped.
	MaxAge time.Duration
	// RatePerMinute caps the attempts per receiver name (absent or 0: no
	// cap). Deliveries beyond the rate wait their turn; none is dropped
	// for it. The bucket holds one token: attempts are at least
	// 1m/RatePerMinute apart.
	RatePerMinute map[string]int
	// SendTimeout bounds one attempt (default DefaultSendTimeout).
	SendTimeout time.Duration
	// PollInterval is the safety poll: the store's due deliveries are read
	// this often (default DefaultPollInterval), and no sender sleeps
	// longer. Retries are woken on time by their own timer, not by it.
	PollInterval time.Duration
	// Rand returns numbers in [0, 1) for the jitter (default math/rand/v2).
	Rand func() float64
	// Tracer records an alert.deliver span per delivery attempt (nil:
	// none).
	Tracer trace.Tracer
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backoff.Initial <= 0 {
		o.Backoff.Initial = DefaultInitialBackoff
	}
	if o.Backoff.Max <= 0 {
		o.Backoff.Max = DefaultMaxBackoff
	}
	o.Backoff.Max = max(o.Backoff.Max, o.Backoff.Initial)
	switch {
	case o.Backoff.Jitter == 0:
		o.Backoff.Jitter = DefaultJitter
	case o.Backoff.Jitter < 0:
		o.Backoff.Jitter = 0
	case o.Backoff.Jitter > 1:
		o.Backoff.Jitter = 1
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Rand == nil {
		o.Rand = randFloat
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("")
	}
}

// farFuture is after any NextAttempt: DueDeliveries(farFuture) lists every
// pending delivery.
var farFuture = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// Outbox records notifications in the store and delivers them to the
// receivers, retrying as the receivers' answers allow.
type Outbox struct {
	st      store.AlertStore
	opts    Options
	log     *slog.Logger
	lanes   map[string]*lane // by receiver name
	names   []string         // sorted
	metrics *metrics

	// mu guards the lanes' queues.
	mu sync.Mutex
	// storeMu orders store writes against the safety poll: a write and the
	// memory update after it hold it shared; the poll, which compares the
	// store with memory, holds it exclusively, so it never sees a delivery
	// settled in the store but still pending in memory, or the reverse.
	storeMu sync.RWMutex
	seq     atomic.Uint64 // for delivery IDs
	running atomic.Bool
	warned  map[string]bool // receivers named by stored deliveries but not configured; guarded by mu
}

// New returns an outbox over st that delivers to receivers, whose names
// must be unique (New panics otherwise: it is a wiring bug). It sends
// nothing until Run.
func New(st store.AlertStore, receivers []alerts.Receiver, opts Options) *Outbox {
	opts.defaults()
	o := &Outbox{st: st, opts: opts, log: opts.Logger, lanes: map[string]*lane{}, warned: map[string]bool{}}
	for _, r := range receivers {
		if r == nil {
			panic("outbox: nil receiver")
		}
		name := r.Name()
		if _, dup := o.lanes[name]; dup || name == "" {
			panic(fmt.Sprintf("outbox: receiver name %q is empty or not unique", name))
		}
		o.lanes[name] = newLane(r, opts.RatePerMinute[name])
		o.names = append(o.names, name)
	}
	slices.Sort(o.names)
	o.metrics = newMetrics(o)
	return o
}

// Enqueue records n for each of the named receivers, as pending deliveries
// due now, or as silenced ones (recorded, never sent), and returns once the
// store has them: from then on they survive a crash. It fails, storing
// nothing, when n is invalid (the error wraps alerts.ErrInvalid), when a
// name is not a configured receiver or none is given, or when the store
// fails.
func (o *Outbox) Enqueue(ctx context.Context, n alerts.Notification, receivers []string, silenced bool) error {
	if err := n.Validate(); err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	names := slices.Clone(receivers)
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		return fmt.Errorf("outbox: enqueue %q: no receivers", n.Key)
	}
	for _, name := range names {
		if o.lanes[name] == nil {
			return fmt.Errorf("outbox: enqueue %q: unknown receiver %q (configured: %s)", n.Key, name, strings.Join(o.names, ", "))
		}
	}
	raw, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("outbox: enqueue %q: encode: %w", n.Key, err)
	}
	now := o.opts.Now()
	ds := make([]store.Delivery, len(names))
	for i, name := range names {
		ds[i] = store.Delivery{
			ID: o.newID(now), Receiver: name, Key: n.Key, Status: string(n.Status),
			Notification: raw, State: store.DeliveryPending, NextAttempt: now,
			Created: now, Updated: now,
		}
		if silenced {
			ds[i].State, ds[i].NextAttempt = store.DeliverySilenced, time.Time{}
		}
	}
	o.storeMu.RLock()
	defer o.storeMu.RUnlock()
	if err := o.st.PutDeliveries(ctx, ds); err != nil {
		return fmt.Errorf("outbox: enqueue %q: store: %w", n.Key, err)
	}
	if silenced {
		for _, d := range ds {
			o.metrics.outcome(d.Receiver, outcomeSilenced)
		}
		o.log.Info("alert silenced", "key", n.Key, "status", string(n.Status), "receivers", names)
		return nil
	}
	o.mu.Lock()
	for _, d := range ds {
		o.lanes[d.Receiver].add(d)
	}
	o.mu.Unlock()
	for _, d := range ds {
		o.lanes[d.Receiver].poke()
	}
	return nil
}

// newID returns a delivery ID unique in the store that sorts in enqueue
// order: the creation time, a per-process sequence, and random bits for
// processes that share a clock reading.
func (o *Outbox) newID(created time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%016x-%08x-%s", uint64(created.UnixNano()), o.seq.Add(1), hex.EncodeToString(b[:]))
}

// Run delivers until ctx ends, then returns nil once every sender has
// stopped (an attempt cut short by the end is not counted: the delivery
// stays pending in the store). It first reads the pending deliveries left
// in the store (from before a restart, or enqueued before Run), retrying
// while the store fails, then starts one sender per receiver, and reads
// the store's due deliveries every PollInterval in case one was written
// by someone else.
func (o *Outbox) Run(ctx context.Context) error {
	if !o.running.CompareAndSwap(false, true) {
		return errors.New("outbox: already running")
	}
	defer o.running.Store(false)
	tick := time.NewTicker(o.opts.PollInterval)
	defer tick.Stop()
	for {
		err := o.load(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		o.log.Error("outbox: read pending deliveries; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, name := range o.names {
		l := o.lanes[name]
		wg.Go(func() { o.send(ctx, l) })
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := o.poll(ctx); err != nil && ctx.Err() == nil {
				o.log.Warn("outbox: safety poll", "err", err)
			}
		}
	}
}

// load reads every pending delivery of the store into memory: through the
// store's work list (DueDeliveries with a time after any NextAttempt),
// which holds only pending deliveries, and, when that is full, through
// Deliveries, which pages through them all.
func (o *Outbox) load(ctx context.Context) error {
	all, err := o.st.DueDeliveries(ctx, farFuture, store.MaxLimit)
	if err != nil {
		return err
	}
	if len(all) < store.MaxLimit {
		if added := o.merge(all); added > 0 {
			o.log.Info("outbox: pending deliveries read from the store", "deliveries", added)
		}
		return nil
	}
	all = all[:0]
	q := store.DeliveryQuery{States: []string{store.DeliveryPending}, Limit: store.MaxLimit}
	for {
		page, err := o.st.Deliveries(ctx, q)
		if err != nil {
			return err
		}
		all = append(all, page.Deliveries...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	added := o.merge(all)
	if added > 0 {
		o.log.Info("outbox: pending deliveries read from the store", "deliveries", added)
	}
	return nil
}

// poll merges the store's due deliveries that memory does not hold.
func (o *Outbox) poll(ctx context.Context) error {
	o.storeMu.Lock()
	defer o.storeMu.Unlock()
	due, err := o.st.DueDeliveries(ctx, o.opts.Now(), store.MaxLimit)
	if err != nil {
		return err
	}
	if added := o.merge(due); added > 0 {
		o.log.Info("outbox: due deliveries found in the store", "deliveries", added)
	}
	return nil
}

// merge adds the pending deliveries memory does not hold yet and wakes
// their senders. Deliveries for receivers that are not configured stay in
// the store, pending, for when they are again.
func (o *Outbox) merge(ds []store.Delivery) int {
	added := 0
	woken := map[*lane]bool{}
	o.mu.Lock()
	for _, d := range ds {
		if d.State != store.DeliveryPending {
			continue
		}
		l := o.lanes[d.Receiver]
		if l == nil {
			if !o.warned[d.Receiver] {
				o.warned[d.Receiver] = true
				o.log.Warn("outbox: pending deliveries for a receiver that is not configured stay pending", "receiver", d.Receiver)
			}
			continue
		}
		if l.add(d) {
			added++
			woken[l] = true
		}
	}
	o.mu.Unlock()
	for l := range woken {
		l.poke()
	}
	return added
}

// Test sends a test notification to the named receiver, firing and then
// resolved, synchronously and without the store, and returns the first
// error (alerts.Classify tells how it ended). It is what `freshet alerts
// test RECEIVER` runs.
func (o *Outbox) Test(ctx context.Context, receiver string) error {
	l := o.lanes[receiver]
	if l == nil {
		return fmt.Errorf("outbox: test: unknown receiver %q (configured: %s)", receiver, strings.Join(o.names, ", "))
	}
	now := o.opts.Now().UTC()
	n := alerts.Notification{
		Key:      "freshet-test-" + now.Format("20060102T150405Z"),
		Status:   alerts.Firing,
		Severity: alerts.Info,
		Summary:  "Freshet test notification: nothing is wrong, this checks the way to " + receiver + " (it resolves at once)",
		Rule:     "freshet-test",
		StartsAt: now,
		Details:  map[string]string{"test": "true", "sent_by": "freshet alerts test"},
	}
	send := func(n alerts.Notification) error {
		sctx, cancel := context.WithTimeout(ctx, o.opts.SendTimeout)
		defer cancel()
		return l.r.Send(sctx, n)
	}
	if err := send(n); err != nil {
		return fmt.Errorf("outbox: test %s: firing: %w", receiver, err)
	}
	n.Status, n.EndsAt = alerts.Resolved, o.opts.Now().UTC()
	if err := send(n); err != nil {
		return fmt.Errorf("outbox: test %s: resolve: %w", receiver, err)
	}
	return nil
}

// Deliveries pages through the recorded deliveries (for the API).
func (o *Outbox) Deliveries(ctx context.Context, q store.DeliveryQuery) (store.DeliveryPage, error) {
	return o.st.Deliveries(ctx, q)
}
