package wal

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// tornPayloads are the records every torn-tail case writes before the
// crash; the last one is the record being written when it came. Their
// lengths differ, so a cut at the wrong record boundary shows.
var tornPayloads = []string{"first", "the second record", "third, a little longer than the second", "fourth and last: the one the crash tears"}

// tornLayouts: the torn record shares its segment with intact records (the
// cut is inside the file), or is alone in it (the cut empties the file).
var tornLayouts = []struct {
	name      string
	opts      Options
	perRecord bool // every record in its own segment
}{
	{"one segment", Options{}, false},
	{"a segment per record", Options{SegmentBytes: 1}, true},
}

// tornTails are what a crash can leave where the last record should be,
// one for each way open.go's scan can fail on a tail: a header cut short
// in each of its fields, a payload cut short, a length that points past
// the end or over MaxRecord or short of the payload, a checksum mismatch,
// an intact record with the wrong seq, zeros and garbage. Each returns the
// bytes that replace rec, the intact last record.
var tornTails = []struct {
	name string
	tail func(rec []byte) []byte
}{
	{"zeros where the record was", func(rec []byte) []byte { return make([]byte, len(rec)) }},
	{"a page of zeros", func(rec []byte) []byte { return make([]byte, 4096) }},
	{"header cut in the length", func(rec []byte) []byte { return rec[:3] }},
	{"header cut in the crc", func(rec []byte) []byte { return rec[:6] }},
	{"header cut in the seq", func(rec []byte) []byte { return rec[:13] }},
	{"header cut in the time", func(rec []byte) []byte { return rec[:20] }},
	{"header without its payload", func(rec []byte) []byte { return rec[:headerSize] }},
	{"payload cut in half", func(rec []byte) []byte { return rec[:headerSize+(len(rec)-headerSize)/2] }},
	{"payload one byte short", func(rec []byte) []byte { return rec[:len(rec)-1] }},
	{"part of the record then zeros", func(rec []byte) []byte { return append(slices.Clip(rec[:headerSize+3]), make([]byte, 512)...) }},
	{"length past the end", func(rec []byte) []byte { return withLength(rec, uint32(len(rec))+1000) }},
	{"length over MaxRecord", func(rec []byte) []byte { return withLength(rec, 0xffffffff) }},
	{"length short of the payload", func(rec []byte) []byte { return withLength(rec, uint32(len(rec)-headerSize-5)) }},
	{"crc garbled", func(rec []byte) []byte { return flipped(rec, 5) }},
	{"payload garbled", func(rec []byte) []byte { return flipped(rec, len(rec)-1) }},
	{"time garbled", func(rec []byte) []byte { return flipped(rec, 17) }},
	{"intact record with a later seq", func(rec []byte) []byte {
		return encode(uint64(len(tornPayloads)+1), 1, rec[headerSize:])
	}},
	{"intact record repeating the previous seq", func(rec []byte) []byte {
		return encode(uint64(len(tornPayloads)-1), 1, rec[headerSize:])
	}},
	{"garbage", func(rec []byte) []byte {
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, len(rec)+7)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}},
}

func withLength(rec []byte, n uint32) []byte {
	b := slices.Clone(rec)
	le.PutUint32(b[0:4], n)
	return b
}

func flipped(rec []byte, off int) []byte {
	b := slices.Clone(rec)
	b[off] ^= 0x5a
	return b
}

