package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

const checkpointFile = "confirmed"

// Open opens or creates the log in dir, checks every record, cuts a torn
// tail and starts a new segment for appends. Records appended before and
// not yet confirmed are there to Replay.
func Open(dir string, opts Options, log *slog.Logger) (*Log, error) {
	opts.defaults()
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create wal dir: %w", err)
	}
	l := &Log{dir: dir, opts: opts, log: log, oldest: map[uint64]recordInfo{}, tornAt: -1}
	l.synced = sync.NewCond(&l.mu)
	confirmed, err := readCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names) // zero-padded names sort by first seq
	l.lastSeq = confirmed
	for i, path := range names {
		seg, err := l.scan(path, i == len(names)-1, log)
		if err != nil {
			return nil, err
		}
		if seg == nil {
			continue
		}
		l.segs = append(l.segs, seg)
		l.bytes += seg.size
	}
	l.confirmed = min(confirmed, l.lastSeq)
	l.syncedSeq = l.lastSeq
	for seq, r := range l.oldest {
		if seq <= l.confirmed {
			delete(l.oldest, seq)
		} else {
			l.pending += r.size
		}
	}
	// What the last run wrote may not have reached the disk (it was never
	// acknowledged then), and a torn tail was just cut: make both durable
	// before appending after them, so they cannot tear later.
	if len(l.segs) > 0 && !opts.NoSync {
		if err := syncFile(l.segs[len(l.segs)-1].path); err != nil {
			return nil, err
		}
	}
	if err := l.newSegment(l.lastSeq + 1); err != nil {
		return nil, err
	}
	if err := l.dropConfirmed(); err != nil {
		return nil, err
	}
	if n := l.lastSeq - l.confirmed; n > 0 {
		log.Info("write-ahead log has records to replay", "dir", dir, "records", n, "from", l.confirmed+1)
	}
	return l, nil
}

// scan validates one segment and records its unconfirmed records' times.
// An empty segment is removed and nil returned.
func (l *Log) scan(path string, last bool, log *slog.Logger) (*segment, error) {
	first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".wal"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: unexpected file %s", ErrCorrupt, path)
	}
	// Check the segment's place in the sequence by its name, before
	// reading or cutting it: a missing segment is noticed even when the
	// next one holds only a torn record (and is about to be removed), and
	// a refused log is left as it was. Before the first segment kept,
	// lastSeq is the checkpoint, and older (confirmed) segments may linger.
	if first > l.lastSeq+1 || len(l.segs) > 0 && first != l.lastSeq+1 {
		return nil, fmt.Errorf("%w: %s starts at record %d, but the records before it end at %d: a segment is missing",
			ErrCorrupt, path, first, l.lastSeq)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	seg := &segment{path: path, firstSeq: first, lastSeq: first - 1}
	for off := 0; off < len(data); {
		rec, n, err := decode(data[off:])
		if err == nil && rec.Seq != seg.lastSeq+1 {
			err = fmt.Errorf("record %d where %d was expected", rec.Seq, seg.lastSeq+1)
		}
		if err != nil {
			if !last || validRecordAfter(data, off, seg.lastSeq+1) {
				return nil, fmt.Errorf("%w: %s at byte %d: %v", ErrCorrupt, path, off, err)
			}
			// A crash mid-write: this record was never acknowledged (its
			// fsync had not returned), so cutting it loses nothing.
			log.Warn("write-ahead log: cutting a torn record at the tail", "segment", path, "offset", off, "err", err)
			if err := os.Truncate(path, int64(off)); err != nil {
				return nil, fmt.Errorf("truncate torn tail of %s: %w", path, err)
			}
			break
		}
		seg.lastSeq = rec.Seq
		seg.size = int64(off + n)
		l.oldest[rec.Seq] = recordInfo{nanos: rec.Nanos, size: int64(n), off: int64(off)}
		off += n
	}
	if seg.size == 0 {
		if err := os.Remove(path); err != nil {
			return nil, err
		}
		return nil, nil
	}
	l.lastSeq = seg.lastSeq
	return seg, nil
}

// validRecordAfter reports whether an intact record numbered seq or later
// starts anywhere after off: then the damage at off is in the middle of
// acknowledged data (corruption), not a tail that a crash left half
// written. Only offsets whose seq field is plausible are checksummed, so
// the search stays linear.
func validRecordAfter(data []byte, off int, seq uint64) bool {
	for p := off + 1; p+headerSize <= len(data); p++ {
		if s := le.Uint64(data[p+8 : p+16]); s < seq || s > seq+1<<20 {
			continue
		}
		if rec, _, err := decode(data[p:]); err == nil && rec.Seq >= seq {
			return true
		}
	}
	return false
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func readCheckpoint(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: checkpoint %q", ErrCorrupt, b)
	}
	return n, nil
}

// writeCheckpoint records the confirmed seq durably (temp file, fsync,
// rename, directory fsync), because segments are deleted on its word.
func (l *Log) writeCheckpoint() error {
	tmp := filepath.Join(l.dir, checkpointFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatUint(l.confirmed, 10) + "\n")
	if err == nil && !l.opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, checkpointFile)); err != nil {
		return err
	}
	if l.opts.NoSync {
		return nil
	}
	return syncDir(l.dir)
}

// Replay calls fn for every durable record with seq >= from, in order,
// reading from disk. fn's payload is only valid during the call. A non-nil
// error from fn stops the replay and is returned.
func (l *Log) Replay(from uint64, fn func(Record) error) error {
	l.mu.Lock()
	type view struct {
		path  string
		start int64 // where reading begins: from's offset in its segment, else 0
		size  int64
	}
	var segs []view
	durable := l.syncedSeq
	for _, s := range l.segs {
		if s.lastSeq >= from && s.lastSeq >= s.firstSeq {
			v := view{s.path, 0, s.size}
			// Stop at the last durable record: what follows may be rolled
			// back (cut from the file) by a failed sync while we read.
			if r, ok := l.oldest[durable+1]; ok && durable+1 >= s.firstSeq && durable < s.lastSeq {
				v.size = r.off
			}
			if r, ok := l.oldest[from]; ok && from >= s.firstSeq && from <= s.lastSeq {
				v.start = r.off // skip what precedes from: a large backlog is read once, not per batch
			}
			if v.start < v.size {
				segs = append(segs, v)
			}
		}
	}
	l.mu.Unlock()
	for _, s := range segs {
		f, err := os.Open(s.path)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		data := make([]byte, s.size-s.start)
		_, err = f.ReadAt(data, s.start)
		f.Close()
		if err != nil {
			return fmt.Errorf("replay %s: %w", s.path, err)
		}
		for off := 0; off < len(data); {
			rec, n, err := decode(data[off:])
			if err != nil {
				return fmt.Errorf("%w: replay %s at byte %d: %v", ErrCorrupt, s.path, off, err)
			}
			off += n
			if rec.Seq < from {
				continue
			}
			if rec.Seq > durable {
				return nil
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
	}
	return nil
}
