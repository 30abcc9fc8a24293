package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest/wal"
)

// Sink is the event store as ingest sees it.
type Sink interface {
	// AppendEvents stores events and returns those it did not hold yet.
	AppendEvents(ctx context.Context, events []asset.Event) (added []asset.Event, err error)
	// Ping tells an outage (wait for it to end) from a batch the store
	// rejects while it works (set it aside).
	Ping(ctx context.Context) error
}

// Observer is told about every acknowledged batch: the catalog and the
// lineage index keep their in-memory state current this way.
type Observer func(events []asset.Event)

// Options tune the background writer. Zero values take the defaults.
type Options struct {
	// BatchSize is the most events written to the store at once (default
	// 50,000: ClickHouse inserts fastest around there). With backpressure
	// on, a batch is also kept to what the store writes in about
	// MaxUnstoredAge (batchLimit), since its oldest event waits for the
	// whole write.
	BatchSize int
	// BatchDelay is how long the writer waits for a batch to fill (default 50ms).
	BatchDelay time.Duration
	// MaxBackoff caps the wait between retries while the store fails (default 30s).
	MaxBackoff time.Duration
	// MemoryBytes bounds the decoded events also kept in memory so the
	// writer need not read them back from disk (default 256 MiB: some
	// 170,000 typical events, the second of backlog that backpressure
	// allows at the rates ClickHouse takes; at 64 MiB, bench-ingest
	// --policies spent 0.2 CPU-s per million events reading records back).
	// Beyond it, records are read from the WAL and decoded again, as after
	// a restart.
	MemoryBytes int64
	// PoisonAttempts is how many times a batch may fail while the store
	// answers Ping before the batch is split to find the events the store
	// rejects (default 5). A single event that still fails then becomes a
	// dead letter, if DeadLetters is set; without it, it is retried forever.
	PoisonAttempts int
	DeadLetters    *DeadLetters
	// OnStored is told, after each batch the store accepted, the batch
	// and the events that were new to the store (the rest were replays or
	// retries of stored ids, or dead letters). The catalog counts exactly
	// this way.
	OnStored func(batch, added []asset.Event)
	// Backpressure (backpressure.go): while the store answers but the
	// acknowledged backlog it has not confirmed is older than
	// MaxUnstoredAge (default 1s) or larger than MaxUnstoredBytes (default
	// 64 MiB), Submit waits up to AckWait (default 10s) for it to shrink,
	// then returns a *BacklogError (503). Negative MaxUnstoredAge: off.
	// During a store outage the write-ahead log takes everything up to
	// its own bound instead, as it is there for.
	MaxUnstoredAge   time.Duration
	MaxUnstoredBytes int64
	AckWait          time.Duration
	Logger           *slog.Logger
	// Tracer records spans (see tracing.go): ingest.submit and its
	// wal.append for each acknowledged batch, ingest.store_batch and its
	// store.append_events attempts for each store write. Nil: none, at
	// no cost.
	Tracer trace.Tracer
}

