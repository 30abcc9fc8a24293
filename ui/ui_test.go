package ui_test

import (
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/freshet-dev/freshet/api"
	"github.com/freshet-dev/freshet/ui"
)

var built = fstest.MapFS{
	"index.html":           {Data: []byte(`<!doctype html><div id="root"></div><script src="/static/index-abc.js"></script>`)},
	"static/index-abc.js":  {Data: []byte(strings.Repeat("console.log('freshet');\n", 200))},
	"static/layout-def.js": {Data: []byte("x")},
	"favicon.svg":          {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	".gitkeep":             {Data: nil},
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppRoutesServeIndex(t *testing.T) {
	t.Parallel()
	h := ui.New(built)
	for _, p := range []string{"/", "/lineage", "/assets/raw/shop/orders", "/assets/raw%2Fshop%2Forders", "/runs/01a2", "/.gitkeep", "/freshness?edit=marts/funnel"} {
		res := get(t, h, p)
		if res.StatusCode != 200 || !strings.Contains(body(t, res), `id="root"`) {
			t.Errorf("GET %s: %d, want index.html", p, res.StatusCode)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache (index.html must be revalidated)", p, got)
		}
		if res.Header.Get("Content-Security-Policy") == "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: headers %v", p, res.Header)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	h := ui.New(built)
	res := get(t, h, "/static/layout-def.js")
	if res.StatusCode != 200 || body(t, res) != "x" {
		t.Fatalf("static file: %d", res.StatusCode)
	}
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("hashed bundle Cache-Control = %q, want immutable", cc)
	}
	if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("Content-Type = %q", ct)
	}
	if res := get(t, h, "/static/gone-123.js"); res.StatusCode != 404 {
		t.Errorf("missing bundle: %d, want 404 (not the app's index.html)", res.StatusCode)
	}
	if res := get(t, h, "/favicon.svg"); res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("favicon: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
}

func TestGzipAndETag(t *testing.T) {
	t.Parallel()
	h := ui.New(built)
	plain := get(t, h, "/static/index-abc.js")
	want := body(t, plain)
	res := get(t, h, "/static/index-abc.js", "Accept-Encoding", "br, gzip")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if string(got) != want {
		t.Errorf("gunzipped body differs")
	}
	if res.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Errorf("the gzip and identity encodings share an ETag")
	}
	again := get(t, h, "/static/index-abc.js", "If-None-Match", plain.Header.Get("ETag"))
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", again.StatusCode)
	}
	if res := get(t, h, "/static/index-abc.js", "Accept-Encoding", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still got gzip")
	}
}

func TestNotBuilt(t *testing.T) {
	t.Parallel()
	h := ui.New(fstest.MapFS{".gitkeep": {}})
	for _, p := range []string{"/", "/lineage"} {
		res := get(t, h, p)
		if b := body(t, res); res.StatusCode != 200 || !strings.Contains(b, "make ui") {
			t.Errorf("GET %s without a build: %d %q", p, res.StatusCode, b)
		}
	}
	if res := get(t, h, "/static/index-abc.js"); res.StatusCode != 404 {
		t.Errorf("bundle without a build: %d", res.StatusCode)
	}
}

func TestMethods(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	ui.New(built).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	ui.New(built).ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/lineage", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

// The embedded build (or its placeholder) answers at /: whichever this
// binary carries.
func TestEmbedded(t *testing.T) {
	t.Parallel()
	res := get(t, ui.Handler(), "/")
	b := body(t, res)
	if res.StatusCode != 200 {
		t.Fatalf("GET /: %d", res.StatusCode)
	}
	if ui.Built() != !strings.Contains(b, "make ui") {
		t.Errorf("Built() = %v but the page is %.80q", ui.Built(), b)
	}
}

// The API server mounts the UI for every GET it has no route for, and
// keeps its JSON 404 for unknown /api paths and other methods.
func TestMountedInAPI(t *testing.T) {
	t.Parallel()
	srv := api.New(api.Deps{}, api.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/", 200, "text/html"},
		{"GET", "/lineage", 200, "text/html"},
		{"GET", "/assets/raw/shop/orders", 200, "text/html"},
		{"HEAD", "/runs", 200, "text/html"},
		{"GET", "/healthz", 200, "application/json"},
		{"GET", "/api/v1/nope", 404, "application/json"},
		{"GET", "/api", 404, "application/json"},
		{"POST", "/lineage", 404, "application/json"},
		{"DELETE", "/", 404, "application/json"},
		{"POST", "/api/v1/lineage/graph", 405, "application/json"},
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.ctype) {
			t.Errorf("%s %s: %d %q, want %d %s", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.status, tc.ctype)
		}
	}
}
