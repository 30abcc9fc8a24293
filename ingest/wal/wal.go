// Package wal is Freshet's write-ahead log: an event batch is acknowledged
// only once it is on local disk, and stays there until the event store has
// confirmed it.
//
// The log is a directory of segment files. A record is
//
//	length uint32 | crc32c uint32 | seq uint64 | unix-nanos int64 | payload
//
// (little endian; the CRC covers seq, time and payload). Appends from many
// goroutines share fsyncs (group commit): the first waiter becomes the
// leader and syncs everything written so far, the others wait for it.
// Confirm releases records; whole segments are deleted once every record
// in them is confirmed. On Open, a torn record at the tail of the last
// segment (a crash mid-write) is cut off; a bad record anywhere else is
// corruption and Open fails rather than skip data.
//
// A write or fsync that fails (disk full, file size limit, I/O error) is
// not the end of the log: the records it may have lost were never
// acknowledged, so they are rolled back (cut from the file and forgotten)
// and their appenders get a *WriteError (retry later). Appends try again
// at once; while none succeeds, Retry probes the disk until it works again
// (failure.go).
package wal

import (
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const headerSize = 24

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrFull is returned by Append when the log holds MaxBytes of unconfirmed
// records: the caller should ask its client to retry later (HTTP 503).
var ErrFull = &fullError{}

type fullError struct{}

func (*fullError) Error() string {
	return "write-ahead log is full: the event store is behind or down; retry later"
}

// RetryAfter tells an HTTP layer what to put in Retry-After.
func (*fullError) RetryAfter() time.Duration { return 5 * time.Second }

// ErrCorrupt is wrapped by Open when a record other than the last is bad.
var ErrCorrupt = errors.New("write-ahead log is corrupt")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("write-ahead log is closed")

// Options tune the log. Zero values take the defaults.
type Options struct {
	// MaxBytes bounds the unconfirmed data on disk (default 1 GiB).
	MaxBytes int64
	// SegmentBytes is the size at which a new segment starts (default 64 MiB).
	SegmentBytes int64
	// NoSync skips fsync: only for benchmarks that measure everything else.
	NoSync bool
}

func (o *Options) defaults() {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
}

// recordInfo is what the log remembers of an unconfirmed record.
type recordInfo struct {
	nanos int64 // when it was appended (for the oldest-age metric)
	size  int64
	off   int64 // where it starts in its segment
}

type segment struct {
	path     string
	firstSeq uint64 // seq of its first record (its name)
	lastSeq  uint64 // seq of its last record; firstSeq-1 when empty
	size     int64
}

// Log is an open write-ahead log. Safe for concurrent use.
type Log struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	synced    *sync.Cond // broadcast when syncedSeq advances or a sync ends
	segs      []*segment // oldest first; the last is being written
	cur       *os.File
	lastSeq   uint64 // last written
	syncedSeq uint64 // last durable
	syncing   bool
	confirmed uint64
	bytes     int64                 // on disk in live segments
	pending   int64                 // bytes of unconfirmed records: what MaxBytes bounds
	oldest    map[uint64]recordInfo // unconfirmed records, by seq
	closed    bool

	// gen counts rollbacks: an appender whose record was written in an
	// earlier generation lost it (its seq may since have been reused).
	gen uint64
	// tornAt >= 0: the current segment holds a partial record from that
	// offset, which must be cut before anything is appended after it.
	tornAt int64
	// failure is the last write failure, nil once a write succeeds again;
	// failingSince is when the failures began.
	failure      *WriteError
	failingSince time.Time
}

// Stats describe the unconfirmed backlog.
type Stats struct {
	Records     uint64        // appended but not confirmed
	Bytes       int64         // on disk, including confirmed records in live segments
	Pending     int64         // bytes of unconfirmed records (bounded by MaxBytes)
	OldestAge   time.Duration // age of the oldest unconfirmed record (0 if none)
	LastSeq     uint64
	ConfirmedTo uint64
}

func segName(first uint64) string { return fmt.Sprintf("%020d.wal", first) }

// Append writes payload as the next record and returns its sequence number
// once it is durable.
func (l *Log) Append(payload []byte) (uint64, error) {
	if len(payload) > MaxRecord {
		return 0, fmt.Errorf("a %d-byte batch exceeds the write-ahead log's %d-byte record limit: send smaller batches", len(payload), MaxRecord)
	}
	frame := make([]byte, HeaderSize+len(payload))
	copy(frame[HeaderSize:], payload)
	return l.AppendFramed(frame)
}

// HeaderSize is how many bytes a record's header takes before its payload.
const HeaderSize = headerSize

// AppendFramed is Append for a payload built in place after HeaderSize
// reserved bytes of frame, which the log fills in: no copy of the payload.
// The log does not keep frame: the caller may reuse it once this returns.
func (l *Log) AppendFramed(frame []byte) (uint64, error) {
	if len(frame) < HeaderSize {
		return 0, fmt.Errorf("a framed record needs its %d header bytes", HeaderSize)
	}
	if n := len(frame) - HeaderSize; n > MaxRecord {
		return 0, fmt.Errorf("a %d-byte batch exceeds the write-ahead log's %d-byte record limit: send smaller batches", n, MaxRecord)
	}
	rec := frame
	le.PutUint32(rec[0:4], uint32(len(rec)-HeaderSize))
	le.PutUint64(rec[16:24], uint64(time.Now().UnixNano()))
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return 0, err
	}
	// Only unconfirmed records count: confirmed ones are deleted with
	// their segment. A lone record larger than the bound is let in, so
	// one big batch cannot wedge an idle log.
	if l.pending+int64(len(rec)) > l.opts.MaxBytes && l.lastSeq > l.confirmed {
		return 0, ErrFull
	}
	if err := l.rotateIfNeeded(int64(len(rec))); err != nil {
		if errors.Is(err, ErrClosed) {
			return 0, err
		}
		var we *WriteError
		if errors.As(err, &we) {
			return 0, we
		}
		return 0, l.fail("rotate", err)
	}
	seq := l.lastSeq + 1
	putSeq(rec, seq)
	s := l.segs[len(l.segs)-1]
	off := s.size
	if _, err := l.cur.Write(rec); err != nil {
		// Part of the record may be in the file: cut it (or remember to)
		// so that nothing is ever appended after a partial record.
		l.cut(off)
		return 0, l.fail("write", err)
	}
	l.lastSeq = seq
	s.lastSeq, s.size = seq, s.size+int64(len(rec))
	l.bytes += int64(len(rec))
	l.pending += int64(len(rec))
	l.oldest[seq] = recordInfo{nanos: int64(le.Uint64(rec[16:24])), size: int64(len(rec)), off: off}
	return seq, l.waitDurable(seq, l.gen)
}

