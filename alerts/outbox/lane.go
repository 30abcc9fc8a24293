package outbox

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/freshet-dev/freshet/alerts"
	"github.com/freshet-dev/freshet/store"
)

func randFloat() float64 { return rand.Float64() }

// lane is one receiver's share of the outbox: its pending deliveries in
// memory, one queue per Key in enqueue order, and a heap of the queues'
// heads by NextAttempt, so its sender finds the next due delivery, or when
// it is due, without scanning. The queues are guarded by Outbox.mu.
type lane struct {
	r     alerts.Receiver
	name  string
	wake  chan struct{}
	limit *bucket // nil: no rate limit; used by the sender only

	keys    map[string]*keyQueue
	heads   headHeap
	pending int
}

func newLane(r alerts.Receiver, perMinute int) *lane {
	l := &lane{r: r, name: r.Name(), wake: make(chan struct{}, 1), keys: map[string]*keyQueue{}}
	if perMinute > 0 {
		l.limit = &bucket{every: time.Minute / time.Duration(perMinute)}
	}
	return l
}

// poke wakes the lane's sender.
func (l *lane) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// keyQueue holds the pending deliveries of one Key, oldest first (by
// Created, then ID, which also sorts in enqueue order). Only the head may
// be attempted.
type keyQueue struct {
	key   string
	ds    []store.Delivery
	index int // in lane.heads
}

func olderDelivery(a, b *store.Delivery) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// add queues a pending delivery; false if the lane holds it already.
func (l *lane) add(d store.Delivery) bool {
	q := l.keys[d.Key]
	if q == nil {
		q = &keyQueue{key: d.Key, ds: []store.Delivery{d}}
		l.keys[d.Key] = q
		heap.Push(&l.heads, q)
		l.pending++
		return true
	}
	if slices.ContainsFunc(q.ds, func(x store.Delivery) bool { return x.ID == d.ID }) {
		return false
	}
	i, _ := slices.BinarySearchFunc(q.ds, &d, func(x store.Delivery, t *store.Delivery) int { return olderDelivery(&x, t) })
	q.ds = slices.Insert(q.ds, i, d)
	if i == 0 {
		heap.Fix(&l.heads, q.index)
	}
	l.pending++
	return true
}

// next returns the delivery to attempt now, if any, else the time the next
// one is due (zero if none is pending).
func (l *lane) next(now time.Time) (d store.Delivery, ok bool, at time.Time) {
	if len(l.heads) == 0 {
		return d, false, time.Time{}
	}
	head := &l.heads[0].ds[0]
	if head.NextAttempt.After(now) {
		return d, false, head.NextAttempt
	}
	return *head, true, time.Time{}
}

// update replaces the pending delivery with d's ID by d, or removes it
// when d is settled.
func (l *lane) update(d store.Delivery) {
	q := l.keys[d.Key]
	if q == nil {
		return
	}
	i := slices.IndexFunc(q.ds, func(x store.Delivery) bool { return x.ID == d.ID })
	if i < 0 {
		return
	}
	if d.State == store.DeliveryPending {
		q.ds[i] = d
	} else {
		q.ds = slices.Delete(q.ds, i, i+1)
		l.pending--
	}
	switch {
	case len(q.ds) == 0:
		heap.Remove(&l.heads, q.index)
		delete(l.keys, q.key)
	case i == 0:
		heap.Fix(&l.heads, q.index)
	}
}

// oldest is the Created time of the oldest pending delivery (zero if none).
func (l *lane) oldest() time.Time {
	var t time.Time
	for _, q := range l.heads {
		if c := q.ds[0].Created; t.IsZero() || c.Before(t) {
			t = c
		}
	}
	return t
}

// headHeap orders key queues by their head's NextAttempt (ties: the older
// head first).
type headHeap []*keyQueue

func (h headHeap) Len() int { return len(h) }
func (h headHeap) Less(i, j int) bool {
	a, b := &h[i].ds[0], &h[j].ds[0]
	if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
		return c < 0
	}
	return olderDelivery(a, b) < 0
}
func (h headHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *headHeap) Push(x any) {
	q := x.(*keyQueue)
	q.index = len(*h)
	*h = append(*h, q)
}
func (h *headHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	q.index = -1
	return q
}

// bucket is a token bucket holding one token, refilled every `every`:
// attempts are at least that far apart. Only the lane's sender uses it.
type bucket struct {
	every time.Duration
	free  time.Time // when the token is there again
}

// take takes the token if it is there and returns 0, else returns how long
// until it is.
func (b *bucket) take(now time.Time) time.Duration {
	if now.Before(b.free) {
		return b.free.Sub(now)
	}
	b.free = now.Add(b.every)
	return 0
}