func (o *Options) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 50_000
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = 50 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = 256 << 20
	}
	if o.PoisonAttempts <= 0 {
		o.PoisonAttempts = 5
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxUnstoredAge == 0 {
		o.MaxUnstoredAge = DefaultMaxUnstoredAge
	}
	if o.MaxUnstoredBytes <= 0 {
		o.MaxUnstoredBytes = DefaultMaxUnstoredBytes
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
}

// Pipeline makes events durable in the write-ahead log, acknowledges them,
// and writes them to the store in the background (Run), confirming each
// batch back to the log only once the store accepted it.
type Pipeline struct {
	log       *wal.Log
	sink      Sink
	observers []Observer
	opts      Options
	metrics   *Metrics

	mu      sync.Mutex
	queue   map[uint64][]asset.Event // by WAL seq; nil events: read it from disk
	inMem   int64                    // payload bytes held in queue
	sizes   map[uint64]int64
	next    uint64 // the next seq to write to the store
	written uint64 // last seq the store confirmed
	acked   uint64 // last seq acknowledged to a client
	wake    chan struct{}
	drained *sync.Cond
	// recovered is the last seq the log held at start (written before a
	// restart, acknowledged then).
	recovered uint64
	// storeFailing is set while the store's last write attempt failed: an
	// outage, during which backpressure stands aside.
	storeFailing atomic.Bool
	// writeStart is when the store write in flight began (unix nanos, 0:
	// none): one that takes far too long is a stalled store, an outage too.
	writeStart atomic.Int64
	// unstored counts events acknowledged in this run and not yet written,
	// and storeRate (events/s, float64 bits) is a moving average of the
	// store's write speed: together, how long the backlog will take.
	unstored  atomic.Int64
	storeRate atomic.Uint64
	// frames holds *[]byte buffers for encoding batches into WAL records.
	frames sync.Pool
}

// maxPooledFrame: larger record buffers are left to the garbage collector.
const maxPooledFrame = 4 << 20

// NewPipeline returns a pipeline over an open log. Records the log holds
// from before (not yet confirmed) are written first when Run starts.
func NewPipeline(log *wal.Log, sink Sink, opts Options, observers ...Observer) *Pipeline {
	opts.defaults()
	st := log.Stats()
	p := &Pipeline{log: log, sink: sink, observers: observers, opts: opts,
		queue: map[uint64][]asset.Event{}, sizes: map[uint64]int64{},
		next: st.ConfirmedTo + 1, written: st.ConfirmedTo, wake: make(chan struct{}, 1)}
	p.drained = sync.NewCond(&p.mu)
	p.recovered = st.LastSeq
	for seq := st.ConfirmedTo + 1; seq <= st.LastSeq; seq++ {
		p.queue[seq] = nil // recovered: on disk only
	}
	p.metrics = newMetrics(p)
	return p
}

// Recovered reads the records left from before a restart and passes their
// events to fn, so the catalog can show what was acknowledged but not yet
// stored.
func (p *Pipeline) Recovered(fn func([]asset.Event)) error {
	st := p.log.Stats()
	return p.log.Replay(st.ConfirmedTo+1, func(r wal.Record) error {
		events, err := decodeBatch(r.Payload)
		if err != nil {
			return fmt.Errorf("wal record %d: %w", r.Seq, err)
		}
		fn(events)
		return nil
	})
}

// Submit returns once the batch is durable in the write-ahead log and the
// observers saw it; only then may the store writer (Run) take it. It is for
// Freshet's own events: clients' batches go through SubmitClient.
func (p *Pipeline) Submit(ctx context.Context, events []asset.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, span := p.start(ctx, "ingest.submit")
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("freshet.events", len(events)))
	}
	_, err := p.submit(ctx, events, false)
	endSpan(span, err)
	return err
}

// submit appends a batch; throttled: after the backpressure's wait (for
// clients; Freshet's own events, such as a run's, are never refused).
func (p *Pipeline) submit(ctx context.Context, events []asset.Event, throttled bool) (uint64, error) {
	if throttled {
		if err := p.admit(ctx, len(events)); err != nil {
			return 0, err
		}
	}
	// The batch is encoded after room for the record's header, into a
	// buffer used again once the log has written it.
	frame, _ := p.frames.Get().(*[]byte)
	if frame == nil {
		frame = new([]byte)
	}
	*frame = encodeBatch(append((*frame)[:0], make([]byte, wal.HeaderSize)...), events)
	payloadLen := len(*frame) - wal.HeaderSize
	seq, err := p.appendWAL(ctx, *frame)
	if cap(*frame) <= maxPooledFrame {
		p.frames.Put(frame)
	}
	if err != nil {
		if errors.Is(err, wal.ErrFull) {
			p.metrics.rejected.Add(float64(len(events)))
		}
		return 0, err
	}
	p.metrics.accepted.Add(float64(len(events)))
	p.unstored.Add(int64(len(events)))
	// Observers first, then the writer may take the batch: the catalog
	// counts an event pending when it is acknowledged and stored when the
	// store took it, and a batch stored before its observers ran was
	// counted twice (once as stored, once as pending for good).
	for _, o := range p.observers {
		o(events)
	}
	// Decoded events take five to seven times their encoded size
	// (materializations with two metadata entries: 6.5x, measured).
	size := 6 * int64(payloadLen)
	p.mu.Lock()
	if p.inMem+size <= p.opts.MemoryBytes {
		p.queue[seq] = events
		p.sizes[seq] = size
		p.inMem += size
	} else {
		p.queue[seq] = nil
	}
	p.acked = max(p.acked, seq)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return seq, nil
}

// Drain waits until everything acknowledged before the call is in the store.
func (p *Pipeline) Drain(ctx context.Context) error {
	p.mu.Lock()
	target := max(p.acked, p.recovered)
	p.mu.Unlock()
	return p.waitWritten(ctx, target)
}

// waitWritten waits until the store confirmed every record up to target.
func (p *Pipeline) waitWritten(ctx context.Context, target uint64) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.drained.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.written < target {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.drained.Wait()
	}
	return nil
}

