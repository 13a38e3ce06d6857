package api

import (
	"regexp"
	"strings"
	"testing"
)

var assetRef = regexp.MustCompile(`(?:src|href)="([^"]+)"`)

// TestPagesServeLocalAssets: every page is HTML whose scripts and stylesheets are
// served by concertd itself, so the pages work with no network beyond it.
func TestPagesServeLocalAssets(t *testing.T) {
	h := newHarness(t)
	for _, page := range []string{"/docs", "/concert-reservation-swagger/", "/", "/ops"} {
		r := h.do("GET", page, "")
		if r.status != 200 || !strings.HasPrefix(r.headers["content-type"], "text/html") {
			t.Fatalf("%s: %d %q", page, r.status, r.headers["content-type"])
		}
		if !strings.Contains(r.headers["content-security-policy"], "default-src 'self'") {
			t.Errorf("%s: no content security policy: %v", page, r.headers)
		}
		refs := assetRef.FindAllStringSubmatch(string(r.body), -1)
		if len(refs) < 2 {
			t.Fatalf("%s references %d assets: %s", page, len(refs), r.body)
		}
		for _, m := range refs {
			ref := m[1]
			if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
				t.Errorf("%s references %q: not a path on this server", page, ref)
				continue
			}
			if a := h.do("GET", ref, ""); a.status != 200 || len(a.body) == 0 {
				t.Errorf("%s references %s, which answers %d", page, ref, a.status)
			}
		}
	}
}

func TestDocsPointAtOpenAPI(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/docs/assets/init.js", "")
	if r.status != 200 || !strings.Contains(string(r.body), `url: "/openapi.json"`) {
		t.Fatalf("init.js: %d %s", r.status, r.body)
	}
	if !strings.HasPrefix(r.headers["content-type"], "text/javascript") {
		t.Errorf("init.js Content-Type %q", r.headers["content-type"])
	}
	if b := h.do("GET", "/docs/assets/swagger-ui-bundle.js", ""); !strings.Contains(string(b.body), "SwaggerUIBundle") {
		t.Fatalf("the vendored bundle is not swagger-ui: %d bytes", len(b.body))
	}
	if l := h.do("GET", "/docs/assets/LICENSE", ""); l.status != 200 || !strings.Contains(string(l.body), "Apache License") {
		t.Errorf("swagger-ui's license is not served: %d", l.status)
	}
}

func TestStaticCaching(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/docs/assets/swagger-ui-bundle.js", "", "Accept-Encoding", "gzip")
	if r.status != 200 || r.headers["content-encoding"] != "gzip" || r.headers["etag"] == "" {
		t.Fatalf("bundle: %d %v", r.status, r.headers)
	}
	again := h.do("GET", "/docs/assets/swagger-ui-bundle.js", "", "If-None-Match", r.headers["etag"])
	if again.status != 304 || len(again.body) != 0 {
		t.Fatalf("revalidation: %d, %d bytes", again.status, len(again.body))
	}
}

func TestStaticNotFound(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/web/nope.js", "/docs/assets/vendor.sh", "/web/%2e%2e%2fweb.go", "/docs/assets/"} {
		r := h.do("GET", p, "")
		if r.status != 404 || r.json(t)["code"] != "NOT_FOUND" {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}
