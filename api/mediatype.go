package api

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/freshet-dev/freshet/ingest"
)

// checkEventsType refuses a POST /events body whose Content-Type is
// neither JSON nor NDJSON with 415, naming the header as the field. A
// form encoding is refused too (what `curl -d` sends unless told
// otherwise): a cross-site HTML form can send it. No Content-Type passes
// only for an empty body (guard refuses a body without one).
func checkEventsType(contentType string) error {
	if contentType == "" || ingest.IsNDJSON(contentType) {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		if mt == "application/json" || strings.HasSuffix(mt, "+json") {
			return nil
		}
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
		Message: fmt.Sprintf("send events as application/json (one event or an array) or application/x-ndjson, not %q", contentType)}
}
