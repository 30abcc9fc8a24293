package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/auth"
)

// Limits on what clients can make the server hold (docs/security.md):
// ingest requests in progress at once, and how fast and how far the
// catalog grows. Each refusal is a 4xx whose JSON error names the limit,
// its flag and the current value. A request waits for room at most a
// second, and before its body is read.

// Defaults for the limits (api.Options and the serve flags).
const (
	// DefaultMaxConcurrentIngest bounds the ingest requests being read,
	// decoded and acknowledged at once.
	DefaultMaxConcurrentIngest = 32
	// DefaultMaxIngestBytes bounds the bodies of those requests together
	// (a body without Content-Length, or compressed, counts as
	// --max-body-bytes). Decoding takes six to eight times a body's size
	// (the events are several times larger than their JSON), so this
	// bounds the memory ingest can take, whatever the number of clients:
	// four bodies of the default 16 MiB limit at once.
	DefaultMaxIngestBytes = 64 << 20
	// DefaultIngestWait is how long an ingest request waits for room
	// before it is refused: enough to absorb a burst, short enough that
	// waiting clients cost next to nothing (they have not sent their
	// bodies yet).
	DefaultIngestWait = time.Second
	// DefaultMaxAssets bounds the catalog (every asset costs memory in
	// the catalog, the lineage index and the freshness monitor).
	DefaultMaxAssets = 250_000
	// DefaultNewAssetsPerMinute bounds how fast events may create assets:
	// a producer that puts a timestamp or an id in its keys is stopped
	// long before the total cap.
	DefaultNewAssetsPerMinute = 10_000
)

// AssetSet tells which keys are assets already (the catalog has it).
type AssetSet interface {
	// Len is the number of assets.
	Len() int
	// Unknown returns the distinct keys, among the events' assets and
	// upstreams, that are not assets yet.
	Unknown(events []asset.Event) []asset.Key
}

// LimitError is the detail of an error that a limit refused: the flag
// that sets it, its value and the current count.
type LimitError struct {
	Name    string `json:"name"` // the serve flag, e.g. max-assets
	Max     int64  `json:"max"`
	Current int64  `json:"current"`
}

// ingestSlots bounds the ingest requests in progress, by count and by the
// size of their bodies (nil: no bound).
type ingestSlots struct {
	count    chan struct{} // nil: no count bound
	bytes    *semaphore.Weighted
	maxBytes int64        // 0: no byte bound
	held     atomic.Int64 // body bytes admitted
	// inProgress counts admitted requests, for the gauge (count may be nil).
	inProgress atomic.Int64
	wait       time.Duration
}

func newIngestSlots(n int, maxBytes int64, wait time.Duration) *ingestSlots {
	if n == 0 {
		n = DefaultMaxConcurrentIngest
	}
	if maxBytes == 0 {
		maxBytes = DefaultMaxIngestBytes
	}
	if n < 0 && maxBytes < 0 {
		return nil
	}
	if wait <= 0 {
		wait = DefaultIngestWait
	}
	l := &ingestSlots{wait: wait}
	if n > 0 {
		l.count = make(chan struct{}, n)
	}
	if maxBytes > 0 {
		l.bytes, l.maxBytes = semaphore.NewWeighted(maxBytes), maxBytes
	}
	return l
}

// limitIngest holds room for each ingest request (POST /events,
// /lineage, /lineage/batch: whatever needs the ingest scope) from before
// its body is read until it is answered. Without room a request waits up
// to the ingest wait, then gets 429 with Retry-After.
func (s *Server) limitIngest() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if s.slots == nil || s.scopeFor(req.Method, req.URL.Path) != auth.ScopeIngest {
				return next(c)
			}
			// What the body can take: its declared size, or the limit
			// when it is chunked or compressed.
			size := s.opts.BodyLimit
			if req.ContentLength >= 0 && req.Header.Get("Content-Encoding") == "" {
				size = min(req.ContentLength, size)
			}
			release, err := s.slots.acquire(req.Context(), size)
			if err != nil {
				return err
			}
			defer release()
			return next(c)
		}
	}
}

func (l *ingestSlots) acquire(ctx context.Context, size int64) (release func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	if l.count != nil {
		select {
		case l.count <- struct{}{}:
		case <-ctx.Done():
			return nil, l.busy("max-concurrent-ingest", int64(cap(l.count)), int64(len(l.count)),
				fmt.Sprintf("%d ingest requests are in progress, the most this server takes at once (--max-concurrent-ingest): retry in a moment", cap(l.count)))
		}
	}
	size = min(max(size, 1), l.maxBytes)
	if l.bytes != nil {
		if err := l.bytes.Acquire(ctx, size); err != nil {
			if l.count != nil {
				<-l.count
			}
			return nil, l.busy("max-ingest-bytes", l.maxBytes, l.held.Load(),
				fmt.Sprintf("ingest requests holding %d MiB of bodies are in progress; this server reads at most %d MiB at once (--max-ingest-bytes): retry in a moment, or send smaller batches",
					l.held.Load()>>20, l.maxBytes>>20))
		}
		l.held.Add(size)
	}
	l.inProgress.Add(1)
	return func() {
		l.inProgress.Add(-1)
		if l.bytes != nil {
			l.held.Add(-size)
			l.bytes.Release(size)
		}
		if l.count != nil {
			<-l.count
		}
	}, nil
}

