package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/web"
)

// docsFiles is the API's browsable documentation: swagger-ui, vendored by
// docs/vendor.sh, and the page that points it at /openapi.json. Embedded so the
// docs work offline and never load a CDN at run time.
//
//go:embed docs/index.html docs/init.js docs/swagger-ui.css docs/swagger-ui-bundle.js docs/LICENSE
var docsFiles embed.FS

// pageRoutes registers what people open in a browser: the OpenAPI document and
// its viewer, the buyer page and the operator view. They are outside API.md's
// JSON conventions (HTML, CSS, JavaScript), which is why openapi_test.go names
// them as exceptions rather than expecting them in the document.
func (s *Server) pageRoutes() {
	s.handle("GET", "/openapi.json", s.serveOpenAPI)

	docs := mustSub(docsFiles, "docs")
	s.handle("GET", "/docs", serveFile(docs, "index.html"))
	s.handle("GET", "/concert-reservation-swagger/", serveFile(docs, "index.html"))
	s.handle("GET", "/docs/assets/{file}", serveDir(docs))

	pages := web.Files()
	s.handle("GET", "/", serveFile(pages, "index.html"))
	s.handle("GET", "/ops", serveFile(pages, "ops.html"))
	s.handle("GET", "/web/{file}", serveDir(pages))
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// staticFile is one embedded file ready to serve. The gzipped copy is made on
// first request, not at start: the swagger bundle is 1.7 MB, and most processes
// (and every test server) never serve it.
type staticFile struct {
	body  []byte
	ctype string
	etag  string
	gzip  func() []byte
}

// staticFiles caches by file system and name: the files are embedded, so one
// copy serves every Server in the process.
var staticFiles sync.Map // staticKey -> *staticFile

type staticKey struct {
	fsys fs.FS
	name string
}

func loadStatic(fsys fs.FS, name string) (*staticFile, bool) {
	k := staticKey{fsys, name}
	if f, ok := staticFiles.Load(k); ok {
		return f.(*staticFile), true
	}
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256(body)
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "text/plain; charset=utf-8"
	}
	f := &staticFile{
		body:  body,
		ctype: ctype,
		etag:  `"` + hex.EncodeToString(sum[:8]) + `"`,
		gzip:  sync.OnceValue(func() []byte { return fasthttp.AppendGzipBytesLevel(nil, body, fasthttp.CompressBestCompression) }),
	}
	actual, _ := staticFiles.LoadOrStore(k, f)
	return actual.(*staticFile), true
}

// pagePolicy allows the pages nothing from elsewhere: a page that slipped a CDN
// link in would break in the browser at once instead of leaking visitors' addresses.
// swagger-ui sets inline styles and draws icons from data: URIs.
const pagePolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"

func (f *staticFile) serve(rc *fasthttp.RequestCtx) {
	h := &rc.Response.Header
	h.Set(fasthttp.HeaderETag, f.etag)
	// no-cache: revalidate every time, since an upgrade keeps the same path; the
	// ETag makes that a 304 without a body.
	h.Set(fasthttp.HeaderCacheControl, "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(fasthttp.HeaderVary, "Accept-Encoding")
	h.SetContentType(f.ctype)
	if bytes.HasPrefix([]byte(f.ctype), []byte("text/html")) {
		h.Set("Content-Security-Policy", pagePolicy)
	}
	if inm := rc.Request.Header.Peek(fasthttp.HeaderIfNoneMatch); len(inm) > 0 && string(inm) == f.etag {
		rc.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	// SetBodyRaw: the bytes are shared by every request and never change.
	if len(f.body) > 1024 && rc.Request.Header.HasAcceptEncoding("gzip") {
		h.Set(fasthttp.HeaderContentEncoding, "gzip")
		rc.Response.SetBodyRaw(f.gzip())
		return
	}
	rc.Response.SetBodyRaw(f.body)
}

func serveFile(fsys fs.FS, name string) handlerFunc {
	if _, ok := loadStatic(fsys, name); !ok {
		panic("api: embedded page missing: " + name)
	}
	return func(_ context.Context, rc *fasthttp.RequestCtx) error {
		f, _ := loadStatic(fsys, name)
		f.serve(rc)
		return nil
	}
}

// serveDir serves the {file} path parameter from fsys. The router's parameter
// never holds a slash, and fs.FS refuses "..", so nothing outside fsys is reachable.
func serveDir(fsys fs.FS) handlerFunc {
	return func(_ context.Context, rc *fasthttp.RequestCtx) error {
		name, _ := rc.UserValue("file").(string)
		if !fs.ValidPath(name) {
			return engine.Errorf(engine.CodeNotFound, "no such file")
		}
		f, ok := loadStatic(fsys, name)
		if !ok {
			return engine.Errorf(engine.CodeNotFound, "no such file")
		}
		f.serve(rc)
		return nil
	}
}
