package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/internal/jsondup"
)

// readObject reads a request body of at most limit bytes that must be a
// JSON object, and returns it whole and by member, so a handler can name
// unknown or mistyped fields before decoding it.
func readObject(c echo.Context, limit int64) ([]byte, map[string]json.RawMessage, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, limit))
	if err != nil {
		return nil, nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, nil, &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "the body must be a JSON object: " + err.Error()}
	}
	// encoding/json would turn invalid UTF-8 into U+FFFD without a word.
	for name, v := range raw {
		if !utf8.Valid(v) {
			return nil, nil, badRequest(name, "%s is not valid UTF-8", name)
		}
	}
	if !utf8.Valid(body) {
		return nil, nil, &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "the body is not valid UTF-8"}
	}
	// encoding/json keeps the last of two members with one name, and
	// another reader may keep the first: refuse the ambiguity.
	if dup, ok, err := jsondup.FindIn(body); err == nil && ok {
		return nil, nil, &Error{Status: http.StatusBadRequest, Code: "duplicate_field", Field: dup,
			Message: fmt.Sprintf("member %q appears more than once in the same object: send it once", dup[strings.LastIndexAny(dup, ".]")+1:])}
	}
	return body, raw, nil
}