// send is the lane's sender: it attempts the lane's due deliveries one at
// a time, and sleeps until the next is due (at most PollInterval) or an
// Enqueue wakes it.
func (o *Outbox) send(ctx context.Context, l *lane) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		now := o.opts.Now()
		o.mu.Lock()
		d, ok, at := l.next(now)
		o.mu.Unlock()
		wait := o.opts.PollInterval
		switch {
		case ok && l.limit != nil:
			if w := l.limit.take(now); w > 0 {
				wait = min(wait, w)
				break
			}
			fallthrough
		case ok:
			o.attempt(ctx, l, d)
			continue
		case !at.IsZero():
			wait = min(wait, at.Sub(now))
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-timer.C:
		}
	}
}

// attempt sends d once and records how it went.
func (o *Outbox) attempt(ctx context.Context, l *lane, d store.Delivery) {
	var n alerts.Notification
	var err error
	var took time.Duration
	if jerr := json.Unmarshal(d.Notification, &n); jerr != nil {
		err = &alerts.DeliveryError{Receiver: l.name, Key: d.Key, Outcome: alerts.Rejected,
			Err: fmt.Errorf("stored notification does not decode: %w", jerr)}
	} else {
		sctx, cancel := context.WithTimeout(ctx, o.opts.SendTimeout)
		sctx, span := o.startDelivery(sctx, l, d)
		start := time.Now()
		err = l.r.Send(sctx, n)
		took = time.Since(start)
		cancel()
		endDelivery(span, err)
		if err != nil && ctx.Err() != nil {
			return // shutting down: not an attempt; it stays pending
		}
		o.metrics.latency(l.name, took)
	}

	now := o.opts.Now()
	d.Attempts++
	d.LastLatency = took
	d.LastCode, d.LastError = 0, ""
	d.Updated = latest(d.Updated, now)
	log := o.log.With("receiver", l.name, "key", d.Key, "status", d.Status, "delivery", d.ID, "attempts", d.Attempts)
	switch alerts.Classify(err) {
	case alerts.Delivered:
		d.State, d.NextAttempt = store.DeliveryDelivered, time.Time{}
		o.metrics.outcome(l.name, outcomeDelivered)
		log.Debug("alert delivered", "latency", took)
	case alerts.Rejected:
		d.State, d.NextAttempt = store.DeliveryRejected, time.Time{}
		d.LastCode, d.LastError = statusCode(err), err.Error()
		o.metrics.outcome(l.name, outcomeRejected)
		log.Warn("alert rejected by the receiver; not retried", "err", err)
	default:
		d.LastCode, d.LastError = statusCode(err), err.Error()
		wait := max(o.opts.Backoff.Delay(d.Attempts, o.opts.Rand()), alerts.RetryAfter(err))
		next := now.Add(wait)
		deadline := d.Created.Add(o.opts.MaxAge)
		if d.Attempts >= o.opts.MaxAttempts || next.After(deadline) {
			d.State, d.NextAttempt = store.DeliveryDropped, time.Time{}
			d.LastError += fmt.Sprintf(" (gave up after %d attempts over %s)", d.Attempts, now.Sub(d.Created).Round(time.Second))
			o.metrics.outcome(l.name, outcomeDropped)
			log.Error("alert dropped: retries spent", "err", err)
			break
		}
		d.NextAttempt = next
		o.metrics.outcome(l.name, outcomeRetried)
		log.Info("alert not delivered; retrying", "err", err, "retry_in", wait)
	}
	o.record(ctx, l, d)
}

// record stores d and updates memory. A store failure is logged: memory
// goes on (a delivered notification is not sent again by this process;
// after a restart the store's older record may send it once more).
func (o *Outbox) record(ctx context.Context, l *lane, d store.Delivery) {
	o.storeMu.RLock()
	defer o.storeMu.RUnlock()
	// The attempt happened: record it even while shutting down.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.opts.SendTimeout)
	defer cancel()
	if err := o.st.PutDeliveries(wctx, []store.Delivery{d}); err != nil {
		o.log.Error("outbox: record a delivery attempt", "receiver", l.name, "key", d.Key, "delivery", d.ID, "state", d.State, "err", err)
	}
	o.mu.Lock()
	l.update(d)
	o.mu.Unlock()
}

func statusCode(err error) int {
	var de *alerts.DeliveryError
	if errors.As(err, &de) {
		return de.StatusCode
	}
	return 0
}

// latest is the version for a new write: now, unless the clock went back.
func latest(prev, now time.Time) time.Time {
	if now.Before(prev) {
		return prev
	}
	return now
}