// collectors are the limits' gauges: how close the server is to them.
func (s *Server) limitCollectors() []prometheus.Collector {
	var out []prometheus.Collector
	if l := s.slots; l != nil {
		out = append(out,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "freshet_ingest_requests_in_progress",
				Help: "Ingest requests being read, decoded or acknowledged (--max-concurrent-ingest bounds them)."},
				func() float64 { return float64(l.inProgress.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "freshet_ingest_body_bytes_in_progress",
				Help: "Body bytes those requests hold room for (--max-ingest-bytes bounds them)."},
				func() float64 { return float64(l.held.Load()) }))
	}
	if set := s.deps.Assets; set != nil {
		out = append(out, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "freshet_assets",
			Help: "Assets in the catalog (--max-assets bounds them)."}, func() float64 { return float64(set.Len()) }))
	}
	return out
}

// busy is the refusal of a request that found no room in time.
func (l *ingestSlots) busy(name string, limit, current int64, msg string) error {
	return &Error{Status: http.StatusTooManyRequests, Code: "ingest_busy", RetryAfter: 1,
		Limit: &LimitError{Name: name, Max: limit, Current: current}, Message: msg}
}

// assetGate applies the total asset cap and the rate of new assets to
// ingest and to declared assets, before anything is acknowledged. Events
// for existing assets always pass.
type assetGate struct {
	set    AssetSet
	max    int     // total; 0: none
	perMin float64 // new assets a minute; 0: none
	now    func() time.Time

	mu       sync.Mutex
	reserved int // new assets of requests admitted and not yet in the catalog
	tokens   float64
	last     time.Time
}

func newAssetGate(set AssetSet, maxAssets, perMinute int, now func() time.Time) *assetGate {
	if set == nil {
		return nil
	}
	if maxAssets == 0 {
		maxAssets = DefaultMaxAssets
	}
	if perMinute == 0 {
		perMinute = DefaultNewAssetsPerMinute
	}
	g := &assetGate{set: set, max: max(maxAssets, 0), perMin: float64(max(perMinute, 0)), now: now}
	if g.max == 0 && g.perMin == 0 {
		return nil
	}
	g.tokens, g.last = g.perMin, now()
	return g
}

// admit reserves room for the new assets among keys; release gives the
// reservation back once they are in the catalog (or were refused later:
// then failed says so and the rate is not charged).
func (g *assetGate) admit(newKeys []asset.Key) (release func(failed bool), err error) {
	n := len(newKeys)
	if g == nil || n == 0 {
		return func(bool) {}, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.max > 0 {
		have := g.set.Len() + g.reserved
		if have+n > g.max {
			return nil, &Error{Status: http.StatusForbidden, Code: "asset_limit", Field: "asset",
				Limit: &LimitError{Name: "max-assets", Max: int64(g.max), Current: int64(have)},
				Message: fmt.Sprintf("the catalog holds %d assets and takes at most %d (--max-assets); this request would add %d new ones, such as %q. Events for existing assets are still accepted",
					have, g.max, n, newKeys[0])}
		}
	}
	if g.perMin > 0 {
		now := g.now()
		g.tokens = math.Min(g.perMin, g.tokens+now.Sub(g.last).Minutes()*g.perMin)
		g.last = now
		if float64(n) > g.tokens {
			retry := 60
			msg := fmt.Sprintf("this request adds %d new assets, such as %q, more than the %d a minute this server takes (--max-new-assets-per-minute): split it", n, newKeys[0], int(g.perMin))
			if float64(n) <= g.perMin {
				retry = int(math.Ceil((float64(n) - g.tokens) / g.perMin * 60))
				msg = fmt.Sprintf("this request adds %d new assets, such as %q; at most %d a minute may be added (--max-new-assets-per-minute) and %d may be now: retry in %ds. Events for existing assets are still accepted",
					n, newKeys[0], int(g.perMin), int(g.tokens), retry)
			}
			return nil, &Error{Status: http.StatusTooManyRequests, Code: "asset_rate_limit", Field: "asset", RetryAfter: max(retry, 1),
				Limit:   &LimitError{Name: "max-new-assets-per-minute", Max: int64(g.perMin), Current: int64(g.perMin - g.tokens)},
				Message: msg}
		}
		g.tokens -= float64(n)
	}
	g.reserved += n
	return func(failed bool) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.reserved -= n
		if failed && g.perMin > 0 {
			g.tokens = math.Min(g.perMin, g.tokens+float64(n))
		}
	}, nil
}

// gatedIngester puts the asset limits in front of the ingester.
type gatedIngester struct {
	Ingester
	gate *assetGate
}

func (g gatedIngester) Submit(ctx context.Context, events []asset.Event) error {
	release, err := g.gate.admit(g.gate.set.Unknown(events))
	if err != nil {
		return err
	}
	err = g.Ingester.Submit(ctx, events)
	release(err != nil)
	return err
}

// SubmitStored is Submit for ?wait=stored, behind the same asset limits.
func (g gatedIngester) SubmitStored(ctx context.Context, events []asset.Event, wait time.Duration) (bool, error) {
	si, ok := g.Ingester.(StoredIngester)
	if !ok {
		return false, errCannotWait
	}
	release, err := g.gate.admit(g.gate.set.Unknown(events))
	if err != nil {
		return false, err
	}
	stored, err := si.SubmitStored(ctx, events, wait)
	release(err != nil)
	return stored, err
}

// gatedDeclare puts the asset limits in front of declaring an asset (an
// SLA set on a key nothing has reported).
func gatedDeclare(gate *assetGate, declare func(context.Context, asset.Key) error) func(context.Context, asset.Key) error {
	return func(ctx context.Context, key asset.Key) error {
		release, err := gate.admit(gate.set.Unknown([]asset.Event{{Asset: key}}))
		if err != nil {
			return err
		}
		err = declare(ctx, key)
		release(err != nil)
		return err
	}
}
