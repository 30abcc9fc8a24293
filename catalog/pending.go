package catalog

import "hash/maphash"

// pendingSet maps the ids of acknowledged events not stored yet to where
// each was counted. It holds tens of thousands of ids under load and every
// event goes through it twice, so it is a map that does in one probe what
// a Go map needs two for: claim (insert unless present) and take (remove
// and return). Open addressing with linear probing, backward-shift
// deletion (no tombstones, so the load is exact). A slot holds its hash
// next to its value: under load the set does not fit in the cache, and
// each operation then costs about one miss.
type pendingSet struct {
	seed  maphash.Seed
	slots []pendingSlot // len is a power of two or 0
	n     int
}

type pendingSlot struct {
	hash uint64 // 0: empty
	id   string
	counted
}

// maxLoad is n/len(hashes) above which the table doubles: 3/4 keeps a
// miss's probe within about a cache line of hashes.
const maxLoadNum, maxLoadDen = 3, 4

func newPendingSet() pendingSet { return pendingSet{seed: maphash.MakeSeed()} }

func (s *pendingSet) hash(id string) uint64 {
	if h := maphash.String(s.seed, id); h != 0 {
		return h
	}
	return 1 // 0 marks an empty slot
}

// find returns id's slot, or the empty slot where it would go and false.
func (s *pendingSet) find(id string, h uint64) (int, bool) {
	mask := len(s.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch sl := &s.slots[i]; sl.hash {
		case 0:
			return i, false
		case h:
			if sl.id == id {
				return i, true
			}
		}
	}
}

// claim adds id unless it is present. For a new id it returns the value
// to fill in, valid until the next change to the set; for a present id,
// nil.
func (s *pendingSet) claim(id string) *counted {
	if (s.n+1)*maxLoadDen > len(s.slots)*maxLoadNum {
		s.grow()
	}
	h := s.hash(id)
	i, ok := s.find(id, h)
	if ok {
		return nil
	}
	sl := &s.slots[i]
	sl.hash, sl.id = h, id
	s.n++
	return &sl.counted
}

// take removes id and returns where it was counted, if it was present.
func (s *pendingSet) take(id string) (counted, bool) {
	if s.n == 0 {
		return counted{}, false
	}
	i, ok := s.find(id, s.hash(id))
	if !ok {
		return counted{}, false
	}
	c := s.slots[i].counted
	// Shift back the entries after i that probed past it, so that no
	// lookup stops early at the hole.
	mask := len(s.slots) - 1
	for j := (i + 1) & mask; s.slots[j].hash != 0; j = (j + 1) & mask {
		home := int(s.slots[j].hash) & mask
		// j's entry may move to i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = pendingSlot{} // drop the references
	s.n--
	return c, true
}

// clear empties the set, keeping its room.
func (s *pendingSet) clear() {
	clear(s.slots)
	s.n = 0
}

func (s *pendingSet) len() int { return s.n }

// grow doubles the room (64 slots at first), placing the entries again by
// their stored hashes.
func (s *pendingSet) grow() {
	old := s.slots
	size := max(64, 2*len(old))
	s.slots = make([]pendingSlot, size)
	mask := size - 1
	for k := range old {
		if old[k].hash == 0 {
			continue
		}
		i := int(old[k].hash) & mask
		for s.slots[i].hash != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = old[k]
	}
}
