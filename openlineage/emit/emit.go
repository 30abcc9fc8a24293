// Package emit sends Freshet's own runs out as OpenLineage RunEvents, so
// that Marquez, DataHub, OpenMetadata or any OpenLineage consumer sees the
// lineage of what Freshet builds.
//
// A Freshet run is a run of the job RunJob; each of its steps is a run of
// the job named after the step's asset (namespace from the config), with
// the asset's upstream as inputs, the asset as output and a parent facet
// naming the Freshet run. A step's first start is a START; its end a
// COMPLETE, a FAIL (with the errorMessage facet) or an ABORT (canceled).
//
// Delivery never holds up a run: Notify only puts the event in a bounded
// queue (full: the event is dropped and counted), and one goroutine POSTs
// the queue in order, retrying a failed POST with exponential backoff.
// Events are not kept across a restart: this is best effort, at most
// once per event, and the dropped counters say what was lost.
package emit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/executor"
	"github.com/freshet-dev/freshet/runs"
)

// Defaults of Options.
const (
	DefaultEndpoint    = "api/v1/lineage"
	DefaultQueueSize   = 10_000
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 8
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultDrain       = 5 * time.Second
)

// Options configure an Emitter. URL is required.
type Options struct {
	// URL is the consumer's base URL; events are POSTed to URL/Endpoint.
	URL      string
	Endpoint string
	// Namespace of the jobs (default "freshet"); DatasetNamespace that of
	// assets not made from OpenLineage datasets (default
	// "freshet://<Namespace>").
	Namespace        string
	DatasetNamespace string
	// APIKey, when set, is sent as Authorization: Bearer.
	APIKey   string
	Producer string // default DefaultProducer
	// Upstream gives an asset's upstream assets (the inputs of its step).
	// It is called from Notify: it must not block.
	Upstream func(asset.Key) []asset.Key
	// QueueSize bounds the events waiting to be sent; Timeout one POST;
	// MaxAttempts the POSTs of one event; MinBackoff and MaxBackoff the
	// waits between them (doubling, with jitter); Drain how long Close
	// keeps sending what is queued.
	QueueSize   int
	Timeout     time.Duration
	MaxAttempts int
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	Drain       time.Duration
	Client      *http.Client
	Log         *slog.Logger
}

// Drop reasons, the reason label of freshet_openlineage_out_dropped_total.
const (
	dropQueueFull = "queue_full" // the queue was full when the event was made
	dropRejected  = "rejected"   // the consumer answered 4xx (other than 408, 429)
	dropGaveUp    = "gave_up"    // MaxAttempts POSTs failed
	dropShutdown  = "shutdown"   // still queued when Close's drain ended
	dropEncode    = "encode"     // the event did not encode (not expected)
)

// Emitter turns run updates into OpenLineage events and sends them.
type Emitter struct {
	opts     Options
	target   string
	b        builder
	queue    chan change
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	log      *slog.Logger
	// ctx bounds every POST; Close cancels it when its drain time is up.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	closed  bool
	runs    map[string]bool  // Freshet runs whose START was queued
	steps   map[stepKey]bool // steps whose START was queued

	sent    prometheus.Counter
	retries prometheus.Counter
	dropped *prometheus.CounterVec
	queued  prometheus.GaugeFunc
}

type stepKey struct {
	run string
	key asset.Key
}

