package wal

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// withFileSizeLimit lowers this process's RLIMIT_FSIZE to limit bytes per
// file and returns the function that lifts it. Go ignores SIGXFSZ, so a
// write beyond the limit fails with EFBIG. The tests using it are not
// parallel: they run alone, before the parallel ones resume.
func withFileSizeLimit(t *testing.T, limit uint64) (lift func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lowered := old
	lowered.Cur = limit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lowered); err != nil {
		t.Fatal(err)
	}
	lifted := false
	lift = func() {
		if !lifted {
			lifted = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(lift)
	return lift
}

// TestWriteFailureRecovers: appends over a file size limit fail with a
// retryable *WriteError naming no path, leave no partial record, keep
// failing (and Probe with them) until the limit is lifted; then the log
// writes again by itself, with sequence numbers that continue, and every
// acknowledged record replays, also after a reopen.
func TestWriteFailureRecovers(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var acked []string
	add := func(payload string) error {
		_, err := l.Append([]byte(payload))
		if err == nil {
			acked = append(acked, payload)
		}
		return err
	}
	for i := range 10 {
		if err := add(fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	seg := l.segs[len(l.segs)-1].path
	before := fileSize(t, seg)

	lift := withFileSizeLimit(t, uint64(before)+100)
	big := strings.Repeat("x", 1000)
	for i := range 3 {
		err := add(big)
		var we *WriteError
		if !errors.As(err, &we) || !errors.Is(err, syscall.EFBIG) {
			t.Fatalf("append %d over the limit = %v, want a *WriteError wrapping EFBIG", i, err)
		}
		if strings.Contains(err.Error(), dir) {
			t.Errorf("the error names the directory: %v", err)
		}
	}
	if got := fileSize(t, seg); got != before {
		t.Errorf("segment is %d bytes after failed appends, want %d: a partial record stayed", got, before)
	}
	if l.Err() == nil || l.FailingFor() <= 0 {
		t.Errorf("Err = %v, FailingFor = %v while failing", l.Err(), l.FailingFor())
	}
	if err := l.Probe(); err == nil {
		t.Error("Probe succeeded under the limit")
	}
	if err := add("small"); err != nil { // still fits: a working write is a working write
		t.Fatalf("a record within the limit: %v", err)
	}
	if err := add(big); err == nil {
		t.Fatal("a record beyond the limit was acknowledged")
	}

	lift()
	if err := l.Probe(); err != nil {
		t.Fatalf("Probe after the limit was lifted: %v", err)
	}
	if l.Err() != nil || l.FailingFor() != 0 {
		t.Errorf("Err = %v, FailingFor = %v after recovery", l.Err(), l.FailingFor())
	}
	for i := range 5 {
		if err := add(fmt.Sprintf("after-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := l.Stats(); st.LastSeq != uint64(len(acked)) {
		t.Errorf("last seq %d after %d acknowledged records: failed appends used up numbers", st.LastSeq, len(acked))
	}
	if got := replayed(t, l, 1); !equal(got, acked) {
		t.Errorf("replay = %d records, want the %d acknowledged", len(got), len(acked))
	}
	l.Close()
	l2 := open(t, dir, Options{})
	if got := replayed(t, l2, 1); !equal(got, acked) {
		t.Errorf("replay after reopen = %d records, want the %d acknowledged", len(got), len(acked))
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestWriteFailureConcurrent: eight appenders share group commits while
// the segment reaches a file size limit mid-run; afterwards the log holds
// exactly the records that were acknowledged, in order, with no gap and
// nothing unacknowledged, before and after a reopen.
func TestWriteFailureConcurrent(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lift := withFileSizeLimit(t, 256<<10)
	var (
		mu     sync.Mutex
		acked  = map[uint64]string{}
		failed int
		wg     sync.WaitGroup
	)
	pad := strings.Repeat("p", 400)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				payload := fmt.Sprintf("w%d-%d-%s", w, i, pad)
				seq, err := l.Append([]byte(payload))
				mu.Lock()
				if err == nil {
					if prev, dup := acked[seq]; dup {
						t.Errorf("seq %d acknowledged twice: %.10s and %.10s", seq, prev, payload)
					}
					acked[seq] = payload
				} else {
					var we *WriteError
					if !errors.As(err, &we) {
						t.Errorf("append: %v, want a *WriteError", err)
					}
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed == 0 || len(acked) == 0 {
		t.Fatalf("%d acknowledged, %d failed: the limit should have cut the run in two", len(acked), failed)
	}
	lift()
	if err := l.Probe(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("after")); err != nil {
		t.Fatal(err)
	}
	want := make([]string, 0, len(acked)+1)
	for seq := uint64(1); seq <= uint64(len(acked)); seq++ {
		p, ok := acked[seq]
		if !ok {
			t.Fatalf("seq %d is missing among %d acknowledged records: failed appends left a gap", seq, len(acked))
		}
		want = append(want, p)
	}
	want = append(want, "after")
	if got := replayed(t, l, 1); !equal(got, want) {
		t.Errorf("replay = %d records, want the %d acknowledged", len(got), len(want))
	}
	l.Close()
	if got := replayed(t, open(t, dir, Options{}), 1); !equal(got, want) {
		t.Errorf("replay after reopen = %d records, want the %d acknowledged", len(got), len(want))
	}
	t.Logf("%d acknowledged, %d refused under the limit", len(acked), failed)
}
