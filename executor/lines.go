package executor

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/executor/pipes"
)

// maxLineBytes splits longer lines: one line never holds more memory than
// this, whatever the child writes.
const maxLineBytes = 64 << 10

// readLines delivers r's lines to out until r ends or fails (a closed
// pipe), and feeds tail when it is not nil.
func readLines(r io.Reader, stream Stream, out LineFunc, tail *TailBuffer) {
	br := bufio.NewReaderSize(r, maxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			text := string(bytes.TrimRight(line, "\r\n"))
			if tail != nil && !pipes.LooksLikeMessage(text) {
				tail.Add(text) // a Pipes message is no reason for a failure
			}
			if out != nil {
				out(stream, time.Now(), text)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// TailBuffer keeps the last lines of a stream, bounded in lines and bytes,
// for the reason of a failure (launchers keep one per step).
type TailBuffer struct {
	mu    sync.Mutex
	lines []string
	size  int
}

const (
	tailLines = 10
	tailBytes = 2 << 10
)

// Add keeps s as the newest line.
func (t *TailBuffer) Add(s string) {
	if len(s) > tailBytes {
		s = "..." + s[len(s)-tailBytes:]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	t.size += len(s)
	for len(t.lines) > tailLines || t.size > tailBytes {
		t.size -= len(t.lines[0])
		t.lines = t.lines[1:]
	}
}

// String joins the kept lines with " | ", skipping blank ones, so a reason
// stays one line.
func (t *TailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := make([]string, 0, len(t.lines))
	for _, l := range t.lines {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " | ")
}
