package api

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
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
	return body, raw, nil
}
