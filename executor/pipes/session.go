package pipes

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ContextMode is how a session hands the context to the child.
type ContextMode string

const (
	// ContextFile writes the context to a file in the session's
	// directory: {"path": FILE}. Dagster's subprocess client does the
	// same.
	ContextFile ContextMode = "file"
	// ContextEnv puts the context in the variable itself: {"data": ...}.
	// Nothing touches the disk; the variable grows with the extras.
	ContextEnv ContextMode = "env"
)

// Channel is where the child writes its messages.
type Channel string

const (
	// ChannelFile: a file in the session's directory, which the
	// orchestrator tails. The child must see this machine's filesystem.
	ChannelFile Channel = "file"
	// ChannelStderr and ChannelStdout: lines of the child's stream; lines
	// that are not messages stay output. For children elsewhere (a
	// container whose logs are streamed back).
	ChannelStderr Channel = "stderr"
	ChannelStdout Channel = "stdout"
)

// SessionOptions configure a session. The zero value is a context file and
// a messages file in a new directory under os.TempDir().
type SessionOptions struct {
	Dir      string // parent of the session's directory; "" means os.TempDir()
	Context  ContextMode
	Messages Channel
}

// Session is the orchestrator's side of one child's Pipes session: the
// bootstrap variables and, when a file is used, a private directory
// (0700) holding "context.json" and "messages". Close removes it.
type Session struct {
	dir      string
	messages string
	channel  Channel
	env      []string
}

// OpenSession prepares a session for a child with context data.
func OpenSession(data ContextData, opts SessionOptions) (*Session, error) {
	if opts.Context == "" {
		opts.Context = ContextFile
	}
	if opts.Messages == "" {
		opts.Messages = ChannelFile
	}
	s := &Session{channel: opts.Messages}
	needDir := opts.Context == ContextFile || opts.Messages == ChannelFile
	if needDir {
		parent := opts.Dir
		if parent == "" {
			parent = os.TempDir()
		}
		dir, err := os.MkdirTemp(parent, "freshet-pipes-")
		if err != nil {
			return nil, fmt.Errorf("pipes session: %w", err)
		}
		if dir, err = filepath.Abs(dir); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("pipes session: %w", err)
		}
		s.dir = dir
	}
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
	var cp ContextParams
	switch opts.Context {
	case ContextFile:
		raw, err := json.Marshal(data)
		if err != nil {
			return err
		}
		cp.Path = filepath.Join(s.dir, "context.json")
		if err := os.WriteFile(cp.Path, raw, 0o600); err != nil {
			return err
		}
	case ContextEnv:
		cp.Data = &data
	default:
		return fmt.Errorf("unknown context mode %q (want file or env)", opts.Context)
	}
	var mp MessagesParams
	switch opts.Messages {
	case ChannelFile:
		mp.Path = filepath.Join(s.dir, "messages")
		f, err := os.OpenFile(mp.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		s.messages = mp.Path
	case ChannelStderr, ChannelStdout:
		mp.Stdio = string(opts.Messages)
	default:
		return fmt.Errorf("unknown messages channel %q (want file, stderr or stdout)", opts.Messages)
	}
	ce, err := EncodeParam(cp)
	if err != nil {
		return err
	}
	me, err := EncodeParam(mp)
	if err != nil {
		return err
	}
	s.env = []string{EnvContext + "=" + ce, EnvMessages + "=" + me}
	return nil
}

// Env returns the bootstrap variables, NAME=value.
func (s *Session) Env() []string { return s.env }

// Channel is where the child writes its messages.
func (s *Session) Channel() Channel { return s.channel }

// MessagesPath is the file to Tail on the file channel, "" otherwise.
func (s *Session) MessagesPath() string { return s.messages }

// Close removes the session's directory. Call it after the messages have
// been read.
func (s *Session) Close() error {
	if s.dir == "" {
		return nil
	}
	err := os.RemoveAll(s.dir)
	s.dir = ""
	return err
}
