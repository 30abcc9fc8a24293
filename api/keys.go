package api

import (
	"errors"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/store"
)

// keyParam reads the :key path parameter. Keys travel percent-encoded as
// one path segment (raw/orders -> raw%2Forders). Echo routes on the raw
// path when the URL has escapes, so the parameter is decoded here exactly
// once; when the URL has none, it is already plain.
func keyParam(c echo.Context) (asset.Key, error) {
	raw := c.Param("key")
	if c.Request().URL.RawPath != "" {
		dec, err := url.PathUnescape(raw)
		if err != nil {
			return "", badRequest("key", "asset key is not valid percent-encoding: %v", err)
		}
		raw = dec
	}
	k, err := asset.ParseKey(raw)
	if err != nil {
		return "", badRequest("key", "%v", err)
	}
	return k, nil
}

func isBadCursor(err error) bool { return errors.Is(err, store.ErrBadCursor) }