// Run writes acknowledged batches to the store until ctx ends, retrying
// with capped exponential backoff while the store fails. Nothing is
// confirmed to the log before the store accepted it, so whatever Run has
// not finished is replayed on the next start.
func (p *Pipeline) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		batch, last, err := p.collect(ctx)
		if err != nil {
			// Reading the log back failed (e.g. out of file descriptors):
			// keep the records and try again rather than stop storing.
			p.opts.Logger.Error("reading the write-ahead log failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, p.opts.MaxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(batch) == 0 {
			return ctx.Err()
		}
		final := ctx.Err() != nil // shutting down: this is the one last attempt
		bctx, span := p.start(ctx, "ingest.store_batch")
		if span.IsRecording() {
			span.SetAttributes(attribute.Int("freshet.events", len(batch)), attribute.Int64("freshet.wal.last_seq", int64(last)))
		}
		wstart := time.Now()
		added, err := p.write(bctx, batch, false)
		if err == nil {
			p.observeRate(len(batch), time.Since(wstart))
		}
		if span.IsRecording() && err == nil {
			span.SetAttributes(attribute.Int("freshet.events.added", len(added)))
		}
		endSpan(span, err)
		if err != nil {
			return err
		}
		if p.opts.OnStored != nil {
			p.opts.OnStored(batch, added)
		}
		if err := p.log.Confirm(last); err != nil {
			// The batch is stored; an unrecorded confirmation only means
			// replaying it after a restart, which the store ignores. The
			// next Confirm covers it.
			p.opts.Logger.Warn("could not record the store's confirmation in the write-ahead log", "err", err)
		}
		p.mu.Lock()
		for seq := p.written + 1; seq <= last; seq++ {
			p.inMem -= p.sizes[seq]
			delete(p.sizes, seq)
			delete(p.queue, seq)
		}
		p.written = last
		p.drained.Broadcast()
		p.mu.Unlock()
		if final {
			return ctx.Err()
		}
	}
}

// collect gathers the next batch of consecutive records: from memory when
// it has them, else from disk. It waits for the first record, then up to
// BatchDelay for the batch to fill. An empty batch means ctx ended.
func (p *Pipeline) collect(ctx context.Context) ([]asset.Event, uint64, error) {
	var (
		batch []asset.Event
		last  uint64
		timer <-chan time.Time
		limit = p.batchLimit()
	)
	for {
		p.mu.Lock()
		for len(batch) < limit {
			events, ok := p.queue[p.next]
			if !ok {
				break // not appended yet, or appended and about to be queued
			}
			if events == nil {
				p.mu.Unlock()
				fromDisk, upTo, err := p.readDisk(p.next, limit-len(batch))
				if err != nil {
					return nil, 0, err
				}
				p.mu.Lock()
				batch = append(batch, fromDisk...)
				p.next, last = upTo+1, upTo
				continue
			}
			if batch == nil {
				batch = make([]asset.Event, 0, p.queuedLocked(limit))
			}
			batch = append(batch, events...)
			last = p.next
			p.next++
		}
		p.mu.Unlock()
		if len(batch) >= limit {
			return batch, last, nil
		}
		if len(batch) > 0 && timer == nil {
			timer = time.After(p.opts.BatchDelay)
		}
		select {
		case <-ctx.Done():
			if len(batch) > 0 {
				return batch, last, nil // one last try, see write
			}
			return nil, 0, nil
		case <-timer:
			return batch, last, nil
		case <-p.wake:
		}
	}
}

// queuedLocked counts the events held in memory from p.next on, up to
// limit: the capacity a batch starts with, so that collecting 50,000
// events does not copy them over and over as the slice grows.
func (p *Pipeline) queuedLocked(limit int) int {
	n := 0
	for seq := p.next; n < limit; seq++ {
		events, ok := p.queue[seq]
		if !ok || events == nil {
			break
		}
		n += len(events)
	}
	return min(n, limit)
}

