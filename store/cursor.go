package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Position is where a page ended: the (Time, ID) of its last event.
type Position struct {
	Time time.Time
	ID   string
}

// EncodeCursor makes an opaque cursor from a position. Stores share the
// format so a cursor means the same on every backend.
func EncodeCursor(p Position) string {
	raw := strconv.FormatInt(p.Time.UnixNano(), 10) + "\x00" + p.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor reverses EncodeCursor.
func DecodeCursor(c string) (Position, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return Position{}, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	ns, id, ok := strings.Cut(string(raw), "\x00")
	if !ok || id == "" {
		return Position{}, fmt.Errorf("%w: malformed", ErrBadCursor)
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	return Position{Time: time.Unix(0, n).UTC(), ID: id}, nil
}