// waitDurable is the group commit: whoever finds no sync running becomes
// the leader and syncs everything written so far; the rest wait. Called
// with mu held.
func (l *Log) waitDurable(seq, gen uint64) error {
	for {
		// A failed sync rolled this record back: its seq may belong to
		// another record by now, so check the generation first.
		if l.gen != gen {
			if l.failure != nil {
				return l.failure
			}
			return &WriteError{Op: "fsync", Err: errors.New("the record was lost by a failed sync")}
		}
		if l.syncedSeq >= seq {
			return nil
		}
		if l.closed {
			return ErrClosed
		}
		if l.syncing {
			l.synced.Wait()
			continue
		}
		l.syncing = true
		target, f := l.lastSeq, l.cur
		l.mu.Unlock()
		var err error
		if !l.opts.NoSync {
			err = f.Sync()
		}
		l.mu.Lock()
		l.syncing = false
		if err != nil {
			// Linux may drop the pages a failed fsync could not write and
			// let the next fsync succeed: whatever was not durable before
			// is treated as lost.
			l.fail("fsync", err)
			l.rollback()
		} else {
			if target > l.syncedSeq {
				l.syncedSeq = target
			}
			l.recovered()
		}
		l.synced.Broadcast()
	}
}

func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return nil
}

// rotateIfNeeded starts a new segment when the current one is full. The
// old one is synced first, so "synced" always means every earlier segment.
func (l *Log) rotateIfNeeded(next int64) error {
	for l.syncing { // the leader holds l.cur outside the lock
		l.synced.Wait()
	}
	// Decide after waiting: another appender may have rotated meanwhile,
	// or the leader's sync failed.
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.heal(); err != nil {
		return l.fail("repair", err)
	}
	s := l.segs[len(l.segs)-1]
	if s.size == 0 || s.size+next <= l.opts.SegmentBytes {
		return nil
	}
	if !l.opts.NoSync {
		if err := l.cur.Sync(); err != nil {
			werr := l.fail("fsync", err)
			l.rollback()
			l.synced.Broadcast()
			return werr
		}
	}
	l.syncedSeq = l.lastSeq
	err := l.cur.Close()
	l.cur = nil // heal starts the next segment if newSegment fails
	if err != nil {
		return err
	}
	return l.newSegment(l.lastSeq + 1)
}

func (l *Log) newSegment(first uint64) error {
	path := filepath.Join(l.dir, segName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil && !l.opts.NoSync {
		f.Close()
		os.Remove(path) // empty: the next attempt creates it again
		return err
	}
	l.cur = f
	l.segs = append(l.segs, &segment{path: path, firstSeq: first, lastSeq: first - 1})
	return nil
}

// Confirm records that everything up to seq is safely in the store.
// Segments holding only confirmed records are deleted.
func (l *Log) Confirm(seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq > l.lastSeq {
		return fmt.Errorf("confirm %d: only %d records were written", seq, l.lastSeq)
	}
	if seq <= l.confirmed {
		return nil
	}
	for s := l.confirmed + 1; s <= seq; s++ {
		l.pending -= l.oldest[s].size
		delete(l.oldest, s)
	}
	l.confirmed = seq
	// The checkpoint must be durable before any segment goes: a crash in
	// between then leaves segments the checkpoint already covers, which
	// Open accepts, never a checkpoint older than the first segment.
	if err := l.writeCheckpoint(); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return l.dropConfirmed()
}

// dropConfirmed deletes the oldest segments while every record in them is
// confirmed, never the segment being written.
func (l *Log) dropConfirmed() error {
	for len(l.segs) > 1 && l.segs[0].lastSeq <= l.confirmed {
		if err := os.Remove(l.segs[0].path); err != nil {
			return fmt.Errorf("remove confirmed segment: %w", err)
		}
		l.bytes -= l.segs[0].size
		l.segs = l.segs[1:]
	}
	return nil
}

// Stats returns the backlog's size and age.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Stats{Records: l.lastSeq - l.confirmed, Bytes: l.bytes, Pending: l.pending, LastSeq: l.lastSeq, ConfirmedTo: l.confirmed}
	if r, ok := l.oldest[l.confirmed+1]; ok {
		st.OldestAge = time.Since(time.Unix(0, r.nanos))
	}
	return st
}

// Close syncs and closes the current segment.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	for l.syncing {
		l.synced.Wait()
	}
	l.closed = true
	if l.cur == nil {
		l.synced.Broadcast()
		return nil
	}
	if l.tornAt >= 0 {
		l.heal() // best effort: Open cuts a torn tail anyway
	}
	err := l.cur.Sync()
	if err == nil {
		l.syncedSeq = l.lastSeq // appends waiting for a sync got this one
	}
	l.synced.Broadcast()
	if cerr := l.cur.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
