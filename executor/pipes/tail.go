package pipes

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"time"
)

// Polling bounds for Tail: it reads again after minPoll when it last found
// data, and backs off to maxPoll while the file stays quiet. Reads that
// find nothing cost one system call, and a message shows up in the logs at
// most maxPoll after it was written.
const (
	minPoll = 5 * time.Millisecond
	maxPoll = 100 * time.Millisecond
)

// Tail reads the file at path as a writer appends lines to it and calls fn
// with each line (without its newline; the slice is only valid during the
// call), in order, from Tail's goroutine. When done is closed (the writer
// has exited) it reads what the file holds at that moment, delivers a last
// line even without its newline, and returns nil. Canceling ctx returns at once with ctx's error.
//
// A line longer than MaxLineBytes is delivered cut to MaxLineBytes, once;
// the rest of it is skipped. A file that shrinks (truncated by the writer)
// is read again from its start.
func Tail(ctx context.Context, path string, done <-chan struct{}, fn func(line []byte)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	t := tailer{fn: fn}
	buf := make([]byte, 64<<10)
	var (
		off   int64 // read so far
		limit int64 = -1
		timer *time.Timer
	)
	wait := minPoll
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b := buf
		if limit >= 0 {
			// Draining: what the file held when done was closed, and no
			// more (a process that escaped the step may still write).
			b = buf[:min(int64(len(buf)), max(limit-off, 0))]
		}
		n, err := 0, error(nil)
		if len(b) > 0 {
			n, err = f.Read(b)
		}
		if n > 0 {
			off += int64(n)
			t.feed(b[:n])
			wait = minPoll
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if limit >= 0 {
			t.flush()
			return nil
		}
		if shrunk(f) {
			off = 0
			t.reset()
			continue
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			limit = math.MaxInt64
			if fi, err := f.Stat(); err == nil {
				limit = fi.Size()
			}
		case <-timer.C:
			wait = min(2*wait, maxPoll)
		}
	}
}

// shrunk reports whether f's file is now shorter than f's offset, and if
// so rewinds f.
func shrunk(f *os.File) bool {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() >= off {
		return false
	}
	_, err = f.Seek(0, io.SeekStart)
	return err == nil
}

// tailer splits bytes into lines, bounded by MaxLineBytes.
type tailer struct {
	fn      func([]byte)
	partial []byte
	skip    bool // inside a line already delivered cut short
}

func (t *tailer) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.add(b)
			return
		}
		t.add(b[:i])
		t.end()
		b = b[i+1:]
	}
}

func (t *tailer) add(b []byte) {
	if t.skip {
		return
	}
	if room := MaxLineBytes - len(t.partial); len(b) > room {
		t.partial = append(t.partial, b[:room]...)
		t.deliver()
		t.skip = true
		return
	}
	t.partial = append(t.partial, b...)
}

func (t *tailer) end() {
	if !t.skip {
		t.deliver()
	}
	t.skip = false
}

func (t *tailer) deliver() {
	line := bytes.TrimSuffix(t.partial, []byte("\r"))
	if len(bytes.TrimSpace(line)) > 0 {
		t.fn(line)
	}
	t.partial = t.partial[:0]
}

// flush delivers a last line without its newline.
func (t *tailer) flush() {
	if !t.skip && len(t.partial) > 0 {
		t.deliver()
	}
	t.skip = false
}

func (t *tailer) reset() {
	t.partial = t.partial[:0]
	t.skip = false
}
