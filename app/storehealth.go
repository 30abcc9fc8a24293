package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/ingest/wal"
	"github.com/freshet-dev/freshet/runs"
	"github.com/freshet-dev/freshet/store"
)

// DefaultStoreReadTimeout bounds every store read the API makes.
const DefaultStoreReadTimeout = 5 * time.Second

// pingTimeout bounds the store ping of /readyz and of the freshet_store_up gauge.
const pingTimeout = 2 * time.Second

// StoreUnavailableError is what an API read gets when the store does not
// answer in time or cannot be reached: the API answers 503 with
// Retry-After. It names no host or path; the log has the cause.
type StoreUnavailableError struct {
	Timeout time.Duration // set when the store did not answer in time
	Err     error
}

func (e *StoreUnavailableError) Error() string {
	if e.Timeout > 0 {
		return fmt.Sprintf("the event store did not answer within %s; retry later", e.Timeout)
	}
	return "the event store is unavailable; retry later"
}

// No Unwrap: the cause (often a context deadline, which is also a
// net.Error timeout) must not make the API take this for an aborted
// request body. Err is there for logs.

// RetryAfter makes the API answer 503 with this Retry-After.
func (*StoreUnavailableError) RetryAfter() time.Duration { return 5 * time.Second }

// storeGuard puts a deadline on store reads and counts how they went.
// The read runs in its own goroutine, so the caller gets its answer at
// the deadline even from a store whose client ignores the context (a
// stalled server can hold a connection open without answering).
type storeGuard struct {
	st      store.Store
	timeout time.Duration

	readSeconds prometheus.Histogram
	readErrors  *prometheus.CounterVec
	up          prometheus.Collector
}

func newStoreGuard(st store.Store, timeout time.Duration) *storeGuard {
	if timeout <= 0 {
		timeout = DefaultStoreReadTimeout
	}
	g := &storeGuard{st: st, timeout: timeout,
		readSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "freshet_store_read_seconds",
			Help: "Latency of the store reads the API makes (timeouts count as the timeout).", Buckets: prometheus.ExponentialBuckets(0.0005, 3, 11)}),
		readErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_store_read_errors_total",
			Help: "Store reads the API made that failed: reason timeout (no answer within --store-read-timeout, answered 503), unavailable (answered 503) or error."}, []string{"reason"}),
	}
	for _, reason := range []string{"timeout", "unavailable", "error"} {
		g.readErrors.WithLabelValues(reason) // every series from the start, at 0
	}
	g.up = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "freshet_store_up",
		Help: "1 when the event store answers a ping within 2 s, else 0 (pinged at each scrape)."},
		func() float64 {
			if g.ping(context.Background()) != nil {
				return 0
			}
			return 1
		})
	return g
}

func (g *storeGuard) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.readSeconds, g.readErrors, g.up}
}

// bounded runs read with the guard's deadline.
func bounded[T any](ctx context.Context, g *storeGuard, timeout time.Duration, read func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned read still finishes
	start := time.Now()
	go func() {
		v, err := read(ctx)
		done <- result{v, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	if g.readSeconds != nil {
		g.readSeconds.Observe(time.Since(start).Seconds())
	}
	if r.err == nil {
		return r.v, nil
	}
	var zero T
	switch {
	case errors.Is(r.err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || netTimeout(r.err):
		// A client that sets its connection's deadline from ctx (the
		// ClickHouse driver) may report its own i/o timeout a moment
		// before ctx's timer fires: that is our deadline too.
		g.count("timeout")
		return zero, &StoreUnavailableError{Timeout: timeout, Err: r.err}
	case unreachable(r.err):
		g.count("unavailable")
		return zero, &StoreUnavailableError{Err: r.err}
	case errors.Is(r.err, context.Canceled):
		return zero, r.err // the client went away
	}
	g.count("error")
	return zero, r.err
}

func (g *storeGuard) count(reason string) {
	if g.readErrors != nil {
		g.readErrors.WithLabelValues(reason).Inc()
	}
}

func netTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unreachable reports a store that cannot be reached at all (connection
// refused or reset, or a connection closed mid-answer).
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// ping is the cheap health check of /readyz and freshet_store_up.
func (g *storeGuard) ping(ctx context.Context) error {
	_, err := bounded(ctx, &storeGuard{}, pingTimeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, g.st.Ping(ctx)
	})
	var su *StoreUnavailableError
	if err != nil && !errors.As(err, &su) {
		err = &StoreUnavailableError{Err: err} // the store's own words may name hosts or paths
	}
	return err
}

// Events is the API's history read.
func (g *storeGuard) Events(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	return bounded(ctx, g, g.timeout, func(ctx context.Context) (store.EventPage, error) { return g.st.Events(ctx, q) })
}

// guardedRuns gives the API's run reads the store deadline.
type guardedRuns struct {
	*runs.Service
	g *storeGuard
}

func (r guardedRuns) Get(ctx context.Context, id string) (store.RunRecord, []store.StepRecord, error) {
	type got struct {
		run   store.RunRecord
		steps []store.StepRecord
	}
	v, err := bounded(ctx, r.g, r.g.timeout, func(ctx context.Context) (got, error) {
		run, steps, err := r.Service.Get(ctx, id)
		return got{run, steps}, err
	})
	return v.run, v.steps, err
}

func (r guardedRuns) List(ctx context.Context, q store.RunQuery) (store.RunPage, error) {
	return bounded(ctx, r.g, r.g.timeout, func(ctx context.Context) (store.RunPage, error) { return r.Service.List(ctx, q) })
}

func (r guardedRuns) Logs(ctx context.Context, q store.RunLogQuery) ([]store.RunLogLine, error) {
	return bounded(ctx, r.g, r.g.timeout, func(ctx context.Context) ([]store.RunLogLine, error) { return r.Service.Logs(ctx, q) })
}

// ready is /readyz: the write-ahead log writes (else ingest answers 503)
// and the store answers a ping within pingTimeout (else reads do). The
// errors name no path or host.
func ready(ctx context.Context, log *wal.Log, g *storeGuard) error {
	var errs []error
	if err := log.Err(); err != nil {
		errs = append(errs, err)
	}
	if err := g.ping(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// healthy is /healthz: it fails only when restarting may help, i.e. the
// write-ahead log has failed for longer than after without one
// successful write (it recovers by itself from a disk that frees up).
func healthy(log *wal.Log, after time.Duration) error {
	if after <= 0 {
		after = DefaultWALUnhealthyAfter
	}
	if d := log.FailingFor(); d > after {
		return fmt.Errorf("the write-ahead log has not written for %s (%v): restart freshet", d.Round(time.Second), log.Err())
	}
	return nil
}

// walFailing is the freshet_wal_failing_seconds gauge.
func walFailing(log *wal.Log) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "freshet_wal_failing_seconds",
		Help: "How long the write-ahead log has failed to write (0 while it writes)."},
		func() float64 { return log.FailingFor().Seconds() })
}

// clientIngest is ingest as the API's clients get it: behind the
// backpressure, with ?wait=stored.
type clientIngest struct{ p *ingest.Pipeline }

func (c clientIngest) Submit(ctx context.Context, events []asset.Event) error {
	return c.p.SubmitClient(ctx, events)
}

func (c clientIngest) SubmitStored(ctx context.Context, events []asset.Event, wait time.Duration) (bool, error) {
	return c.p.SubmitStored(ctx, events, wait)
}
