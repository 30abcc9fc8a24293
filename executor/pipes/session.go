package pipes

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ContextMode is how a session hands the context to the child.
type ContextMode string

const (
	// ContextAuto, the default, is ContextEnv, or ContextFile for a
	// context whose encoding is over MaxInlineContext.
	ContextAuto ContextMode = ""
	// ContextFile writes the context to a file: {"path": FILE}. Dagster's
	// subprocess client does the same.
	ContextFile ContextMode = "file"
	// ContextEnv puts the context in the variable itself: {"data": ...}.
	// Nothing touches the disk.
	ContextEnv ContextMode = "env"
)

// MaxInlineContext bounds an inline context's encoding under ContextAuto,
// well below Linux's limit on one environment string (128 KiB).
const MaxInlineContext = 32 << 10

// Channel is where the child writes its messages.
type Channel string

const (
	// ChannelFile, the default: a file the orchestrator tails. The child
	// must see this machine's filesystem.
	ChannelFile Channel = "file"
	// ChannelStderr and ChannelStdout: lines of the child's stream; lines
	// that are not messages stay output. For children elsewhere (a
	// container whose logs are streamed back).
	ChannelStderr Channel = "stderr"
	ChannelStdout Channel = "stdout"
)

// SessionOptions configure a session. The zero value is the context
// inline (ContextAuto) and messages in a file under os.TempDir().
type SessionOptions struct {
	Dir      string // where the session's files go; "" means os.TempDir()
	Context  ContextMode
	Messages Channel
}

// Session is the orchestrator's side of one child's Pipes session: the
// bootstrap variables and the files it made, each new (O_EXCL), private
// (0600) and named freshet-pipes-*. Close removes them.
type Session struct {
	files    []string
	messages string
	channel  Channel
	env      []string
}

// OpenSession prepares a session for a child with context data.
func OpenSession(data ContextData, opts SessionOptions) (*Session, error) {
	if opts.Messages == "" {
		opts.Messages = ChannelFile
	}
	if opts.Dir == "" {
		opts.Dir = os.TempDir()
	}
	s := &Session{channel: opts.Messages}
	if err := s.setup(data, opts); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("pipes session: %w", err)
	}
	return s, nil
}

func (s *Session) setup(data ContextData, opts SessionOptions) error {
	if data.Extras == nil {
		data.Extras = map[string]any{} // Python clients index it
	}
	var ce string
	switch opts.Context {
	case ContextAuto, ContextEnv:
		enc, err := EncodeParam(ContextParams{Data: &data})
		if err != nil {
			return err
		}
		if opts.Context == ContextEnv || len(enc) <= MaxInlineContext {
			ce = enc
			break
		}
		fallthrough
	case ContextFile:
		raw, err := json.Marshal(data)
		if err != nil {
			return err
		}
		path, err := s.create(opts.Dir, "*.context.json", raw)
		if err != nil {
			return err
		}
		if ce, err = EncodeParam(ContextParams{Path: path}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown context mode %q (want file or env)", opts.Context)
	}
	var mp MessagesParams
	switch opts.Messages {
	case ChannelFile:
		path, err := s.create(opts.Dir, "*.messages", nil)
		if err != nil {
			return err
		}
		mp.Path, s.messages = path, path
	case ChannelStderr, ChannelStdout:
		mp.Stdio = string(opts.Messages)
	default:
		return fmt.Errorf("unknown messages channel %q (want file, stderr or stdout)", opts.Messages)
	}
	me, err := EncodeParam(mp)
	if err != nil {
		return err
	}
	s.env = []string{EnvContext + "=" + ce, EnvMessages + "=" + me}
	return nil
}

// create makes a new file in dir holding content and returns its absolute
// path.
func (s *Session) create(dir, pattern string, content []byte) (string, error) {
	f, err := os.CreateTemp(dir, "freshet-pipes-"+pattern)
	if err != nil {
		return "", err
	}
	path := f.Name()
	s.files = append(s.files, path)
	if _, err := f.Write(content); err != nil {
		_ = f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

// Env returns the bootstrap variables, NAME=value.
func (s *Session) Env() []string { return s.env }

// Channel is where the child writes its messages.
func (s *Session) Channel() Channel { return s.channel }

// MessagesPath is the file to Tail on the file channel, "" otherwise.
func (s *Session) MessagesPath() string { return s.messages }

// Close removes the session's files. Call it after the messages have been
// read.
func (s *Session) Close() error {
	var errs []error
	for _, f := range s.files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	s.files = nil
	return errors.Join(errs...)
}
