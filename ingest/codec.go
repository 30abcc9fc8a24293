package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// The write-ahead log stores each acknowledged batch in this compact
// binary form rather than JSON: encoding is on the acknowledgement path,
// and JSON cost several times more CPU than everything else Submit does.
//
//	batch  = version(1) uvarint(count) event*
//	event  = str(id) str(kind) str(asset) varint(time ns) str(run_id) str(partition)
//	         flag [varint(data_time ns)] uvarint(n) str(upstream)*
//	         uvarint(n) (str(name) type value)* flag [str(name) bool str(severity)]
//	str    = uvarint(len) bytes
const codecVersion = 1

var errCodec = errors.New("malformed batch record")

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// encodeBatch appends the batch's encoding to b.
func encodeBatch(b []byte, events []asset.Event) []byte {
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(len(events)))
	for i := range events {
		e := &events[i]
		b = appendStr(b, e.ID)
		b = appendStr(b, string(e.Kind))
		b = appendStr(b, string(e.Asset))
		b = binary.AppendVarint(b, e.Time.UnixNano())
		b = appendStr(b, e.RunID)
		b = appendStr(b, e.Partition)
		b = appendBool(b, e.DataTime != nil)
		if e.DataTime != nil {
			b = binary.AppendVarint(b, e.DataTime.UnixNano())
		}
		b = binary.AppendUvarint(b, uint64(len(e.Upstream)))
		for _, u := range e.Upstream {
			b = appendStr(b, string(u))
		}
		b = binary.AppendUvarint(b, uint64(len(e.Metadata)))
		for name, v := range e.Metadata {
			b = appendStr(b, name)
			b = append(b, byte(v.Type))
			switch v.Type {
			case asset.MetaInt:
				b = binary.AppendVarint(b, v.Int)
			case asset.MetaFloat:
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float))
			case asset.MetaBool:
				b = appendBool(b, v.Bool)
			default:
				b = appendStr(b, v.Text)
			}
		}
		b = appendBool(b, e.Check != nil)
		if e.Check != nil {
			b = appendStr(b, e.Check.Name)
			b = appendBool(b, e.Check.Passed)
			b = appendStr(b, string(e.Check.Severity))
		}
	}
	return b
}

// reader decodes with bounds checks: a record passed its CRC, but a bug or
// a version mismatch must give an error, never a panic.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCodec
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCodec
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errCodec
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errCodec
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a length and checks it against what the bytes could hold
// (each item takes at least one byte), so garbage cannot ask for a huge
// allocation.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCodec
		return 0
	}
	return int(n)
}

// decodeBatch reverses encodeBatch.
func decodeBatch(b []byte) ([]asset.Event, error) {
	r := &reader{b: b}
	if v := r.byte(); v != codecVersion {
		return nil, fmt.Errorf("%w: version %d", errCodec, v)
	}
	events := make([]asset.Event, r.count())
	for i := range events {
		e := &events[i]
		e.ID, e.Kind, e.Asset = r.str(), asset.Kind(r.str()), asset.Key(r.str())
		e.Time = time.Unix(0, r.varint()).UTC()
		e.RunID, e.Partition = r.str(), r.str()
		if r.byte() == 1 {
			dt := time.Unix(0, r.varint()).UTC()
			e.DataTime = &dt
		}
		if n := r.count(); n > 0 {
			e.Upstream = make([]asset.Key, n)
			for j := range e.Upstream {
				e.Upstream[j] = asset.Key(r.str())
			}
		}
		if n := r.count(); n > 0 {
			e.Metadata = make(asset.Metadata, n)
			for j := 0; j < n && r.err == nil; j++ {
				name := r.str()
				v := asset.MetaValue{Type: asset.MetaType(r.byte())}
				switch v.Type {
				case asset.MetaInt:
					v.Int = r.varint()
				case asset.MetaFloat:
					if len(r.b) < 8 {
						r.err = errCodec
						break
					}
					v.Float = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
					r.b = r.b[8:]
				case asset.MetaBool:
					v.Bool = r.byte() == 1
				case asset.MetaText, asset.MetaURL, asset.MetaJSON:
					v.Text = r.str()
				default:
					r.err = errCodec
				}
				e.Metadata[name] = v
			}
		}
		if r.byte() == 1 {
			e.Check = &asset.CheckResult{Name: r.str(), Passed: r.byte() == 1, Severity: asset.Severity(r.str())}
		}
		if r.err != nil {
			return nil, fmt.Errorf("event %d: %w", i, r.err)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCodec, len(r.b))
	}
	return events, nil
}
