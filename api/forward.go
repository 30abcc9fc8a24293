package api

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// Leadership tells a server that shares its store with others whether it
// leads, and where the leader is: runs, alerts, silences and automation
// live in the leader's memory, so a follower forwards their routes there.
type Leadership interface {
	// Leader returns the leader's URL and whether this server is it; a nil
	// URL (and false) while no leader is known.
	Leader() (u *url.URL, self bool)
}

// forwardedHeader marks a request a follower forwarded, so that two
// servers that disagree on who leads never bounce it between them.
const forwardedHeader = "X-Freshet-Forwarded-By"

// leaderRoutes are the route prefixes that only the leader serves.
var leaderRoutes = []string{"/api/v1/runs", "/api/v1/automation", "/api/v1/alerts", "/api/v1/silences"}

func isLeaderRoute(path string) bool {
	for _, p := range leaderRoutes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// forward sends the leader's routes to the leader when this server
// follows. It runs after the guard, so a request is authenticated here
// before it travels; the leader checks it again (every server of a
// cluster reads the same token file).
func (s *Server) forward() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if s.opts.Leadership == nil {
			return next
		}
		return func(c echo.Context) error {
			if !isLeaderRoute(c.Path()) {
				return next(c)
			}
			target, self := s.opts.Leadership.Leader()
			if self {
				return next(c)
			}
			req := c.Request()
			if target == nil || req.Header.Get(forwardedHeader) != "" {
				return &Error{Status: http.StatusServiceUnavailable, Code: "no_leader", RetryAfter: 1,
					Message: "this server follows and no leader is known yet (one is elected within the election's session timeout): retry shortly"}
			}
			proxy := &httputil.ReverseProxy{
				Rewrite: func(r *httputil.ProxyRequest) {
					r.SetURL(target)
					r.Out.Host = target.Host
					r.Out.Header.Set(forwardedHeader, s.opts.Name)
					r.SetXForwarded()
				},
				FlushInterval: -1, // run logs stream
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					s.log.Warn("forward to the leader failed", "leader", target.String(), "path", r.URL.Path, "err", err)
					s.handleError(&Error{Status: http.StatusBadGateway, Code: "leader_unreachable", RetryAfter: 1,
						Message: "the leader (" + target.Redacted() + ") did not answer: retry shortly"}, c)
				},
			}
			proxy.ServeHTTP(c.Response(), req)
			return nil
		}
	}
}
