package ingest

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// Decoder decodes requests like DecodeMax, with one cache of valid asset
// keys shared by all of them. A request names many assets once each (a
// batch of 1,000 events over 10,000 assets repeats few), so a cache per
// request misses on nearly every key, and validating a key (Unicode
// checks, NFC) cost more than decoding the rest of its event. Safe for
// concurrent use; the zero value caches nothing across requests.
type Decoder struct {
	keys *keyCache
}

// DefaultKeyCacheSize bounds the keys a Decoder remembers: about 10 MB at
// 100-byte keys. Beyond it, new keys are validated on every request.
const DefaultKeyCacheSize = 100_000

// NewDecoder returns a Decoder that remembers up to DefaultKeyCacheSize keys.
func NewDecoder() *Decoder {
	return &Decoder{keys: newKeyCache(DefaultKeyCacheSize)}
}

// Decode is DecodeMax with the shared key cache. size is the body's
// length when known (Content-Length), else -1: the body is then read into
// one buffer of that size rather than a growing one.
func (dec *Decoder) Decode(r io.Reader, size int64, contentType string, now time.Time, newID func() string, maxEvents int) ([]asset.Event, error) {
	body, err := readBody(r, size)
	if err != nil {
		return nil, err // the body could not be read (e.g. too large)
	}
	return decodeBody(body, contentType, now, newID, maxEvents, dec.keys)
}

// maxPresized bounds the buffer a declared size reserves up front.
const maxPresized = 64 << 20

// readBody reads r to its end, into a buffer of size bytes when size is
// known and reasonable.
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > maxPresized {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, size+1) // +1: the read that finds EOF needs room
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) { // longer than declared: grow as ReadAll would
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// keyCache holds keys ParseKey accepted, each as the one string every
// event that names it shares. It is read for every key of every event by
// concurrent requests and written rarely (a key new to the server), so
// reads take no lock: they go to an immutable map behind an atomic
// pointer. New keys go to a small map under a mutex, which a miss also
// checks, and which is folded into a new immutable map once it holds a
// quarter as many keys: each key is copied a bounded number of times.
// (An RWMutex around one map cost a cache-line transfer per lookup on a
// busy server: as much CPU as decoding the rest of the event.)
type keyCache struct {
	frozen atomic.Pointer[map[string]asset.Key]
	mu     sync.Mutex
	recent map[string]asset.Key // guarded by mu; not in frozen yet
	max    int
}

func newKeyCache(max int) *keyCache {
	c := &keyCache{recent: make(map[string]asset.Key), max: max}
	c.frozen.Store(&map[string]asset.Key{})
	return c
}

func (c *keyCache) get(s string) (asset.Key, bool) {
	if k, ok := (*c.frozen.Load())[s]; ok {
		return k, true
	}
	c.mu.Lock()
	k, ok := c.recent[s]
	c.mu.Unlock()
	return k, ok
}

// getBytes is get without converting b to a string.
func (c *keyCache) getBytes(b []byte) (asset.Key, bool) {
	if k, ok := (*c.frozen.Load())[string(b)]; ok {
		return k, true
	}
	c.mu.Lock()
	k, ok := c.recent[string(b)]
	c.mu.Unlock()
	return k, ok
}

func (c *keyCache) add(k asset.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	frozen := *c.frozen.Load()
	if len(frozen)+len(c.recent) >= c.max {
		return
	}
	c.recent[string(k)] = k
	if len(c.recent) < max(64, len(frozen)/4) {
		return
	}
	next := make(map[string]asset.Key, len(frozen)+len(c.recent))
	for s, k := range frozen {
		next[s] = k
	}
	for s, k := range c.recent {
		next[s] = k
	}
	c.frozen.Store(&next)
	c.recent = make(map[string]asset.Key)
}
