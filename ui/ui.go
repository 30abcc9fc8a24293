// Package ui serves Freshet's web UI: a single-page app (TypeScript, React,
// Vite) whose sources live beside this file and whose build, dist/, is
// embedded in the binary.
//
// It promises:
//   - the built files at their paths: hashed bundles under /static/ cached
//     for a year (immutable), everything else revalidated (ETag), gzip when
//     the client takes it, with a Content-Security-Policy that allows only
//     this origin (plus inline styles, which the graph library sets);
//   - index.html for every other path, so the app's own routes
//     (/lineage, /assets/raw/orders, /runs/ID) load on a reload or a pasted
//     link; a missing file under /static/ is a 404, not the app;
//   - a small page saying how to build the UI (make ui) when the binary was
//     built without it: Go builds and tests never need Node.js.
//
// It refuses paths it does not serve (the caller routes /api, /healthz,
// /metrics before it) and writes nothing but GET and HEAD answers.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// dist holds the Vite build. The repository keeps dist/.gitkeep so the
// pattern matches on a fresh clone; `make ui` fills it.
//
//go:embed all:dist
var dist embed.FS

// StaticPrefix is where Vite puts the hashed bundles (build.assetsDir).
const StaticPrefix = "/static/"

// csp allows scripts, workers, styles and fetches from this origin only.
// 'unsafe-inline' for styles: React Flow and uPlot position elements with
// style attributes.
const csp = "default-src 'self'; script-src 'self'; worker-src 'self' blob:; " +
	"style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the embedded UI (or, when it was not built, the page
// that says how to build it).
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // cannot happen: "dist" is a valid path
		panic(err)
	}
	return New(sub)
}

// Built reports whether the binary carries the built UI.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

// New serves the app in fsys (a Vite build: index.html at its root).
func New(fsys fs.FS) http.Handler {
	h := &handler{fsys: fsys}
	if _, err := fs.Stat(fsys, "index.html"); err != nil {
		h.missing = true
	}
	return h
}

type handler struct {
	fsys    fs.FS
	missing bool
	files   sync.Map // clean path -> *file
}

// file is one served file, read and compressed once.
type file struct {
	once  sync.Once
	body  []byte
	gz    []byte // nil when not worth it
	etag  string
	ctype string
	err   error
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Content-Security-Policy", csp)
	p := path.Clean("/" + r.URL.Path)
	if h.missing {
		if strings.HasPrefix(p, StaticPrefix) {
			http.NotFound(w, r)
			return
		}
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(notBuiltPage)
		}
		return
	}
	name := strings.TrimPrefix(p, "/")
	if name == "" || hidden(name) || !h.isFile(name) {
		if strings.HasPrefix(p, StaticPrefix) {
			http.NotFound(w, r)
			return
		}
		name = "index.html" // a route of the app
	}
	f := h.load(name)
	if f.err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if strings.HasPrefix(p, StaticPrefix) {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("ETag", f.etag)
	body := f.body
	if f.gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hdr.Set("Content-Encoding", "gzip")
			hdr.Set("ETag", strings.TrimSuffix(f.etag, `"`)+`-gz"`)
			body = f.gz
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// hidden reports dotfiles (dist/.gitkeep), which are not part of the app.
func hidden(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

func (h *handler) isFile(name string) bool {
	st, err := fs.Stat(h.fsys, name)
	return err == nil && !st.IsDir()
}

func (h *handler) load(name string) *file {
	v, _ := h.files.LoadOrStore(name, &file{})
	f := v.(*file)
	f.once.Do(func() {
		f.body, f.err = fs.ReadFile(h.fsys, name)
		if f.err != nil {
			return
		}
		sum := sha256.Sum256(f.body)
		f.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
		f.ctype = mime.TypeByExtension(path.Ext(name))
		if f.ctype == "" {
			f.ctype = http.DetectContentType(f.body)
		}
		if compressible(f.ctype) && len(f.body) >= 1024 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(f.body)
			zw.Close()
			if buf.Len() < len(f.body)*9/10 {
				f.gz = buf.Bytes()
			}
		}
	})
	return f
}

func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/javascript", "text/javascript", "application/json", "image/svg+xml", "application/wasm"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0"
		}
	}
	return false
}

var notBuiltPage = []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Freshet: UI not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
code,pre{background:#8882;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><main>
<h1>Freshet is running; its web UI was not built into this binary</h1>
<p>Build the UI (needs Node.js 20.19 or newer and npm), then the binary:</p>
<pre>make ui build</pre>
<p>or <code>make dev</code>, which builds the UI first when npm is installed.
Meanwhile the REST API answers under <a href="/api/v1/assets">/api/v1</a>
(<a href="/api/v1/openapi.json">OpenAPI document</a>) and the CLI works: <code>freshet --help</code>.</p>
</main></body></html>
`)
