package executor

import (
	"fmt"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// stepLogs passes a step's lines to the sink until the step has written
// maxBytes (lines count with their newline, across streams and attempts),
// then one truncation marker, then nothing. The child is never blocked:
// lines past the cap are read and dropped.
type stepLogs struct {
	sink     LogSink
	runID    string
	key      asset.Key
	maxBytes int64

	mu        sync.Mutex
	written   int64
	truncated bool
}

func (l *stepLogs) forAttempt(attempt int) LineFunc {
	return func(stream Stream, at time.Time, text string) {
		l.add(attempt, stream, at, text)
	}
}

// add passes one line of an attempt to the sink, under the cap.
func (l *stepLogs) add(attempt int, stream Stream, at time.Time, text string) {
	line := LogLine{RunID: l.runID, Asset: l.key, Attempt: attempt, Stream: stream, Time: at, Text: text}
	// Held across the sink call so the marker is always the last line.
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.truncated {
		return
	}
	if n := int64(len(text)) + 1; l.written+n > l.maxBytes {
		l.truncated = true
		line.Text = fmt.Sprintf("[freshet] output truncated: the step wrote more than %d bytes; the rest is discarded", l.maxBytes)
		line.Truncated = true
	} else {
		l.written += n
	}
	l.sink.StepLog(line)
}
