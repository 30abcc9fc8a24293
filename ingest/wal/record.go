package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

var le = binary.LittleEndian

// MaxRecord bounds one record's payload; a larger length in a header is
// treated as damage, not as a reason to allocate gigabytes.
const MaxRecord = 256 << 20

// encode builds a record; the seq is filled in by putSeq under the lock.
func encode(seq uint64, nanos int64, payload []byte) []byte {
	rec := make([]byte, headerSize+len(payload))
	le.PutUint32(rec[0:4], uint32(len(payload)))
	le.PutUint64(rec[16:24], uint64(nanos))
	copy(rec[headerSize:], payload)
	putSeq(rec, seq)
	return rec
}

// putSeq sets the sequence number and recomputes the CRC.
func putSeq(rec []byte, seq uint64) {
	le.PutUint64(rec[8:16], seq)
	le.PutUint32(rec[4:8], crc32.Checksum(rec[8:], crcTable))
}

// Record is one decoded record.
type Record struct {
	Seq     uint64
	Nanos   int64
	Payload []byte
}

// errTorn means the bytes end before the record does.
type errTorn struct{ need, have int }

func (e errTorn) Error() string {
	return fmt.Sprintf("record needs %d bytes, %d remain", e.need, e.have)
}

// errChecksum: the record is complete but its bytes are not what was written.
var errChecksum = errors.New("checksum mismatch")

// decode reads the record at the start of b and returns its total size
// (also with errChecksum, so a caller can tell whether it was the last).
func decode(b []byte) (Record, int, error) {
	if len(b) < headerSize {
		return Record{}, 0, errTorn{headerSize, len(b)}
	}
	n := le.Uint32(b[0:4])
	if n > MaxRecord {
		return Record{}, 0, fmt.Errorf("record length %d exceeds the %d limit", n, MaxRecord)
	}
	total := headerSize + int(n)
	if len(b) < total {
		return Record{}, 0, errTorn{total, len(b)}
	}
	if crc32.Checksum(b[8:total], crcTable) != le.Uint32(b[4:8]) {
		return Record{}, total, errChecksum
	}
	return Record{Seq: le.Uint64(b[8:16]), Nanos: int64(le.Uint64(b[16:24])), Payload: b[headerSize:total]}, total, nil
}
