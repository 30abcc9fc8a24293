package api

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest"
	"github.com/freshet-dev/freshet/openlineage"
)

// OpenLineage in: POST /api/v1/lineage takes one event, the path and body
// the official clients' HTTP transport sends (endpoint "api/v1/lineage");
// POST /api/v1/lineage/batch a JSON array or NDJSON. Both map the events
// to Freshet events (package openlineage) and hand them to the same
// Ingester as POST /events: durable in the write-ahead log before the
// answer, all or nothing. The answer is 201, which is what the clients
// count as success (with 200).

func (s *Server) postLineage(c echo.Context) error { return s.ingestLineage(c, false) }

func (s *Server) postLineageBatch(c echo.Context) error { return s.ingestLineage(c, true) }

type lineageResponse struct {
	Received int      `json:"received"` // OpenLineage events read
	Accepted int      `json:"accepted"` // Freshet events stored
	IDs      []string `json:"ids"`
}

func (s *Server) ingestLineage(c echo.Context, batch bool) error {
	req := c.Request()
	if err := checkLineageType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	body, err := s.readLineageBody(c)
	if err != nil {
		return err
	}
	var (
		events []asset.Event
		n      = 1
	)
	if batch {
		events, n, err = openlineage.DecodeBatch(body, s.opts.Now(), s.opts.MaxEvents)
	} else {
		events, err = openlineage.Decode(body, s.opts.Now())
	}
	if err != nil {
		var es openlineage.Errors
		if errors.As(err, &es) {
			return s.lineageErrors(c, es)
		}
		return err
	}
	if n == 0 {
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Message: "request body holds no OpenLineage events"}
	}
	// An event that names no dataset (a DAG's START) is valid and has
	// nothing to store: 201 all the same, or its producer logs an error.
	if len(events) > 0 {
		if err := s.deps.Ingest.Submit(req.Context(), events); err != nil {
			return err
		}
	}
	out := lineageResponse{Received: n, Accepted: len(events), IDs: make([]string, len(events))}
	for i := range events {
		out.IDs[i] = events[i].ID
	}
	return c.JSON(http.StatusCreated, out)
}

// lineageErrors answers 400 with the first problem as the error, as
// every endpoint does, and all of them (up to openlineage.MaxErrors) in
// "errors": a producer's author sees every field to fix at once.
func (s *Server) lineageErrors(c echo.Context, es openlineage.Errors) error {
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	all := make([]*Error, len(es))
	for i, e := range es {
		code, field, msg, line := e.APIError()
		all[i] = &Error{Status: http.StatusBadRequest, Code: code, Field: field, Line: line, Message: msg}
	}
	first := *all[0]
	first.RequestID = reqID
	return c.JSON(http.StatusBadRequest, struct {
		Error  *Error   `json:"error"`
		Errors []*Error `json:"errors"`
	}{&first, all})
}

// readLineageBody reads an OpenLineage body within the body limit; the
// Python client sends "compression: gzip" as Content-Encoding.
func (s *Server) readLineageBody(c echo.Context) ([]byte, error) {
	return readMaybeGzip(c, s.opts.BodyLimit)
}

// readMaybeGzip reads the body within limit, gunzipping it when
// Content-Encoding says gzip: the limit bounds the bytes received and,
// again, the bytes they inflate to.
func readMaybeGzip(c echo.Context, limit int64) ([]byte, error) {
	req := c.Request()
	if req.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	var r io.Reader = http.MaxBytesReader(c.Response(), req.Body, limit)
	enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, gzipError(err)
		}
		defer zr.Close()
		r = &inflateLimit{r: zr, left: limit, limit: limit}
	default:
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Encoding",
			Message: fmt.Sprintf("send the body as is or gzip-compressed (Content-Encoding: gzip), not %q", enc)}
	}
	var buf bytes.Buffer
	if req.ContentLength > 0 && enc == "" {
		buf.Grow(int(req.ContentLength))
	}
	if _, err := buf.ReadFrom(r); err != nil {
		if enc != "" {
			return nil, gzipError(err)
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// inflateLimit fails with *http.MaxBytesError (413) once more than left
// bytes have been read.
type inflateLimit struct {
	r           io.Reader
	left, limit int64
}

func (l *inflateLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body of exactly the limit from a larger one.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, &http.MaxBytesError{Limit: l.limit}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// gzipError is a body that does not inflate: 400 naming the header (a
// body over the limit stays 413).
func gzipError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return &Error{Status: http.StatusBadRequest, Code: "invalid_value", Field: "Content-Encoding",
		Message: fmt.Sprintf("the body is not valid gzip: %v", err)}
}

// checkLineageType accepts JSON (what the clients send), NDJSON for
// batches, and no type at all; anything else is 415.
func checkLineageType(contentType string) error {
	if contentType == "" || ingest.IsNDJSON(contentType) {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
		Message: fmt.Sprintf("send OpenLineage events as application/json (or application/x-ndjson to the batch endpoint), not %q", contentType)}
}
