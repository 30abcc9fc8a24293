package ingest

import (
	"hash/maphash"
	"io"
	"math/bits"
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
	keys   *keyCache
	bodies sync.Pool // *[]byte: request bodies, reused (no event keeps a byte of one)
}

// DefaultKeyCacheSize bounds the keys a Decoder remembers: about 19 MB at
// 100-byte keys (the keys, and up to 4/3 of a 64-byte table slot each).
// Beyond it, new keys are validated on every request.
const DefaultKeyCacheSize = 100_000

// NewDecoder returns a Decoder that remembers up to DefaultKeyCacheSize keys.
func NewDecoder() *Decoder {
	return &Decoder{keys: newKeyCache(DefaultKeyCacheSize)}
}

// Decode is DecodeMax with the shared key cache. size is the body's
// length when known (Content-Length), else -1: the body is then read into
// one buffer of that size rather than a growing one.
func (dec *Decoder) Decode(r io.Reader, size int64, contentType string, now time.Time, newID func() string, maxEvents int) ([]asset.Event, error) {
	var buf []byte
	if p, ok := dec.bodies.Get().(*[]byte); ok {
		buf = *p
	}
	body, err := readBody(buf, r, size)
	if err != nil {
		return nil, err // the body could not be read (e.g. too large)
	}
	// Every string of the events is a copy (or a cached key), never a
	// slice of the body: it can take the next request. Reusing it saves
	// allocating and zeroing a buffer as large as the request.
	defer func() {
		if cap(body) <= maxPooledBody {
			body = body[:0]
			dec.bodies.Put(&body)
		}
	}()
	return decodeBody(body, contentType, now, newID, maxEvents, dec.keys)
}

// maxPooledBody: larger bodies are left to the garbage collector.
const maxPooledBody = 4 << 20

// maxPresized bounds the buffer a declared size reserves up front.
const maxPresized = 64 << 20

// readBody reads r to its end, into a buffer of size bytes when size is
// known and reasonable: buf when it has room.
func readBody(buf []byte, r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > maxPresized {
		return io.ReadAll(r)
	}
	if int64(cap(buf)) < size+1 { // +1: the read that finds EOF needs room
		buf = make([]byte, 0, size+1)
	}
	buf = buf[:0]
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
// reads take no lock: they go to an immutable table behind an atomic
// pointer. New keys go to a small map under a mutex, which a miss also
// checks, and which is folded into a new immutable table once it holds a
// quarter as many keys (each key is copied a bounded number of times), or
// once lookups have found keys in it as many times as the fold copies
// keys (else up to a fifth of the keys would take the lock on every
// lookup for as long as no new keys come).
// (An RWMutex around one map cost a cache-line transfer per lookup on a
// busy server: as much CPU as decoding the rest of the event.)
type keyCache struct {
	seed   maphash.Seed // random per cache: clients choose the keys
	frozen atomic.Pointer[keyTable]
	mu     sync.Mutex
	recent map[string]asset.Key // guarded by mu; not in frozen yet
	hits   int                  // guarded by mu; lookups recent answered since the last fold
	max    int
}

// keyTable is an open-addressing hash table of keys whose slots are a
// cache line each: a key's hash, the key, and its first bytes, so that a
// lookup of a key of up to keyInline bytes reads one line (two when it
// probes past its first slot). With 10,000 assets the table is larger
// than the CPU's cache, and a Go map read three lines (control word,
// slot, key bytes): those reads were most of the time a lookup took.
type keyTable struct {
	slots []keySlot // at most 3/4 full; key "" is empty
	n     int
}

const keyInline = 40

type keySlot struct {
	key    asset.Key
	hash   uint64
	inline [keyInline]byte // key's first bytes
}

func newKeyCache(max int) *keyCache {
	c := &keyCache{seed: maphash.MakeSeed(), recent: make(map[string]asset.Key), max: max}
	c.frozen.Store(&keyTable{slots: make([]keySlot, 1)})
	return c
}

func newKeyTable(n int) *keyTable {
	// At most 3/4 full: short probes, and always an empty slot to end one.
	return &keyTable{slots: make([]keySlot, max(1, n*4/3+1))}
}

// home is the slot where a probe for hash h starts.
func (t *keyTable) home(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(t.slots))) // h scaled to [0, len)
	return int(hi)
}

// find returns the key in t that spells k (k's hash h), without
// converting k.
func find[T string | []byte](t *keyTable, h uint64, k T) (asset.Key, bool) {
	for i := t.home(h); ; { // linear probing
		s := &t.slots[i]
		if s.key == "" {
			return "", false
		}
		if s.hash == h && len(s.key) == len(k) {
			n := min(len(k), keyInline)
			if string(s.inline[:n]) == string(k[:n]) && string(s.key[n:]) == string(k[n:]) {
				return s.key, true
			}
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// insert puts a key that is not in t into a slot of t, which has room.
func (t *keyTable) insert(h uint64, k asset.Key) {
	i := t.home(h)
	for t.slots[i].key != "" {
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	s := &t.slots[i]
	s.key, s.hash = k, h
	copy(s.inline[:], k)
	t.n++
}

func (c *keyCache) get(s string) (asset.Key, bool) {
	if k, ok := find(c.frozen.Load(), maphash.String(c.seed, s), s); ok {
		return k, true
	}
	return c.getRecent(s)
}

// getBytes is get without converting b to a string.
func (c *keyCache) getBytes(b []byte) (asset.Key, bool) {
	if k, ok := find(c.frozen.Load(), maphash.Bytes(c.seed, b), b); ok {
		return k, true
	}
	return c.getRecent(string(b)) // a lookup's conversion does not allocate
}

func (c *keyCache) getRecent(s string) (asset.Key, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.recent[s]
	if ok {
		if c.hits++; c.hits >= c.frozen.Load().n+len(c.recent) {
			c.fold()
		}
	}
	return k, ok
}

func (c *keyCache) add(k asset.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	frozen := c.frozen.Load()
	if frozen.n+len(c.recent) >= c.max || k == "" {
		return
	}
	c.recent[string(k)] = k
	if len(c.recent) >= max(64, frozen.n/4) {
		c.fold()
	}
}

// fold moves the recent keys into a new frozen table. c.mu must be held.
func (c *keyCache) fold() {
	frozen := c.frozen.Load()
	next := newKeyTable(frozen.n + len(c.recent))
	for _, s := range frozen.slots {
		if s.key != "" {
			next.insert(s.hash, s.key)
		}
	}
	for _, k := range c.recent {
		if _, ok := find(next, maphash.String(c.seed, string(k)), string(k)); !ok {
			next.insert(maphash.String(c.seed, string(k)), k)
		}
	}
	c.frozen.Store(next)
	c.recent = make(map[string]asset.Key)
	c.hits = 0
}
