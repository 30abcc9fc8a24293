package pipes

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// The bootstrap environment variables.
const (
	EnvContext  = "DAGSTER_PIPES_CONTEXT"
	EnvMessages = "DAGSTER_PIPES_MESSAGES"
)

// MaxParamBytes bounds a decoded parameter (after decompression), so a
// small variable cannot inflate into a large allocation.
const MaxParamBytes = 4 << 20

// EncodeParam is the form of a bootstrap parameter: v as JSON, compressed
// with zlib, in standard base64.
func EncodeParam(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode pipes param: %w", err)
	}
	var buf bytes.Buffer
	zw := zlibWriters.Get().(*zlib.Writer)
	defer zlibWriters.Put(zw)
	zw.Reset(&buf)
	_, _ = zw.Write(raw) // a bytes.Buffer does not fail
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("encode pipes param: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// zlibWriters are reused, at the fastest level: a new writer allocates
// about a megabyte of compressor state, and resetting one at the default
// level clears most of it, which for two small parameters per step attempt
// cost more than starting the step's process. Any level decodes the same.
var zlibWriters = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(io.Discard, zlib.BestSpeed) // a valid level: no error
	return w
}}

// DecodeParam reverses EncodeParam into v. Surrounding white space is
// ignored, and so is missing base64 padding.
func DecodeParam(s string, v any) error {
	s = strings.TrimSpace(s)
	z, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var err2 error
		if z, err2 = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err2 != nil {
			return fmt.Errorf("decode pipes param: base64: %w", err)
		}
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return fmt.Errorf("decode pipes param: zlib: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxParamBytes+1))
	if err != nil {
		return fmt.Errorf("decode pipes param: zlib: %w", err)
	}
	if len(raw) > MaxParamBytes {
		return fmt.Errorf("decode pipes param: more than %d bytes of JSON", MaxParamBytes)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode pipes param: %w", err)
	}
	return nil
}

// ContextParams says where the child finds its context: in the file at
// Path, or inline in Data. Exactly one is set.
type ContextParams struct {
	Path string       `json:"path,omitempty"`
	Data *ContextData `json:"data,omitempty"`
}

// MessagesParams says where the child writes its messages: appended to the
// file at Path, or among the lines of its Stdio stream ("stdout" or
// "stderr"). BufferedStdio is the same as Stdio for a reader (the Python
// client writes the lines when it closes); orchestrators here never ask
// for it, but a writer honours it.
type MessagesParams struct {
	Path          string `json:"path,omitempty"`
	Stdio         string `json:"stdio,omitempty"`
	BufferedStdio string `json:"buffered_stdio,omitempty"`
}

// ErrNoSession: the environment has no DAGSTER_PIPES_MESSAGES, so the
// process was not started as a Pipes child.
var ErrNoSession = errors.New("DAGSTER_PIPES_MESSAGES is not set: this process was not started by Freshet (or Dagster) as a step with a Pipes session")

// ReadMessagesParams decodes the value of DAGSTER_PIPES_MESSAGES and
// checks it names a channel this package can write. An empty value is
// ErrNoSession.
func ReadMessagesParams(value string) (MessagesParams, error) {
	var p MessagesParams
	if strings.TrimSpace(value) == "" {
		return p, ErrNoSession
	}
	if err := DecodeParam(value, &p); err != nil {
		return p, fmt.Errorf("%s: %w", EnvMessages, err)
	}
	switch {
	case p.Path != "":
	case p.Stdio == "stdout" || p.Stdio == "stderr":
	case p.BufferedStdio == "stdout" || p.BufferedStdio == "stderr":
	default:
		return p, fmt.Errorf(`%s: want {"path": FILE} or {"stdio": "stdout"|"stderr"}, not a channel this client writes (blob stores are not supported)`, EnvMessages)
	}
	return p, nil
}

// ReadContext decodes the value of DAGSTER_PIPES_CONTEXT and loads the
// context it names (reading the file for {"path": ...}).
func ReadContext(value string) (ContextData, error) {
	var p struct {
		Path string          `json:"path"`
		Data json.RawMessage `json:"data"`
	}
	var c ContextData
	if strings.TrimSpace(value) == "" {
		return c, fmt.Errorf("%s is not set", EnvContext)
	}
	if err := DecodeParam(value, &p); err != nil {
		return c, fmt.Errorf("%s: %w", EnvContext, err)
	}
	raw := []byte(p.Data)
	switch {
	case p.Path != "":
		b, err := readBounded(p.Path, MaxParamBytes)
		if err != nil {
			return c, fmt.Errorf("%s: read context: %w", EnvContext, err)
		}
		raw = b
	case len(raw) == 0 || string(raw) == "null":
		return c, fmt.Errorf(`%s: want {"path": FILE} or {"data": {...}}`, EnvContext)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("%s: context: %w", EnvContext, err)
	}
	return c, nil
}
