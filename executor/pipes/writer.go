package pipes

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Writer sends messages from a child: it appends them to the messages file,
// or writes them to the child's stdout or stderr. Each message is one line
// in one write, so concurrent writers (a script's several `freshet report`
// calls) never interleave within a line on a local file.
type Writer struct {
	path string
	w    io.Writer
}

// NewWriter returns a writer for the channel p names. stdout and stderr
// are the process's streams, for the stdio channels.
func NewWriter(p MessagesParams, stdout, stderr io.Writer) (*Writer, error) {
	stdio := p.Stdio
	if stdio == "" {
		stdio = p.BufferedStdio
	}
	switch {
	case p.Path != "":
		return &Writer{path: p.Path}, nil
	case stdio == "stdout":
		return &Writer{w: stdout}, nil
	case stdio == "stderr":
		return &Writer{w: stderr}, nil
	}
	return nil, fmt.Errorf("pipes writer: no channel in %+v", p)
}

// Write sends m.
func (w *Writer) Write(m Message) error {
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("pipes message: %w", err)
	}
	line = append(line, '\n')
	if w.w != nil {
		_, err = w.w.Write(line)
		return err
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("pipes messages file: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("pipes messages file: %w", err)
	}
	return f.Close()
}