// readDisk reads consecutive on-disk-only records from seq, up to about
// max events (always at least one record).
func (p *Pipeline) readDisk(seq uint64, max int) ([]asset.Event, uint64, error) {
	var out []asset.Event
	upTo := seq - 1
	errEnough := errors.New("enough")
	err := p.log.Replay(seq, func(r wal.Record) error {
		p.mu.Lock()
		events, ok := p.queue[r.Seq]
		p.mu.Unlock()
		if r.Seq != upTo+1 || !ok || events != nil || (len(out) > 0 && len(out) >= max) {
			return errEnough
		}
		decoded, err := decodeBatch(r.Payload)
		if err != nil {
			return fmt.Errorf("wal record %d: %w", r.Seq, err)
		}
		out = append(out, decoded...)
		upTo = r.Seq
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, 0, err
	}
	if upTo < seq {
		return nil, 0, fmt.Errorf("write-ahead log record %d is not on disk", seq)
	}
	return out, upTo, nil
}

// write stores a batch, retrying while the store fails, and returns what
// was new to the store. When ctx ends it makes one last bounded attempt,
// so a clean shutdown usually leaves nothing to replay; if that fails too,
// the records stay in the log.
//
// A batch that keeps failing while the store answers Ping is itself the
// problem (an event the store cannot take): it is split in halves, each
// written on its own and split again at its first failure, down to single
// events; one that still fails PoisonAttempts times is set aside as a dead
// letter, so one bad event does not hold up every event behind it.
func (p *Pipeline) write(ctx context.Context, batch []asset.Event, half bool) ([]asset.Event, error) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		added, err := p.append(ctx, batch)
		if err == nil {
			if attempt > 1 {
				p.opts.Logger.Info("event store accepted the batch", "events", len(batch), "attempts", attempt)
			}
			return added, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stopping with %d events not yet stored (they stay in the write-ahead log): %w", len(batch), err)
		}
		if len(batch) > 1 && half {
			break // part of a rejected batch: narrow it down at once
		}
		if attempt >= p.opts.PoisonAttempts && p.opts.DeadLetters != nil && !isOutage(err) && p.sink.Ping(ctx) == nil {
			if len(batch) > 1 {
				p.opts.Logger.Warn("the event store rejects this batch while it accepts pings; looking for the events it refuses",
					"events", len(batch), "err", err)
				break
			}
			derr := p.setAside(ctx, batch[0], err)
			if derr == nil {
				return nil, nil
			}
			p.opts.Logger.Error("could not set an event aside; retrying", "id", batch[0].ID, "err", derr)
		}
		p.opts.Logger.Warn("event store write failed; retrying", "events", len(batch), "attempt", attempt,
			"retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, p.opts.MaxBackoff)
	}
	mid := len(batch) / 2
	first, err := p.write(ctx, batch[:mid], true)
	if err != nil {
		return nil, err
	}
	second, err := p.write(ctx, batch[mid:], true)
	if err != nil {
		return nil, err
	}
	return append(first, second...), nil
}

// append makes one attempt; after ctx ended, a bounded one.
func (p *Pipeline) append(ctx context.Context, batch []asset.Event) ([]asset.Event, error) {
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if ctx.Err() != nil {
		wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	}
	defer cancel()
	wctx, span := p.start(wctx, "store.append_events")
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("freshet.events", len(batch)))
	}
	start := time.Now()
	p.writeStart.Store(start.UnixNano())
	added, err := p.sink.AppendEvents(wctx, batch)
	p.writeStart.Store(0)
	p.metrics.observeWrite(len(batch), time.Since(start), err)
	p.storeFailing.Store(err != nil)
	endSpan(span, err)
	return added, err
}

func (p *Pipeline) setAside(ctx context.Context, e asset.Event, cause error) error {
	if err := p.opts.DeadLetters.Add([]DeadLetter{{Time: time.Now().UTC(), Error: cause.Error(), Event: e}}); err != nil {
		return err
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("dead letter", trace.WithAttributes(attribute.String("freshet.event.id", e.ID), attribute.String("freshet.asset", string(e.Asset))))
		span.SetStatus(codes.Error, "an event was set aside as a dead letter")
	}
	p.metrics.deadLettered.Inc()
	p.opts.Logger.Error("event set aside as a dead letter: the store rejects it while it accepts others; "+
		"fix the cause, then replay it (POST /api/v1/dead-letters/replay)", "id", e.ID, "asset", e.Asset, "err", cause)
	return nil
}

// ReplayDeadLetters submits every dead letter again (durably, through the
// write-ahead log) and empties the dead-letter file. It returns how many
// were replayed. Use it once the cause is fixed; events the store still
// rejects come back as dead letters.
func (p *Pipeline) ReplayDeadLetters(ctx context.Context) (int, error) {
	if p.opts.DeadLetters == nil {
		return 0, nil
	}
	return p.opts.DeadLetters.take(func(all []DeadLetter) error {
		events := make([]asset.Event, len(all))
		for i := range all {
			events[i] = all[i].Event
		}
		return p.Submit(ctx, events)
	})
}

// DeadLetters lists the events set aside (nil without a dead-letter file).
func (p *Pipeline) DeadLetters() ([]DeadLetter, error) {
	if p.opts.DeadLetters == nil {
		return nil, nil
	}
	return p.opts.DeadLetters.List()
}