// TestTornTailSurvivesRestarts: a torn last record is cut on Open, the
// file ends at the last intact record, and the log keeps working across
// two more restarts, with appends after the cut. Without the cut the
// first Open would pass but the second would find the torn bytes in a
// segment that is no longer the last and refuse the log as corrupt.
func TestTornTailSurvivesRestarts(t *testing.T) {
	t.Parallel()
	n := uint64(len(tornPayloads))
	intactPayloads := tornPayloads[:n-1]
	for _, layout := range tornLayouts {
		for _, tc := range tornTails {
			t.Run(layout.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				path, intact := writeLog(t, dir, layout.opts, layout.perRecord)
				kept := readFile(t, path)[:intact]
				tearLastRecord(t, path, intact, tc.tail)

				// First restart: the torn record goes, the file is cut to
				// the end of the last intact record.
				l := open(t, dir, layout.opts)
				checkLog(t, l, n-1, intactPayloads)
				if got := readFile(t, path); int64(len(got)) != intact {
					t.Errorf("after the first Open %s is %d bytes, want %d (the end of record %d): the torn tail was not cut",
						filepath.Base(path), len(got), intact, n-1)
				} else if !bytes.Equal(got, kept) {
					t.Errorf("after the first Open the intact records in %s changed", filepath.Base(path))
				}
				mustClose(t, l)

				// Second restart: the cut segment is no longer the last one.
				l = open(t, dir, layout.opts)
				checkLog(t, l, n-1, intactPayloads)
				for i, p := range []string{"after-1", "after-2"} {
					seq, err := l.Append([]byte(p))
					if err != nil {
						t.Fatalf("append %q after the second Open: %v", p, err)
					}
					if want := n + uint64(i); seq != want {
						t.Errorf("append %q after the second Open: seq %d, want %d (the torn record's seq is reused)", p, seq, want)
					}
				}
				mustClose(t, l)

				// Third: everything intact and appended is there, in order.
				l = open(t, dir, layout.opts)
				checkLog(t, l, n+1, append(slices.Clone(intactPayloads), "after-1", "after-2"))
				mustClose(t, l)
			})
		}
	}
}

// TestDamageBeforeIntactDataIsCorruption: damage followed by an intact
// record, or in a segment that is not the last, is not a torn tail. Open
// refuses the log and cuts nothing, so a second Open refuses it too and
// an operator can still recover the bytes.
func TestDamageBeforeIntactDataIsCorruption(t *testing.T) {
	t.Parallel()
	n := len(tornPayloads)
	// The second-to-last record's offset in the one-segment layout.
	var prev int64
	for _, p := range tornPayloads[:n-2] {
		prev += int64(headerSize + len(p))
	}
	prevLen := headerSize + len(tornPayloads[n-2])
	tests := []struct {
		name      string
		perRecord bool
		damage    func(t *testing.T, dir string)
	}{
		{"record garbled, an intact one after", false, func(t *testing.T, dir string) {
			rewrite(t, segments(t, dir)[0], prev+headerSize+2, []byte{'#'})
		}},
		{"length past the end, an intact one after", false, func(t *testing.T, dir string) {
			rewrite(t, segments(t, dir)[0], prev, le.AppendUint32(nil, 1<<20))
		}},
		{"record zeroed, an intact one after", false, func(t *testing.T, dir string) {
			rewrite(t, segments(t, dir)[0], prev, make([]byte, prevLen))
		}},
		{"torn record in a segment that is not the last", true, func(t *testing.T, dir string) {
			segs := segments(t, dir)
			cut(t, segs[len(segs)-2], headerSize+1)
		}},
		{"garbled record in a segment that is not the last", true, func(t *testing.T, dir string) {
			segs := segments(t, dir)
			rewrite(t, segs[len(segs)-2], headerSize+1, []byte{'#'})
		}},
		// Found by review: the torn last segment used to be removed before
		// the gap was noticed, and record 3 was lost without a word.
		{"a missing segment before a torn last one", true, func(t *testing.T, dir string) {
			segs := segments(t, dir)
			if err := os.Remove(segs[len(segs)-2]); err != nil {
				t.Fatal(err)
			}
			cut(t, segs[len(segs)-1], 10)
		}},
		{"a missing segment before an intact last one", true, func(t *testing.T, dir string) {
			segs := segments(t, dir)
			if err := os.Remove(segs[len(segs)-2]); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := Options{}
			if tt.perRecord {
				opts.SegmentBytes = 1
			}
			writeLog(t, dir, opts, tt.perRecord)
			tt.damage(t, dir)
			before := dirContents(t, dir)
			for i := range 2 {
				l, err := Open(dir, opts, quiet)
				if err == nil {
					l.Close()
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open %d = %v, want ErrCorrupt", i+1, err)
				}
				if after := dirContents(t, dir); !maps.EqualFunc(before, after, bytes.Equal) {
					t.Fatalf("Open %d refused the log but changed its files: %v -> %v", i+1, sizes(before), sizes(after))
				}
			}
		})
	}
}

