package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// Error is the body of every failed request: {"error": {...}}. Field names
// the offending input (a query parameter, a path parameter or a JSON path);
// Line is set for NDJSON bodies.
type Error struct {
	Status    int    `json:"-"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	Line      int    `json:"line,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Limit, for a refusal by a limit (api/limits.go), names it and says
	// its value and the current count.
	Limit *LimitError `json:"limit,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

type errorBody struct {
	Error *Error `json:"error"`
}

func badRequest(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_value", Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Field: field, Message: fmt.Sprintf(format, args...)}
}

// fieldError is implemented by validation errors from other packages
// (ingest, config) so this package need not know their types.
// retryable is implemented by errors that mean "busy, come back later"
// (the write-ahead log is full): they become 503 with Retry-After.
type retryable interface {
	error
	RetryAfter() time.Duration
}

type fieldError interface {
	error
	// APIError gives the parts of the JSON error; message must not
	// repeat the field or line, which have their own members.
	APIError() (code, field, message string, line int)
}

// handleError renders every error as JSON. Internal errors are logged with
// the request id and answered without details.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	out := s.toAPIError(err)
	out.RequestID = reqID
	if out.Status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "request_id", reqID,
			"method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	var rt retryable
	if out.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(out.RetryAfter))
	} else if errors.As(err, &rt) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(max(rt.RetryAfter().Round(time.Second), time.Second).Seconds())))
	}
	if out.Status == http.StatusServiceUnavailable && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", "1")
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(out.Status)
	} else {
		werr = c.JSON(out.Status, errorBody{Error: out})
	}
	if werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
}

func (s *Server) toAPIError(err error) *Error {
	var (
		apiErr *Error
		fe     fieldError
		rt     retryable
		he     *echo.HTTPError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &apiErr):
		cp := *apiErr
		return &cp
	case bodyAborted(err):
		return &Error{Status: http.StatusBadRequest, Code: "body_incomplete", Message: "the request body ended early (the client stopped sending or timed out)"}
	case errors.As(err, &rt):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: rt.Error()}
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit)}
	case errors.As(err, &fe):
		code, field, msg, line := fe.APIError()
		return &Error{Status: http.StatusBadRequest, Code: code, Field: field, Line: line, Message: msg}
	case errors.As(err, &he):
		msg := fmt.Sprint(he.Message)
		if he.Code == http.StatusNotFound && strings.HasPrefix(msg, "Not Found") {
			msg = "no such route"
		}
		return &Error{Status: he.Code, Code: codeForStatus(he.Code), Message: msg}
	default:
		return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal server error"}
	}
}

// bodyAborted reports a request body that stopped arriving: the client
// went away or was too slow. It is the client's problem, not a 500.
func bodyAborted(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, http.ErrBodyReadAfterClose) || (errors.As(err, &ne) && ne.Timeout())
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusUnauthorized:
		return "unauthorized"
	default:
		if status >= 500 {
			return "internal"
		}
		return "bad_request"
	}
}
