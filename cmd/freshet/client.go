package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// client talks to a Freshet server's REST API, with the bearer token in
// FRESHET_TOKEN when the server requires one.
type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient(server string) (*client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not an http(s) URL such as http://127.0.0.1:3000", server)
	}
	return &client{base: strings.TrimSuffix(server, "/"), token: os.Getenv("FRESHET_TOKEN"), http: &http.Client{Timeout: 60 * time.Second}}, nil
}

func (c *client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.send(req, out)
}

// send makes the request with the token and decodes the answer into out
// (an error answer into an *apiError).
func (c *client) send(req *http.Request, out any) error {
	method, path := req.Method, req.URL.Path
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return fmt.Errorf("cannot reach Freshet at %s (is `freshet serve` or `freshet dev` running? set --server): %w", c.base, uerr.Err)
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read response from %s: %w", c.base, err)
	}
	if resp.StatusCode >= 400 {
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != nil {
			return eb.Error
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response of %s: %w", path, err)
	}
	return nil
}

func (c *client) get(ctx context.Context, path string, q url.Values, out any) error {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.do(ctx, http.MethodGet, path, "", nil, out)
}

// authorize adds the bearer token, if any.
func (c *client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// keyPath percent-encodes an asset key as one path segment.
func keyPath(key string) string { return url.PathEscape(key) }

// fetch GETs path from the server. With --json it prints the answer as is
// and reports printed; otherwise it decodes the answer into out for the
// command to render.
func (g *globals) fetch(cmd *cobra.Command, path string, q url.Values, out any) (printed bool, err error) {
	c, err := newClient(g.server)
	if err != nil {
		return false, err
	}
	var raw json.RawMessage
	if err := c.get(cmd.Context(), path, q, &raw); err != nil {
		return false, err
	}
	if g.json {
		return true, printJSON(cmd.OutOrStdout(), raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return false, fmt.Errorf("decode the answer of %s: %w", path, err)
	}
	return false, nil
}
