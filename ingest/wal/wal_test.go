package wal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t *testing.T, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := l.Append([]byte(fmt.Sprintf("payload-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

// replayed returns the payloads Replay(from) yields.
func replayed(t *testing.T, l *Log, from uint64) []string {
	t.Helper()
	var out []string
	err := l.Replay(from, func(r Record) error {
		out = append(out, string(r.Payload))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestAppendReplayReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Open(dir, Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 5)
	if got := replayed(t, l, 3); fmt.Sprint(got) != "[payload-2 payload-3 payload-4]" {
		t.Errorf("replay from 3 = %v", got)
	}
	if err := l.Confirm(2); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l = open(t, dir, Options{})
	if st := l.Stats(); st.Records != 3 || st.ConfirmedTo != 2 || st.LastSeq != 5 || st.OldestAge <= 0 {
		t.Errorf("stats after reopen = %+v", st)
	}
	if got := replayed(t, l, 3); len(got) != 3 || got[0] != "payload-2" {
		t.Errorf("unconfirmed after reopen = %v", got)
	}
	seq, err := l.Append([]byte("after"))
	if err != nil || seq != 6 {
		t.Errorf("append after reopen: seq %d err %v; sequence must continue", seq, err)
	}
	if err := l.Confirm(6); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Records != 0 || st.OldestAge != 0 {
		t.Errorf("stats after confirming all = %+v", st)
	}
	if err := l.Confirm(99); err == nil {
		t.Error("confirming beyond the last record should fail")
	}
}

// TestGroupCommit: concurrent appenders all get distinct, durable records.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	l := open(t, t.TempDir(), Options{})
	const writers, per = 8, 100
	var mu sync.Mutex
	var seqs []uint64
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				seq, err := l.Append([]byte(fmt.Sprintf("w%d-%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seqs = append(seqs, seq)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("seqs not 1..%d: %v...", writers*per, seqs[:i+1])
		}
	}
	if got := replayed(t, l, 1); len(got) != writers*per {
		t.Errorf("replayed %d records", len(got))
	}
}

func TestCorruptionIsAnError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"first record garbled", func(t *testing.T, dir string) {
			rewrite(t, segments(t, dir)[0], headerSize+2, []byte{'#'})
		}},
		{"missing segment", func(t *testing.T, dir string) {
			if err := os.Remove(segments(t, dir)[0]); err != nil {
				t.Fatal(err)
			}
		}},
		{"bad checkpoint", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, checkpointFile), []byte("lots"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := open(t, dir, Options{SegmentBytes: 100})
			appendN(t, l, 0, 6) // several small segments
			mustClose(t, l)
			if n := len(segments(t, dir)); n < 2 {
				t.Fatalf("%d segment, want several", n)
			}
			tt.damage(t, dir)
			l, err := Open(dir, Options{}, quiet)
			if err == nil {
				l.Close()
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestSegmentsAreDeletedOnceConfirmed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := open(t, dir, Options{SegmentBytes: 200})
	appendN(t, l, 0, 40)
	before := len(segments(t, dir))
	if before < 5 {
		t.Fatalf("only %d segments; rotation did not happen", before)
	}
	bytesBefore := l.Stats().Bytes
	if err := l.Confirm(30); err != nil {
		t.Fatal(err)
	}
	after := len(segments(t, dir))
	if after >= before || l.Stats().Bytes >= bytesBefore {
		t.Errorf("segments %d -> %d, bytes %d -> %d: confirmed segments should go", before, after, bytesBefore, l.Stats().Bytes)
	}
	if got := replayed(t, l, 31); len(got) != 10 || got[0] != "payload-30" {
		t.Errorf("unconfirmed records after deletion = %v", got)
	}
}

func TestFull(t *testing.T) {
	t.Parallel()
	l := open(t, t.TempDir(), Options{MaxBytes: 300, SegmentBytes: 100})
	var n int
	var err error
	for n = 0; n < 100; n++ {
		if _, err = l.Append([]byte("0123456789012345678901234567890123456789")); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) || n == 0 {
		t.Fatalf("after %d appends err = %v, want ErrFull", n, err)
	}
	if got := replayed(t, l, 1); len(got) != n {
		t.Errorf("a full log must keep what it accepted: %d of %d", len(got), n)
	}
	if err := l.Confirm(uint64(n)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("room again")); err != nil {
		t.Errorf("append after confirming: %v", err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	l := open(t, t.TempDir(), Options{})
	mustClose(t, l)
	if _, err := l.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
}

// TestMaxBytesCountsOnlyUnconfirmed: confirmed records still sitting in
// the live segment do not count against the bound.
func TestMaxBytesCountsOnlyUnconfirmed(t *testing.T) {
	t.Parallel()
	l := open(t, t.TempDir(), Options{MaxBytes: 1000})
	for i := 0; i < 50; i++ {
		seq, err := l.Append([]byte("0123456789012345678901234567890123456789"))
		if err != nil {
			t.Fatalf("append %d with an empty backlog: %v", i, err)
		}
		if err := l.Confirm(seq); err != nil {
			t.Fatal(err)
		}
	}
	if st := l.Stats(); st.Pending != 0 || st.Records != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRecordLimit(t *testing.T) {
	t.Parallel()
	l := open(t, t.TempDir(), Options{})
	if _, err := l.Append(make([]byte, MaxRecord+1)); err == nil {
		t.Error("a record over MaxRecord was accepted; Open would then refuse the log")
	}
	if _, err := l.Append([]byte("fine")); err != nil {
		t.Errorf("the log must stay usable: %v", err)
	}
}

// TestAppendFramed: a payload built after HeaderSize reserved bytes is a
// record like any other, before and after a reopen, and the caller may
// overwrite its buffer once AppendFramed returned.
func TestAppendFramed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := open(t, dir, Options{})
	frame := make([]byte, HeaderSize, 64)
	for i := range 3 {
		frame = append(frame[:HeaderSize], fmt.Sprintf("framed-%d", i)...)
		if _, err := l.AppendFramed(frame); err != nil {
			t.Fatal(err)
		}
		clear(frame) // reused, as the pipeline does
	}
	if _, err := l.AppendFramed(make([]byte, HeaderSize-1)); err == nil {
		t.Error("a frame shorter than the header was accepted")
	}
	want := []string{"framed-0", "framed-1", "framed-2"}
	if got := replayed(t, l, 1); !slices.Equal(got, want) {
		t.Fatalf("replayed %q, want %q", got, want)
	}
	l.Close()
	if got := replayed(t, open(t, dir, Options{}), 1); !slices.Equal(got, want) {
		t.Fatalf("after a reopen replayed %q, want %q", got, want)
	}
}
