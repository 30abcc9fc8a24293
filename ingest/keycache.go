package ingest

import (
	"io"
	"sync"
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
	return &Decoder{keys: &keyCache{keys: make(map[string]asset.Key), max: DefaultKeyCacheSize}}
}

// Decode is DecodeMax with the shared key cache.
func (dec *Decoder) Decode(r io.Reader, contentType string, now time.Time, newID func() string, maxEvents int) ([]asset.Event, error) {
	return decodeMax(r, contentType, now, newID, maxEvents, dec.keys)
}

// keyCache holds keys ParseKey accepted, each as the one string every
// event that names it shares. Read far more than written: an RWMutex.
type keyCache struct {
	mu   sync.RWMutex
	keys map[string]asset.Key
	max  int
}

func (c *keyCache) get(s string) (asset.Key, bool) {
	c.mu.RLock()
	k, ok := c.keys[s]
	c.mu.RUnlock()
	return k, ok
}

// getBytes is get without converting b to a string.
func (c *keyCache) getBytes(b []byte) (asset.Key, bool) {
	c.mu.RLock()
	k, ok := c.keys[string(b)]
	c.mu.RUnlock()
	return k, ok
}

func (c *keyCache) add(k asset.Key) {
	c.mu.Lock()
	if len(c.keys) < c.max {
		c.keys[string(k)] = k
	}
	c.mu.Unlock()
}
