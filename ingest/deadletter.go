package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// DeadLetter is an acknowledged event the store rejected on its own while
// it accepted everything else: set aside so it does not hold up the events
// behind it, and kept until an operator replays it.
type DeadLetter struct {
	Time  time.Time   `json:"time"`  // when it was set aside
	Error string      `json:"error"` // the store's last answer
	Event asset.Event `json:"event"`
}

// DeadLetters is an append-only NDJSON file of dead letters. An entry is
// fsynced before the write-ahead log lets go of its event, so setting an
// event aside never loses it.
type DeadLetters struct {
	path string
	mu   sync.Mutex
	n    int // entries in the file
}

// OpenDeadLetters opens the file at path (created on the first Add),
// cutting a line torn by a crash: Add never returned for it, so its events
// are still in the write-ahead log.
func OpenDeadLetters(path string) (*DeadLetters, error) {
	d := &DeadLetters{path: path}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	if keep := bytes.LastIndexByte(data, '\n') + 1; keep < len(data) {
		if err := os.Truncate(path, int64(keep)); err != nil {
			return nil, fmt.Errorf("cut torn dead letter: %w", err)
		}
	}
	all, err := d.read()
	if err != nil {
		return nil, err
	}
	d.n = len(all)
	return d, nil
}

// Len returns how many dead letters the file holds.
func (d *DeadLetters) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Add appends entries durably.
func (d *DeadLetters) Add(entries []DeadLetter) error {
	if len(entries) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var buf []byte
	for i := range entries {
		line, err := json.Marshal(&entries[i])
		if err != nil {
			return fmt.Errorf("dead letter %s: %w", entries[i].Event.ID, err)
		}
		buf = append(append(buf, line...), '\n')
	}
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open dead letters: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat dead letters: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		// Leave no partial line for the next Add to append to.
		_ = f.Truncate(info.Size())
		f.Close()
		return fmt.Errorf("write dead letters: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync dead letters: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close dead letters: %w", err)
	}
	d.n += len(entries)
	return nil
}

// List returns every dead letter, oldest first.
func (d *DeadLetters) List() ([]DeadLetter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.read()
}

// take hands every dead letter to fn and, if fn succeeds, empties the file.
// fn must make the events durable elsewhere first (the write-ahead log):
// a crash between the two only replays them again, which the store ignores.
func (d *DeadLetters) take(fn func([]DeadLetter) error) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	all, err := d.read()
	if err != nil || len(all) == 0 {
		return 0, err
	}
	if err := fn(all); err != nil {
		return 0, err
	}
	if err := os.Truncate(d.path, 0); err != nil {
		return 0, fmt.Errorf("empty dead letters: %w", err)
	}
	d.n = 0
	return len(all), nil
}

func (d *DeadLetters) read() ([]DeadLetter, error) {
	f, err := os.Open(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open dead letters: %w", err)
	}
	defer f.Close()
	var out []DeadLetter
	r := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 && b[len(b)-1] == '\n' { // else torn, see OpenDeadLetters
			var dl DeadLetter
			if jerr := json.Unmarshal(b, &dl); jerr != nil {
				return nil, fmt.Errorf("%s line %d: %w", d.path, line, jerr)
			}
			out = append(out, dl)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
	}
}
