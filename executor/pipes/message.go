package pipes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Version is the protocol version this package writes; it reads any.
const Version = "0.1"

// VersionField is the key that marks a JSON object as a Pipes message.
const VersionField = "__dagster_pipes_version"

// MaxLineBytes bounds one message on the file channel. (On a stdio channel
// the launcher's line limit applies: 64 KiB.)
const MaxLineBytes = 1 << 20

// Method is what a message does.
type Method string

const (
	MethodOpened          Method = "opened"
	MethodClosed          Method = "closed"
	MethodLog             Method = "log"
	MethodMaterialization Method = "report_asset_materialization"
	MethodCheck           Method = "report_asset_check"
	MethodCustom          Method = "report_custom_message"
	MethodExternalStream  Method = "log_external_stream"
)

func (m Method) known() bool {
	switch m {
	case MethodOpened, MethodClosed, MethodLog, MethodMaterialization, MethodCheck, MethodCustom, MethodExternalStream:
		return true
	}
	return false
}

// Message is one message, its params still encoded: the methods named for
// each kind decode and check them.
type Message struct {
	Version string          `json:"__dagster_pipes_version"`
	Method  Method          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// NewMessage builds a message of this protocol version with params
// encoded as JSON (nil params are null).
func NewMessage(method Method, params any) (Message, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return Message{}, fmt.Errorf("%s params: %w", method, err)
	}
	return Message{Version: Version, Method: method, Params: raw}, nil
}

// LooksLikeMessage is a cheap test for a line of a stdio stream: a JSON
// object that mentions the version key. Parse decides.
func LooksLikeMessage(line string) bool {
	line = strings.TrimSpace(line)
	return len(line) > 0 && line[0] == '{' && strings.Contains(line, `"`+VersionField+`"`)
}

