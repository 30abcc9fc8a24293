package api

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/auth"
	"github.com/freshet-dev/freshet/ingest"
)

// Authenticator checks bearer tokens (auth.Tokens has it).
type Authenticator interface {
	// Enabled reports whether tokens are in use; if not, the API is open.
	Enabled() bool
	Authenticate(secret string, now time.Time) (auth.Token, error)
}

// principalKey is where guard leaves the authenticated token.
const principalKey = "freshet.principal"

// scopeFor is the scope a request needs; "" means none.
func (s *Server) scopeFor(method, path string) string {
	switch {
	case path == "/healthz" || path == "/readyz":
		return ""
	case path == "/metrics":
		if s.opts.MetricsAuth {
			return auth.ScopeRead
		}
		return ""
	case !strings.HasPrefix(path, "/api/"):
		return "" // the UI's static files; its data comes from the API
	case path == "/api/v1/openapi.json":
		return ""
	case method == http.MethodGet || method == http.MethodHead:
		return auth.ScopeRead
	case method == http.MethodPost && (path == "/api/v1/events" || path == "/api/v1/lineage" || path == "/api/v1/lineage/batch" || path == "/api/v1/dbt/import"):
		return auth.ScopeIngest
	case strings.HasPrefix(path, "/api/v1/tokens"):
		return auth.ScopeAdmin
	default:
		return auth.ScopeOperate
	}
}

// guard is the first middleware: security headers, the Host allow-list
// (DNS rebinding), the Origin check (cross-site requests), CORS when
// allowed, bearer tokens and scopes, and JSON-only bodies for writes (a
// browser form cannot send those across sites).
func (s *Server) guard() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req, h := c.Request(), c.Response().Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			if !strings.HasPrefix(req.URL.Path, "/api/") {
				h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
			}
			if err := s.checkHost(req); err != nil {
				return err
			}
			if err := s.checkOrigin(c); err != nil {
				return err
			}
			if req.Method == http.MethodOptions && req.Header.Get("Origin") != "" {
				return c.NoContent(http.StatusNoContent) // preflight, answered by checkOrigin's headers
			}
			if scope := s.scopeFor(req.Method, req.URL.Path); scope != "" && s.opts.Auth != nil && s.opts.Auth.Enabled() {
				tok, err := s.authenticate(req, scope)
				if err != nil {
					if e := (*Error)(nil); errors.As(err, &e) && e.Status == http.StatusUnauthorized {
						h.Set("WWW-Authenticate", `Bearer realm="freshet"`)
					}
					return err
				}
				c.Set(principalKey, tok)
			}
			if err := checkWriteType(req); err != nil {
				return err
			}
			return next(c)
		}
	}
}

func (s *Server) authenticate(req *http.Request, scope string) (auth.Token, error) {
	hdr := req.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(hdr, "Bearer ")
	if !ok || secret == "" {
		return auth.Token{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Field: "Authorization",
			Message: "a bearer token is required: Authorization: Bearer fst_... (freshet token create; the CLI reads FRESHET_TOKEN)"}
	}
	tok, err := s.opts.Auth.Authenticate(strings.TrimSpace(secret), s.opts.Now())
	switch {
	case errors.Is(err, auth.ErrExpired):
		return tok, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Field: "Authorization", Message: "the token " + tok.Name + " has expired"}
	case errors.Is(err, auth.ErrRevoked):
		return tok, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Field: "Authorization", Message: "the token " + tok.Name + " was revoked"}
	case err != nil:
		return tok, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Field: "Authorization", Message: "unknown token"}
	case !tok.Allows(scope):
		return tok, &Error{Status: http.StatusForbidden, Code: "forbidden", Field: "Authorization",
			Message: fmt.Sprintf("the token %s has scopes %s; this request needs %s", tok.Name, strings.Join(tok.Scopes, ","), scope)}
	}
	return tok, nil
}

// checkHost refuses a Host header outside the allow-list: a page on a
// rebound DNS name cannot reach a server on 127.0.0.1 through it.
func (s *Server) checkHost(req *http.Request) error {
	if len(s.opts.AllowedHosts) == 0 {
		return nil
	}
	host := req.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if slices.Contains(s.opts.AllowedHosts, host) {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Code: "forbidden_host", Field: "Host",
		Message: fmt.Sprintf("host %q is not one this server answers to (allowed: %s; see --allowed-host)", host, strings.Join(s.opts.AllowedHosts, ", "))}
}

// checkOrigin refuses a browser request from another origin unless
// --allowed-origin lists it (then it answers with CORS headers).
func (s *Server) checkOrigin(c echo.Context) error {
	req := c.Request()
	origin := req.Header.Get("Origin")
	if origin == "" {
		return nil // not a browser, or a same-origin GET
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host == req.Host {
		return nil // same origin
	}
	if slices.Contains(s.opts.AllowedOrigins, origin) {
		h := c.Response().Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Freshet-Actor")
		return nil
	}
	return &Error{Status: http.StatusForbidden, Code: "forbidden_origin", Field: "Origin",
		Message: fmt.Sprintf("cross-origin requests from %q are not allowed (see --allowed-origin)", origin)}
}

// checkWriteType refuses a write whose body is not JSON or NDJSON (415):
// what a cross-site form or a no-cors fetch can send (text/plain, form
// encodings) never reaches a handler.
func checkWriteType(req *http.Request) error {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil
	}
	ct := req.Header.Get("Content-Type")
	if ct == "" {
		if req.ContentLength == 0 {
			return nil // no body: cancel, re-execute, replay, test
		}
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
			Message: "a request body needs Content-Type: application/json (or application/x-ndjson for events)"}
	}
	if ingest.IsNDJSON(ct) {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
		Message: fmt.Sprintf("send application/json (or application/x-ndjson for events), not %q", ct)}
}
