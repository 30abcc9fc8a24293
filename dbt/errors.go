package dbt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
)

// Artifact names, as they appear in errors and in the API's body.
const (
	ArtifactManifest   = "manifest"
	ArtifactRunResults = "run_results"
	ArtifactSources    = "sources"
)

// FieldError is a problem with one value of one artifact. Path is the
// JSON path inside the artifact (`nodes["model.shop.orders"].depends_on.nodes[1]`),
// empty for the artifact as a whole (not JSON at all).
type FieldError struct {
	Artifact string
	Path     string
	Message  string
	missing  bool // a required value is absent (code missing_field)
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Artifact + ": " + e.Message
	}
	return e.Artifact + ": " + e.Path + ": " + e.Message
}

// Field is the artifact and path as one name: manifest.nodes["x"].name.
func (e *FieldError) Field() string {
	if e.Path == "" {
		return e.Artifact
	}
	if e.Path[0] == '[' {
		return e.Artifact + e.Path
	}
	return e.Artifact + "." + e.Path
}

// APIError makes it a 400 naming the field (api.fieldError).
func (e *FieldError) APIError() (code, field, message string, line int) {
	code = "invalid_value"
	if e.missing {
		code = "missing_field"
	}
	return code, e.Field(), e.Message, 0
}

func fieldErr(artifact, path, format string, args ...any) *FieldError {
	return &FieldError{Artifact: artifact, Path: path, Message: fmt.Sprintf(format, args...)}
}

func missingField(artifact, path, format string, args ...any) *FieldError {
	e := fieldErr(artifact, path, format, args...)
	e.missing = true
	return e
}

// join appends a member name to a JSON path.
func join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}

// index appends an array index to a JSON path.
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// entry appends a map key to a JSON path, quoted: dbt's unique ids hold dots.
func entry(path, key string) string { return path + "[" + strconv.Quote(key) + "]" }

// decodeErr turns an encoding/json error about data at path into a
// FieldError naming the value: the member whose type is wrong, or the
// line and column where the syntax broke.
func decodeErr(artifact, path string, data []byte, err error) *FieldError {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		line, col := position(data, se.Offset)
		if se.Offset >= int64(len(data)) {
			return fieldErr(artifact, path, "the JSON ends early, at line %d (a truncated file?)", line)
		}
		return fieldErr(artifact, path, "invalid JSON at line %d, column %d: %v", line, col, se)
	case errors.As(err, &te):
		p := path
		if te.Field != "" {
			p = join(path, te.Field)
		}
		return fieldErr(artifact, p, "must be %s, not %s", typeName(te.Type), te.Value)
	case err.Error() == "unexpected end of JSON input":
		return fieldErr(artifact, path, "the JSON ends early (a truncated file?)")
	}
	return fieldErr(artifact, path, "%v", err)
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Interface:
		return "a JSON value"
	}
	return "a number"
}

// position is the 1-based line and column of byte offset off.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