// Parse reads one line. It fails on what is not a JSON object with the
// version key and a known method; params are checked by the accessors.
func Parse(line []byte) (Message, error) {
	line = bytes.TrimSpace(line)
	var w struct {
		Version *string         `json:"__dagster_pipes_version"`
		Method  *string         `json:"method"`
		Params  json.RawMessage `json:"params"`
	}
	if len(line) == 0 || line[0] != '{' {
		return Message{}, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(line, &w); err != nil {
		return Message{}, fmt.Errorf("not JSON: %w", err)
	}
	if w.Version == nil {
		return Message{}, fmt.Errorf("no %s", VersionField)
	}
	if w.Method == nil {
		return Message{}, errors.New("no method")
	}
	m := Message{Version: *w.Version, Method: Method(*w.Method), Params: w.Params}
	if !m.Method.known() {
		return m, fmt.Errorf("unknown method %q", *w.Method)
	}
	return m, nil
}

// decode unmarshals the params into v; null params are an error when
// required.
func (m Message) decode(v any, required bool) error {
	p := bytes.TrimSpace(m.Params)
	if len(p) == 0 || string(p) == "null" {
		if required {
			return fmt.Errorf("%s: params are null", m.Method)
		}
		return nil
	}
	if p[0] != '{' {
		return fmt.Errorf("%s: params are not an object", m.Method)
	}
	if err := json.Unmarshal(p, v); err != nil {
		return fmt.Errorf("%s params: %w", m.Method, err)
	}
	return nil
}

// Log is a log message from the child.
type Log struct {
	Message string `json:"message"`
	Level   string `json:"level"` // as sent (Python sends INFO, WARNING, ...); "info" when absent
}

// Log decodes a log message's params.
func (m Message) Log() (Log, error) {
	var w struct {
		Message *string `json:"message"`
		Level   *string `json:"level"`
	}
	if err := m.decode(&w, true); err != nil {
		return Log{}, err
	}
	if w.Message == nil {
		return Log{}, errors.New("log: no message")
	}
	l := Log{Message: *w.Message, Level: "info"}
	if w.Level != nil && *w.Level != "" {
		l.Level = *w.Level
	}
	return l, nil
}

// Materialization is a report_asset_materialization.
type Materialization struct {
	AssetKey    string   `json:"asset_key"` // "" when not given: the step's asset
	DataVersion string   `json:"data_version,omitempty"`
	Metadata    Metadata `json:"metadata,omitempty"`
}

// Materialization decodes a report_asset_materialization's params.
func (m Message) Materialization() (Materialization, error) {
	var w struct {
		AssetKey    *string  `json:"asset_key"`
		DataVersion *string  `json:"data_version"`
		Metadata    Metadata `json:"metadata"`
	}
	if err := m.decode(&w, true); err != nil {
		return Materialization{}, err
	}
	r := Materialization{Metadata: w.Metadata}
	if w.AssetKey != nil {
		r.AssetKey = *w.AssetKey
	}
	if w.DataVersion != nil {
		r.DataVersion = *w.DataVersion
	}
	return r, nil
}

// Check is a report_asset_check.
type Check struct {
	AssetKey  string   `json:"asset_key"`
	CheckName string   `json:"check_name"`
	Passed    bool     `json:"passed"`
	Severity  string   `json:"severity"` // WARN or ERROR
	Metadata  Metadata `json:"metadata,omitempty"`
}

// Check decodes a report_asset_check's params: check_name and passed are
// required; severity is WARN or ERROR in any case, ERROR when absent.
func (m Message) Check() (Check, error) {
	var w struct {
		AssetKey  *string  `json:"asset_key"`
		CheckName *string  `json:"check_name"`
		Passed    *bool    `json:"passed"`
		Severity  *string  `json:"severity"`
		Metadata  Metadata `json:"metadata"`
	}
	if err := m.decode(&w, true); err != nil {
		return Check{}, err
	}
	if w.CheckName == nil || strings.TrimSpace(*w.CheckName) == "" {
		return Check{}, errors.New("report_asset_check: no check_name")
	}
	if w.Passed == nil {
		return Check{}, errors.New("report_asset_check: no passed")
	}
	c := Check{CheckName: *w.CheckName, Passed: *w.Passed, Severity: "ERROR", Metadata: w.Metadata}
	if w.AssetKey != nil {
		c.AssetKey = *w.AssetKey
	}
	if w.Severity != nil {
		switch s := strings.ToUpper(*w.Severity); s {
		case "WARN", "ERROR":
			c.Severity = s
		default:
			return Check{}, fmt.Errorf("report_asset_check: severity %q is not WARN or ERROR", *w.Severity)
		}
	}
	return c, nil
}

// Exception is how a child says it failed (Python's traceback, flattened).
type Exception struct {
	Message string     `json:"message"`
	Stack   []string   `json:"stack,omitempty"`
	Name    string     `json:"name,omitempty"`
	Cause   *Exception `json:"cause,omitempty"`
	Context *Exception `json:"context,omitempty"`
}

// Closed decodes a closed message: its exception, nil when the child
// closed cleanly.
func (m Message) Closed() (*Exception, error) {
	var w struct {
		Exception *Exception `json:"exception"`
	}
	if err := m.decode(&w, false); err != nil {
		return nil, err
	}
	return w.Exception, nil
}

// Custom decodes a report_custom_message: its payload, any JSON.
func (m Message) Custom() (json.RawMessage, error) {
	var w struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := m.decode(&w, true); err != nil {
		return nil, err
	}
	if len(w.Payload) == 0 {
		return json.RawMessage("null"), nil
	}
	return w.Payload, nil
}

// ExternalStream is a chunk of a child's stdout or stderr sent as a
// message (log_external_stream).
type ExternalStream struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// ExternalStream decodes a log_external_stream's params.
func (m Message) ExternalStream() (ExternalStream, error) {
	var w ExternalStream
	if err := m.decode(&w, true); err != nil {
		return w, err
	}
	return w, nil
}