// New returns an Emitter; Start sends what Notify queues.
func New(opts Options) (*Emitter, error) {
	if opts.URL == "" {
		return nil, errors.New("openlineage: the consumer's url is required")
	}
	if opts.Endpoint == "" {
		opts.Endpoint = DefaultEndpoint
	}
	target, err := url.JoinPath(opts.URL, opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("openlineage: url %q and endpoint %q: %w", opts.URL, opts.Endpoint, err)
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.DatasetNamespace == "" {
		opts.DatasetNamespace = "freshet://" + opts.Namespace
	}
	if opts.Producer == "" {
		opts.Producer = DefaultProducer
	}
	if opts.Upstream == nil {
		opts.Upstream = func(asset.Key) []asset.Key { return nil }
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Drain <= 0 {
		opts.Drain = DefaultDrain
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	e := &Emitter{
		opts: opts, target: target, log: opts.Log,
		b:     builder{producer: opts.Producer, namespace: opts.Namespace, datasetNS: opts.DatasetNamespace},
		queue: make(chan change, opts.QueueSize), stop: make(chan struct{}), done: make(chan struct{}),
		runs: map[string]bool{}, steps: map[stepKey]bool{},
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_openlineage_out_sent_total",
			Help: "OpenLineage events of Freshet's runs the consumer accepted."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "freshet_openlineage_out_retries_total",
			Help: "POSTs of OpenLineage events retried after a failure."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "freshet_openlineage_out_dropped_total",
			Help: "OpenLineage events of Freshet's runs never delivered, by reason (queue_full, rejected, gave_up, shutdown, encode)."},
			[]string{"reason"}),
	}
	e.queued = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "freshet_openlineage_out_queued",
		Help: "OpenLineage events waiting to be sent."}, func() float64 { return float64(len(e.queue)) })
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for _, r := range []string{dropQueueFull, dropRejected, dropGaveUp, dropShutdown, dropEncode} {
		e.dropped.WithLabelValues(r)
	}
	return e, nil
}

// Collectors are the emitter's metrics.
func (e *Emitter) Collectors() []prometheus.Collector {
	return []prometheus.Collector{e.sent, e.retries, e.dropped, e.queued}
}

// Notify is runs.Options.Notify's hook: it queues the change an update
// calls for an event for, without blocking (runs call it under their
// lock).
func (e *Emitter) Notify(u runs.Update) {
	var (
		c  change
		ok bool
	)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	switch {
	case u.Run != nil:
		c, ok = e.runChanged(u.Run.ID, executor.RunStatus(u.Run.Status), u.Run.Started, u.Run.Ended, u.Run.Reason)
	case u.Step != nil:
		c, ok = e.stepChanged(u.Step.RunID, u.Step.Asset, executor.StepStatus(u.Step.Status), u.Step.Started, u.Step.Ended, u.Step.Reason)
	}
	e.mu.Unlock()
	if ok {
		e.enqueue(c)
	}
}

// runChanged: the Freshet run's START once it starts, its end once it
// ends (only for a run that started). Callers hold e.mu.
func (e *Emitter) runChanged(id string, status executor.RunStatus, started, ended time.Time, reason string) (change, bool) {
	switch {
	case status == executor.RunStarted && !e.runs[id]:
		e.runs[id] = true
		return change{eventType: Start, run: id, at: orNow(started)}, true
	case status.Done() && e.runs[id]:
		delete(e.runs, id)
		return change{eventType: endType(status == executor.RunSuccess, status == executor.RunCanceled), run: id, at: orNow(ended), reason: reason}, true
	}
	return change{}, false
}

// stepChanged: START at a step's first attempt, its end when it is
// final. Retries of a step are one OpenLineage run. A step that never
// started (skipped, canceled while queued) sends nothing. Callers hold
// e.mu.
func (e *Emitter) stepChanged(run string, key asset.Key, status executor.StepStatus, started, ended time.Time, reason string) (change, bool) {
	k := stepKey{run, key}
	switch {
	case status == executor.StepStarted && !e.steps[k]:
		e.steps[k] = true
		return change{eventType: Start, run: run, step: key, upstream: e.opts.Upstream(key), at: orNow(started)}, true
	case status.Done() && e.steps[k]:
		delete(e.steps, k)
		return change{eventType: endType(status == executor.StepSuccess, status == executor.StepCanceled),
			run: run, step: key, upstream: e.opts.Upstream(key), at: orNow(ended), reason: reason}, true
	}
	return change{}, false
}

