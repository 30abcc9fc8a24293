package ingest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Backpressure defaults (see Options): they keep the oldest acknowledged
// event the store has not confirmed within a few seconds of now.
const (
	DefaultMaxUnstoredAge   = time.Second
	DefaultMaxUnstoredBytes = 64 << 20
	DefaultAckWait          = 10 * time.Second
	// stalledWrite: a store write in flight this long is a stalled store,
	// treated as an outage.
	stalledWrite = 15 * time.Second
)

// BacklogError is returned by Submit when the store fell behind what was
// acknowledged and did not catch up within AckWait: nothing was written;
// the client should retry (HTTP 503 with Retry-After).
type BacklogError struct {
	Age   time.Duration
	Bytes int64
}

func (e *BacklogError) Error() string {
	return fmt.Sprintf("the event store is behind (the oldest event it has not stored is %s old, %d bytes wait); retry later",
		e.Age.Round(100*time.Millisecond), e.Bytes)
}

// RetryAfter tells an HTTP layer what to put in Retry-After.
func (*BacklogError) RetryAfter() time.Duration { return 2 * time.Second }

// admit makes an acknowledgement wait while the store is behind: the
// backlog it has not confirmed is older or larger than the bounds. It
// stands aside while the store fails (an outage: the write-ahead log is
// there to take it) and when the backlog is only what the writer has in
// hand right now.
func (p *Pipeline) admit(ctx context.Context, events int) error {
	if p.opts.MaxUnstoredAge < 0 {
		return nil
	}
	var (
		deadline time.Time
		tick     *time.Ticker
		start    time.Time
	)
	for {
		st := p.log.Stats()
		if (st.OldestAge <= p.opts.MaxUnstoredAge && st.Pending <= p.opts.MaxUnstoredBytes && p.drainTime() <= p.opts.MaxUnstoredAge) ||
			p.storeDown() {
			if tick != nil {
				tick.Stop()
				p.metrics.backpressureSeconds.Observe(time.Since(start).Seconds())
			}
			return nil
		}
		if tick == nil {
			start = time.Now()
			deadline = start.Add(p.opts.AckWait)
			tick = time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
		}
		if time.Now().After(deadline) {
			p.metrics.backpressureSeconds.Observe(time.Since(start).Seconds())
			p.metrics.rejectedBacklog.Add(float64(events))
			return &BacklogError{Age: st.OldestAge, Bytes: st.Pending}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// SubmitClient is Submit behind the backpressure (Options): the API's
// ingest uses it, so clients slow down to what the store writes.
func (p *Pipeline) SubmitClient(ctx context.Context, events []asset.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, span := p.start(ctx, "ingest.submit")
	_, err := p.submit(ctx, events, true)
	endSpan(span, err)
	return err
}

// SubmitStored is SubmitClient, then a wait of up to wait for the store to hold
// the batch (read-your-writes). stored is false when the wait ran out:
// the batch is durable and acknowledged all the same, and will be stored.
func (p *Pipeline) SubmitStored(ctx context.Context, events []asset.Event, wait time.Duration) (stored bool, err error) {
	if len(events) == 0 {
		return true, nil
	}
	seq, err := p.submit(ctx, events, true)
	if err != nil {
		return false, err
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := p.waitWritten(wctx, seq); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil
	}
	return true, nil
}

// storeDown: the last write failed, or the one in flight is stalled.
func (p *Pipeline) storeDown() bool {
	if p.storeFailing.Load() {
		return true
	}
	ws := p.writeStart.Load()
	return ws != 0 && time.Since(time.Unix(0, ws)) > stalledWrite
}

// observeRate folds one successful batch write into the store's speed.
func (p *Pipeline) observeRate(events int, took time.Duration) {
	p.unstored.Add(-int64(events))
	if took <= 0 || events < 100 {
		return // too small to say anything about speed
	}
	r := float64(events) / took.Seconds()
	if old := math.Float64frombits(p.storeRate.Load()); old > 0 {
		r = 0.7*old + 0.3*r
	}
	p.storeRate.Store(math.Float64bits(r))
}

// drainTime is how long the store will take to write what is
// acknowledged and not stored, at its recent speed: admitting while it is
// within the bound keeps the oldest unconfirmed event young, rather than
// letting the bound be crossed first and noticed later.
func (p *Pipeline) drainTime() time.Duration {
	r := math.Float64frombits(p.storeRate.Load())
	n := p.unstored.Load()
	if r <= 0 || n <= 0 {
		return 0
	}
	return time.Duration(float64(n) / r * float64(time.Second))
}

// minBatch is the smallest batch batchLimit asks for: below it a store
// spends its time on per-write overhead.
const minBatch = 1000

// batchLimit is the next batch's size: BatchSize, but no more than the
// store writes in MaxUnstoredAge at its recent speed, so that one write
// does not by itself age the oldest unconfirmed event past the bound.
// Larger batches are cheaper per event (the embedded store updates each
// asset's summary once per batch), so the size grows back with the speed.
func (p *Pipeline) batchLimit() int {
	r := math.Float64frombits(p.storeRate.Load())
	if p.opts.MaxUnstoredAge < 0 || r <= 0 {
		return p.opts.BatchSize
	}
	return min(p.opts.BatchSize, max(minBatch, int(r*p.opts.MaxUnstoredAge.Seconds())))
}

// isOutage reports a store error that says the store cannot write at all
// right now (its disk is full or over a limit), however well it answers
// pings: retried as an outage, never taken for a poison event and set
// aside. Stores mark such errors with an Outage method.
func isOutage(err error) bool {
	var o interface{ Outage() bool }
	return errors.As(err, &o) && o.Outage()
}