// writeLog appends tornPayloads to a new log in dir and closes it. It
// returns the newest segment and the offset where its last record starts,
// both checked against the record format rather than taken from the code
// under test.
func writeLog(t *testing.T, dir string, opts Options, perRecord bool) (path string, lastOff int64) {
	t.Helper()
	l := open(t, dir, opts)
	for i, p := range tornPayloads {
		seq, err := l.Append([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("append %d: seq %d", i, seq)
		}
	}
	mustClose(t, l)
	segs := segments(t, dir)
	if want := map[bool]int{false: 1, true: len(tornPayloads)}[perRecord]; len(segs) != want {
		t.Fatalf("%d segments, want %d: %v", len(segs), want, segs)
	}
	path = segs[len(segs)-1]
	if !perRecord {
		for _, p := range tornPayloads[:len(tornPayloads)-1] {
			lastOff += int64(headerSize + len(p))
		}
	}
	data := readFile(t, path)
	last := tornPayloads[len(tornPayloads)-1]
	if int64(len(data)) != lastOff+int64(headerSize+len(last)) {
		t.Fatalf("%s is %d bytes, want %d + %d", path, len(data), lastOff, headerSize+len(last))
	}
	rec := data[lastOff:]
	if le.Uint32(rec[0:4]) != uint32(len(last)) || le.Uint64(rec[8:16]) != uint64(len(tornPayloads)) || string(rec[headerSize:]) != last {
		t.Fatalf("the last record is not at byte %d of %s: % x", lastOff, path, rec)
	}
	return path, lastOff
}

// tearLastRecord replaces the bytes of path from off (the last record) with
// what tail makes of them, as a crash in the middle of writing that record
// would, and checks that the file now holds exactly the bytes before off
// and then the tail, and that the tail is not the record it replaced.
func tearLastRecord(t *testing.T, path string, off int64, tail func(rec []byte) []byte) {
	t.Helper()
	orig := readFile(t, path)
	rec := slices.Clone(orig[off:])
	torn := tail(slices.Clone(rec))
	if bytes.Equal(torn, rec) || len(torn) == 0 {
		t.Fatalf("the damage leaves the last record as it was (%d bytes)", len(torn))
	}
	cut(t, path, off)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(torn); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(orig[:off]), torn...)
	if got := readFile(t, path); !bytes.Equal(got, want) {
		t.Fatalf("%s after the damage: %d bytes, want %d", path, len(got), len(want))
	}
}

// cut truncates path to size, checking it was longer.
func cut(t *testing.T, path string, size int64) {
	t.Helper()
	before := int64(len(readFile(t, path)))
	if before < size {
		t.Fatalf("cut %s to %d bytes: it has only %d", path, size, before)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	if after := int64(len(readFile(t, path))); after != size {
		t.Fatalf("cut %s to %d bytes: it has %d", path, size, after)
	}
}

// rewrite overwrites path at off with b and checks the bytes changed.
func rewrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	orig := readFile(t, path)
	if off+int64(len(b)) > int64(len(orig)) {
		t.Fatalf("rewrite %s at %d: it has only %d bytes", path, off, len(orig))
	}
	if bytes.Equal(orig[off:off+int64(len(b))], b) {
		t.Fatalf("rewrite %s at %d: the bytes are already % x", path, off, b)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(orig)
	copy(want[off:], b)
	if got := readFile(t, path); !bytes.Equal(got, want) {
		t.Fatalf("rewrite %s at %d: the file does not hold the new bytes", path, off)
	}
}

func mustClose(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// checkLog checks the log holds exactly want, seqs 1 to lastSeq, none
// confirmed.
func checkLog(t *testing.T, l *Log, lastSeq uint64, want []string) {
	t.Helper()
	if st := l.Stats(); st.LastSeq != lastSeq || st.Records != lastSeq || st.ConfirmedTo != 0 {
		t.Errorf("stats = %+v, want LastSeq and Records %d", st, lastSeq)
	}
	var got []string
	next := uint64(1)
	err := l.Replay(1, func(r Record) error {
		if r.Seq != next {
			return fmt.Errorf("replayed seq %d, want %d", r.Seq, next)
		}
		next++
		got = append(got, string(r.Payload))
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("replayed %q, want %q", got, want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dirContents maps each file name in dir to its bytes.
func dirContents(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range entries {
		m[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	return m
}

func sizes(m map[string][]byte) map[string]int {
	s := map[string]int{}
	for k, v := range m {
		s[k] = len(v)
	}
	return s
}
