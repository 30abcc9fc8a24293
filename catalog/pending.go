package catalog

import "hash/maphash"

// pendingSet maps the ids of acknowledged events not stored yet to where
// each was counted. Under load it holds tens of thousands of ids, every
// event goes through it twice, and it was the catalog's largest cost as a
// Go map: two operations each time (a claim is a lookup then an insert; a
// take, a lookup then a delete), each missing the cache.
//
// Here the records sit in a log in claim order, and an open-addressing
// table of 8-byte entries (a fingerprint of the id's hash and the record's
// sequence number) finds them: the table stays small enough for the
// cache, a new id rarely reads a record, and the writer stores batches
// in about the order they were acknowledged, so taking walks the log
// forward. Claim and take are one probe each. The log is a window
// buf[head:tail] of a buffer used again and again; taken records leave
// its front as it drains, and one left behind (stored before it was
// claimed, say) makes it compact itself once it is mostly dead.
type pendingSet struct {
	seed       maphash.Seed
	table      []uint64 // fp<<32 | seq; 0 is empty; len is a power of two or 0
	buf        []pendingRec
	head, tail int    // the log is buf[head:tail]
	base       uint32 // sequence number of buf[0]
	n          int    // live records
}

type pendingRec struct {
	id string
	counted
	fp   uint32
	live bool
}

// The table doubles above half full: a miss then rarely probes past one
// cache line.
const minTable, minCompact = 64, 1024

func newPendingSet() pendingSet { return pendingSet{seed: maphash.MakeSeed()} }

// fingerprint of id: the low bits choose the home slot, the rest tell
// most ids apart without reading their records. The top bit is set so
// that no entry is 0.
func (s *pendingSet) fingerprint(id string) uint32 {
	return uint32(maphash.String(s.seed, id)) | 1<<31
}

// find returns id's table slot, or the empty slot where it would go.
func (s *pendingSet) find(id string, fp uint32) (slot int, found bool) {
	mask := len(s.table) - 1
	for i := int(fp) & mask; ; i = (i + 1) & mask {
		e := s.table[i]
		if e == 0 {
			return i, false
		}
		if uint32(e>>32) == fp && s.buf[uint32(e)-s.base].id == id {
			return i, true
		}
	}
}

// claim adds id unless it is present. For a new id it returns the value
// to fill in, valid until the next change to the set; for a present id,
// nil.
func (s *pendingSet) claim(id string) *counted {
	if 2*(s.n+1) > len(s.table) {
		s.rebuild(max(minTable, 2*len(s.table)))
	}
	fp := s.fingerprint(id)
	i, found := s.find(id, fp)
	if found {
		return nil
	}
	if s.tail == len(s.buf) {
		s.makeRoom()
	}
	s.table[i] = uint64(fp)<<32 | uint64(s.base+uint32(s.tail))
	r := &s.buf[s.tail]
	*r = pendingRec{id: id, fp: fp, live: true}
	s.tail++
	s.n++
	return &r.counted
}

// take removes id and returns where it was counted, if it was present.
func (s *pendingSet) take(id string) (counted, bool) {
	if s.n == 0 {
		return counted{}, false
	}
	var i int
	if r := &s.buf[s.head]; r.id == id {
		// The oldest record, as the writer usually takes them: its entry
		// is found by value, with no hashing and no id compared.
		e := uint64(r.fp)<<32 | uint64(s.base+uint32(s.head))
		mask := len(s.table) - 1
		for i = int(r.fp) & mask; s.table[i] != e; i = (i + 1) & mask {
		}
	} else {
		var found bool
		if i, found = s.find(id, s.fingerprint(id)); !found {
			return counted{}, false
		}
	}
	r := &s.buf[uint32(s.table[i])-s.base]
	c := r.counted
	*r = pendingRec{} // dead, and holding no references
	s.n--
	s.remove(i)
	for s.head < s.tail && !s.buf[s.head].live {
		s.head++
	}
	if s.head == s.tail { // empty: start again at the buffer's start
		s.base += uint32(s.tail)
		s.head, s.tail = 0, 0
	} else if s.tail-s.head > minCompact && s.tail-s.head > 4*s.n {
		s.compact()
	}
	return c, true
}

// remove empties table slot i, shifting back the entries after it that
// probed past it so that no lookup stops early at the hole.
func (s *pendingSet) remove(i int) {
	mask := len(s.table) - 1
	for j := (i + 1) & mask; s.table[j] != 0; j = (j + 1) & mask {
		home := int(uint32(s.table[j]>>32)) & mask
		// j's entry may move to i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			s.table[i] = s.table[j]
			i = j
		}
	}
	s.table[i] = 0
}

// clear empties the set, keeping its room.
func (s *pendingSet) clear() {
	clear(s.table)
	clear(s.buf[s.head:s.tail])
	s.base += uint32(s.tail)
	s.head, s.tail, s.n = 0, 0, 0
}

func (s *pendingSet) len() int { return s.n }

// makeRoom frees the end of buf for a record: the log moves to the
// buffer's start if half of it is free, else to a buffer twice as large.
// Sequence numbers do not change: base follows the move.
func (s *pendingSet) makeRoom() {
	dst := s.buf
	if s.head == 0 || s.head < len(s.buf)/2 {
		dst = make([]pendingRec, max(minCompact, 2*len(s.buf)))
	}
	n := copy(dst, s.buf[s.head:s.tail])
	clear(dst[n:s.tail]) // moved or dead: hold no references
	s.buf, s.base = dst, s.base+uint32(s.head)
	s.head, s.tail = 0, n
}

// compact moves the live records to the log's front, in order, and
// renumbers their table entries.
func (s *pendingSet) compact() {
	mask := len(s.table) - 1
	k := s.head
	for j := s.head; j < s.tail; j++ {
		r := s.buf[j]
		if !r.live {
			continue
		}
		old := uint64(r.fp)<<32 | uint64(s.base+uint32(j))
		i := int(r.fp) & mask
		for s.table[i] != old {
			i = (i + 1) & mask
		}
		s.table[i] = uint64(r.fp)<<32 | uint64(s.base+uint32(k))
		s.buf[k] = r
		k++
	}
	clear(s.buf[k:s.tail])
	s.tail = k
}

// rebuild indexes the live records in a new table of the given size.
func (s *pendingSet) rebuild(size int) {
	s.table = make([]uint64, size)
	mask := size - 1
	for j := s.head; j < s.tail; j++ {
		r := &s.buf[j]
		if !r.live {
			continue
		}
		i := int(r.fp) & mask
		for s.table[i] != 0 {
			i = (i + 1) & mask
		}
		s.table[i] = uint64(r.fp)<<32 | uint64(s.base+uint32(j))
	}
}