func endType(success, canceled bool) string {
	switch {
	case success:
		return Complete
	case canceled:
		return Abort
	}
	return Fail
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// change is what an event is made of; the sender makes and encodes it,
// so that little is done under the runs service's lock.
type change struct {
	eventType, run string
	step           asset.Key // "": the run's own event
	upstream       []asset.Key
	at             time.Time
	reason         string
}

func (e *Emitter) event(c change) RunEvent {
	if c.step == "" {
		return e.b.runEvent(c.eventType, c.run, c.at, c.reason)
	}
	return e.b.stepEvent(c.eventType, c.run, c.step, c.upstream, c.at, c.reason)
}

// enqueue queues c, or drops it when the queue is full.
func (e *Emitter) enqueue(c change) {
	select {
	case e.queue <- c:
	default:
		e.dropped.WithLabelValues(dropQueueFull).Inc()
	}
}

// Start sends queued events until Close.
func (e *Emitter) Start() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started && !e.closed {
		e.started = true
		go e.loop()
	}
}

// Close stops taking events and keeps sending what is queued (one
// attempt each) for up to Options.Drain; then the POST in progress is
// abandoned and the rest is counted as dropped.
func (e *Emitter) Close() {
	e.mu.Lock()
	e.closed = true
	started := e.started
	e.mu.Unlock()
	e.stopOnce.Do(func() { close(e.stop) })
	if !started { // nothing sends: what is queued is dropped
		e.dropped.WithLabelValues(dropShutdown).Add(float64(len(e.queue)))
		e.cancel()
		return
	}
	t := time.AfterFunc(e.opts.Drain, e.cancel)
	<-e.done
	t.Stop()
	e.cancel()
}

func (e *Emitter) loop() {
	defer close(e.done)
	for {
		select {
		case c := <-e.queue:
			e.deliver(c)
		case <-e.stop:
			e.drain()
			return
		}
	}
}

// drain sends what is queued, one attempt each, until Close's time is up.
func (e *Emitter) drain() {
	for {
		select {
		case c := <-e.queue:
			e.deliver(c)
		default:
			return
		}
	}
}

// deliver POSTs body until the consumer takes it, refuses it, or
// MaxAttempts have failed. Once Close is called, an event gets one more
// attempt, without waiting, and none after the drain time.
func (e *Emitter) deliver(c change) {
	ev := e.event(c)
	body, err := ev.Marshal()
	if err != nil {
		e.dropped.WithLabelValues(dropEncode).Inc()
		e.log.Warn("openlineage event did not encode", "err", err)
		return
	}
	wait := e.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		if e.ctx.Err() != nil {
			e.dropped.WithLabelValues(dropShutdown).Inc()
			return
		}
		retry, err := e.post(e.ctx, body)
		if err == nil {
			e.sent.Inc()
			return
		}
		stopping := e.stopping()
		switch {
		case !retry:
			e.dropped.WithLabelValues(dropRejected).Inc()
		case stopping:
			e.dropped.WithLabelValues(dropShutdown).Inc()
		case attempt >= e.opts.MaxAttempts:
			e.dropped.WithLabelValues(dropGaveUp).Inc()
		}
		if !retry || stopping || attempt >= e.opts.MaxAttempts {
			e.log.Warn("openlineage event not delivered", "url", e.target, "attempts", attempt, "err", err)
			return
		}
		e.retries.Inc()
		// Full jitter keeps a consumer that comes back from a herd.
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-t.C:
		case <-e.stop: // no more waiting: one last attempt
			t.Stop()
		}
		wait = min(wait*2, e.opts.MaxBackoff)
	}
}

func (e *Emitter) stopping() bool {
	select {
	case <-e.stop:
		return true
	default:
		return false
	}
}

// post sends one event; retry says whether a later attempt may succeed
// (no answer, 408, 429, 5xx).
func (e *Emitter) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.target, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.opts.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.opts.APIKey)
	}
	resp, err := e.opts.Client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return true, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	default:
		return false, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
}
