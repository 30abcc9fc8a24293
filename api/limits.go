package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/auth"
)

// Limits on what clients can make the server hold (docs/security.md):
// ingest requests in progress at once, and how fast and how far the
// catalog grows. Each refusal is a 4xx whose JSON error names the limit,
// its flag and the current value; nothing waits in an unbounded queue.

// Defaults for the limits (api.Options and the serve flags).
const (
	// DefaultMaxConcurrentIngest bounds the ingest requests being read,
	// decoded and acknowledged at once. Each may hold its body (up to
	// --max-body-bytes) and its decoded events, so this bounds the memory
	// ingest can take, whatever the number of clients.
	DefaultMaxConcurrentIngest = 8
	// DefaultIngestWait is how long an ingest request waits for a free
	// slot before it is refused: enough to absorb a burst of small
	// requests, short enough that waiting clients cost next to nothing.
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

// ingestSlots bounds the ingest requests in progress (nil: no bound).
type ingestSlots struct {
	slots chan struct{}
	wait  time.Duration
}

func newIngestSlots(n int, wait time.Duration) *ingestSlots {
	if n < 0 {
		return nil
	}
	if n == 0 {
		n = DefaultMaxConcurrentIngest
	}
	if wait <= 0 {
		wait = DefaultIngestWait
	}
	return &ingestSlots{slots: make(chan struct{}, n), wait: wait}
}

// limitIngest holds a slot for each ingest request (POST /events,
// /lineage, /lineage/batch: whatever needs the ingest scope) from before
// its body is read until it is answered. Beyond the bound a request waits
// up to the ingest wait for a slot, then gets 429 with Retry-After.
func (s *Server) limitIngest() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if s.slots == nil || s.scopeFor(req.Method, req.URL.Path) != auth.ScopeIngest {
				return next(c)
			}
			release, err := s.slots.acquire(req.Context())
			if err != nil {
				return err
			}
			defer release()
			return next(c)
		}
	}
}

func (l *ingestSlots) acquire(ctx context.Context) (release func(), err error) {
	free := func() { <-l.slots }
	select {
	case l.slots <- struct{}{}:
		return free, nil
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return free, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	n := int64(cap(l.slots))
	return nil, &Error{Status: http.StatusTooManyRequests, Code: "ingest_busy", RetryAfter: 1,
		Limit:   &LimitError{Name: "max-concurrent-ingest", Max: n, Current: n},
		Message: fmt.Sprintf("%d ingest requests are in progress, the most this server takes at once (--max-concurrent-ingest): retry in a moment", n)}
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
