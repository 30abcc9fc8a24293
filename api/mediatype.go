package api

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/freshet-dev/freshet/ingest"
)

// checkEventsType refuses a POST /events body whose Content-Type is
// neither JSON nor NDJSON with 415, naming the header as the field. No
// Content-Type at all is read as JSON, and so is
// application/x-www-form-urlencoded: it is what `curl -d` sends unless
// told otherwise, and the README's quick start relies on that.
func checkEventsType(contentType string) error {
	if contentType == "" || ingest.IsNDJSON(contentType) {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		if mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/x-www-form-urlencoded" {
			return nil
		}
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
		Message: fmt.Sprintf("send events as application/json (one event or an array) or application/x-ndjson, not %q", contentType)}
}
