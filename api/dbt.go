package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/dbt"
	"github.com/freshet-dev/freshet/ingest"
)

// POST /api/v1/dbt/import takes a dbt project's artifacts as one JSON
// object, {"manifest": {...}, "run_results": {...}, "sources": {...},
// "namespace": "..."} (only manifest required), maps them (package dbt),
// stores the specs (Deps.Specs), then hands the events to the same
// Ingester as POST /events: 201 once both are durable. A problem in an
// artifact is a 400 naming it and the JSON path inside it
// (manifest.nodes["model.shop.orders"].depends_on.nodes[1]); nothing is
// stored then.

type dbtImportResponse struct {
	Project string `json:"project,omitempty"`
	dbt.Counts
	Events int `json:"events"` // events stored (materializations, failures, test results, observations)
	// DeclaredInFile are keys freshet.yaml declares: their dbt specs are
	// kept but the file's are used.
	DeclaredInFile []asset.Key `json:"declared_in_file,omitempty"`
}

var dbtMembers = []string{"manifest", "run_results", "sources", "namespace"}

func (s *Server) importDBT(c echo.Context) error {
	if s.deps.Specs == nil {
		return notFound("", "this server does not import dbt artifacts")
	}
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
				Message: fmt.Sprintf("send the artifacts as one application/json object, not %q", ct)}
		}
	}
	body, err := readMaybeGzip(c, s.opts.DBTBodyLimit)
	if err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			return &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "the body is not valid JSON: " + err.Error()}
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid_json",
			Message: `the body must be a JSON object: {"manifest": {...}, "run_results": {...}, "sources": {...}}`}
	}
	for name := range top {
		if !slices.Contains(dbtMembers, name) {
			return badRequest(name, "unknown member %q: send %s", name, strings.Join(dbtMembers, ", "))
		}
	}
	art := dbt.Artifacts{Manifest: present(top["manifest"]), RunResults: present(top["run_results"]), Sources: present(top["sources"])}
	if art.Manifest == nil {
		return &Error{Status: http.StatusBadRequest, Code: "missing_field", Field: "manifest",
			Message: "manifest is required: the contents of target/manifest.json"}
	}
	var opts dbt.Options
	if raw := present(top["namespace"]); raw != nil {
		if err := json.Unmarshal(raw, &opts.Namespace); err != nil {
			return badRequest("namespace", "namespace must be a string such as \"postgres://warehouse:5432\"")
		}
	}
	opts.Now = s.opts.Now()
	im, err := dbt.Map(art, opts)
	if err != nil {
		return err // a *dbt.FieldError: 400 naming the field
	}
	if len(im.Events) > s.maxEvents() {
		return &Error{Status: http.StatusBadRequest, Code: "too_many_events", Field: "run_results",
			Message: fmt.Sprintf("the artifacts make %d events; at most %d are taken in one request (--max-events-per-request)", len(im.Events), s.maxEvents())}
	}
	shadowed, err := s.deps.Specs.PutSpecs(req.Context(), im.Specs)
	if err != nil {
		return err
	}
	// Specs first: the events then land on assets that have them.
	if len(im.Events) > 0 {
		if err := s.deps.Ingest.Submit(req.Context(), im.Events); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusCreated, dbtImportResponse{Project: im.Project, Counts: im.Counts, Events: len(im.Events), DeclaredInFile: shadowed})
}

// present is raw unless it is absent or null.
func present(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	return raw
}

func (s *Server) maxEvents() int {
	if s.opts.MaxEvents > 0 {
		return s.opts.MaxEvents
	}
	return ingest.DefaultMaxEvents
}
