package wal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// WriteError is returned by Append when the disk refused a write or an
// fsync (full, over a file size limit, failing): the record was not
// acknowledged and is not in the log. It carries no path, so it can be
// shown to clients; the log keeps trying (see Retry).
type WriteError struct {
	Op  string // write, fsync, rotate, repair
	Err error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("the write-ahead log cannot write (%s: %v); retry later", e.Op, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// RetryAfter tells an HTTP layer what to put in Retry-After.
func (*WriteError) RetryAfter() time.Duration { return 5 * time.Second }

// probeBytes is how much Probe writes: about a large batch's record, so a
// disk that takes the probe takes ordinary appends.
const probeBytes = 64 << 10

// fail records a write failure and returns what the appender sees. Paths
// are dropped from the error (it reaches clients and /readyz); the log
// names the directory once, when failures begin.
func (l *Log) fail(op string, err error) *WriteError {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	we := &WriteError{Op: op, Err: err}
	if l.failure == nil && l.log != nil {
		l.log.Error("write-ahead log write failed; refusing events with 503 until the disk accepts writes again",
			"dir", l.dir, "op", op, "err", err)
	}
	if l.failingSince.IsZero() {
		l.failingSince = time.Now()
	}
	l.failure = we
	return we
}

// recovered clears the failure once a write and its fsync went through.
func (l *Log) recovered() {
	if l.failure == nil || l.tornAt >= 0 || l.cur == nil {
		return
	}
	if l.log != nil {
		l.log.Warn("write-ahead log writes again", "failed_for", time.Since(l.failingSince).Round(time.Millisecond))
	}
	l.failure, l.failingSince = nil, time.Time{}
}

// cut truncates the current segment to off after a failed write; if even
// that fails, heal retries it before the next append.
func (l *Log) cut(off int64) {
	if err := l.cur.Truncate(off); err != nil {
		l.tornAt = off
	}
}

// heal undoes what a failure left: a partial record at the tail, or no
// open segment after a failed rotation. Called with mu held.
func (l *Log) heal() error {
	if l.cur == nil {
		if err := l.newSegment(l.lastSeq + 1); err != nil {
			return err
		}
	}
	if l.tornAt >= 0 {
		if err := l.cur.Truncate(l.tornAt); err != nil {
			return err
		}
		l.tornAt = -1
	}
	return nil
}

// rollback forgets every record not yet durable after a failed fsync:
// their appenders get an error (gen changes), the file is cut back to the
// last durable record and their seqs are reused. Called with mu held and
// no sync running.
func (l *Log) rollback() {
	l.gen++
	if l.lastSeq == l.syncedSeq {
		return
	}
	s := l.segs[len(l.segs)-1] // earlier segments were synced before rotation
	off := int64(0)
	if r, ok := l.oldest[l.syncedSeq+1]; ok && l.syncedSeq+1 >= s.firstSeq {
		off = r.off
	}
	for seq := l.syncedSeq + 1; seq <= l.lastSeq; seq++ {
		l.pending -= l.oldest[seq].size
		delete(l.oldest, seq)
	}
	l.bytes -= s.size - off
	s.size, s.lastSeq = off, l.syncedSeq
	l.lastSeq = l.syncedSeq
	if l.cur != nil {
		l.cut(off)
	}
}

// Probe checks whether the disk takes writes again while the log is
// failing: it repairs what the failure left, then writes, syncs and cuts
// back probeBytes at the tail of the current segment, where the next
// record goes (a file size limit or a full disk refuse it there).
func (l *Log) Probe() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.syncing {
		l.synced.Wait()
	}
	if l.failure == nil || l.closed {
		return nil
	}
	if err := l.heal(); err != nil {
		return l.fail("repair", err)
	}
	off := l.segs[len(l.segs)-1].size
	if _, err := l.cur.Write(make([]byte, probeBytes)); err != nil {
		l.cut(off)
		return l.fail("write", err)
	}
	err := l.cur.Sync()
	l.cut(off)
	if err != nil {
		return l.fail("fsync", err)
	}
	if l.tornAt >= 0 {
		return l.fail("repair", errors.New("cannot cut the probe back"))
	}
	if err := l.cur.Sync(); err != nil {
		return l.fail("fsync", err)
	}
	l.recovered()
	return nil
}

// Retry probes the disk every interval while the log is failing, so it
// recovers by itself even when no client sends anything (a load balancer
// stops sending once /readyz fails). It returns when ctx ends.
func (l *Log) Retry(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if l.Err() != nil {
			l.Probe() // the outcome is in Err
		}
	}
}

// Err reports why the log cannot write, nil while it is healthy. The
// error names no path.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failure == nil {
		return nil
	}
	return l.failure
}

// FailingFor is how long the log has been failing without one successful
// write (0 when healthy).
func (l *Log) FailingFor() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failure == nil {
		return 0
	}
	return time.Since(l.failingSince)
}
