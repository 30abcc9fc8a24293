package catalog

import "hash/maphash"

// recentIDs remembers the last n event IDs so a client retry that the
// store ignores is not counted twice. It is bounded: an ID replayed after n
// newer events is counted again until the next rebuild from the store,
// whose counts are exact. It keeps 64-bit hashes, not the IDs: a collision
// in a window of n IDs (odds about n²/2⁶⁵) would only skip one count.
type recentIDs struct {
	seed maphash.Seed
	set  map[uint64]struct{}
	ring []uint64
	next int
}

func newRecentIDs(n int) recentIDs {
	return recentIDs{seed: maphash.MakeSeed(), set: make(map[uint64]struct{}, n), ring: make([]uint64, n)}
}

// add records id and reports whether it was new.
func (r *recentIDs) add(id string) bool {
	h := maphash.String(r.seed, id)
	if _, dup := r.set[h]; dup {
		return false
	}
	if len(r.set) == len(r.ring) {
		delete(r.set, r.ring[r.next])
	}
	r.ring[r.next] = h
	r.set[h] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return true
}
