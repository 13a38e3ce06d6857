package api

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/concertd/concertd/engine"
)

// pageRoutesOutsideContract are the routes the OpenAPI document leaves out on
// purpose: HTML pages and their assets, which are not part of the JSON API.
var pageRoutesOutsideContract = []string{
	"GET /",
	"GET /ops",
	"GET /web/{file}",
	"GET /docs",
	"GET /docs/assets/{file}",
	"GET /concert-reservation-swagger/",
}

func fetchOpenAPI(t *testing.T, h *harness) map[string]any {
	t.Helper()
	return h.mustStatus(200, "GET", "/openapi.json", "")
}

// TestOpenAPIMatchesRouter fails when a route is added to the router without
// being documented, or documented without being served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	h := newHarness(t)
	doc := fetchOpenAPI(t, h)
	for _, d := range routeDiff(h.srv, doc) {
		t.Error(d)
	}
	// The check itself must see a route nobody documented.
	h.srv.handle("GET", "/undocumented", h.srv.healthz)
	if d := routeDiff(h.srv, doc); len(d) != 1 || !strings.Contains(d[0], "GET /undocumented") {
		t.Errorf("an undocumented route gave %q", d)
	}
}

func routeDiff(srv *Server, doc map[string]any) []string {
	var diff []string
	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	routed := map[string]bool{}
	list := srv.router.List()
	for method, paths := range list {
		for _, p := range paths {
			routed[method+" "+p] = true
		}
	}
	// HEAD goes with GET (Server.handle registers both); the document lists GET.
	for _, p := range list["HEAD"] {
		if !routed["GET "+p] {
			diff = append(diff, "HEAD "+p+" is routed without GET")
		}
		delete(routed, "HEAD "+p)
	}
	for _, r := range pageRoutesOutsideContract {
		if !routed[r] {
			diff = append(diff, r+" is listed as an exception but is not routed; drop it from the list")
		}
		delete(routed, r)
	}
	for r := range routed {
		if !documented[r] {
			diff = append(diff, r+" is routed but not in /openapi.json (add it to operations in openapi.go)")
		}
	}
	for r := range documented {
		if !routed[r] {
			diff = append(diff, r+" is in /openapi.json but no route serves it")
		}
	}
	slices.Sort(diff)
	return diff
}

// TestOpenAPIErrorCodes checks every error answer against statusOf, and that
// every contract code is documented somewhere.
func TestOpenAPIErrorCodes(t *testing.T) {
	h := newHarness(t)
	doc := fetchOpenAPI(t, h)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi version %q", v)
	}
	seen := map[string]bool{}
	check := func(where, status string, resp map[string]any) {
		st, err := strconv.Atoi(status)
		if err != nil {
			t.Errorf("%s: status %q", where, status)
			return
		}
		if st < 400 {
			return
		}
		schema := resp["content"].(map[string]any)[contentTypeJSON].(map[string]any)["schema"].(map[string]any)
		enum := schema["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]any)
		if len(enum) == 0 {
			t.Errorf("%s %d: no codes", where, st)
		}
		for _, c := range enum {
			code := engine.Code(c.(string))
			want, ok := statusOf[code]
			if !ok {
				t.Errorf("%s %d: %s is not a contract code", where, st, code)
			} else if want != st {
				t.Errorf("%s: %s documented as %d, served as %d", where, code, st, want)
			}
			seen[string(code)] = true
		}
	}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			responses := op.(map[string]any)["responses"].(map[string]any)
			success := false
			for status, resp := range responses {
				check(method+" "+path, status, resp.(map[string]any))
				success = success || strings.HasPrefix(status, "2")
			}
			if !success {
				t.Errorf("%s %s has no success answer", method, path)
			}
		}
	}
	components := doc["components"].(map[string]any)
	for name, resp := range components["responses"].(map[string]any) {
		r := resp.(map[string]any)
		for status := range statusesOf(r) {
			check("components.responses."+name, status, r)
		}
	}
	for code := range statusOf {
		if !seen[string(code)] {
			t.Errorf("%s is in statusOf but in no documented answer", code)
		}
	}
	// Every $ref names a schema that exists.
	schemas := components["schemas"].(map[string]any)
	raw, _ := json.Marshal(doc)
	for _, part := range strings.Split(string(raw), `"$ref":"#/components/schemas/`)[1:] {
		name := part[:strings.IndexByte(part, '"')]
		if _, ok := schemas[name]; !ok {
			t.Errorf("$ref to missing schema %s", name)
		}
	}
}

// statusesOf maps a components response to the one status its codes share.
func statusesOf(resp map[string]any) map[string]bool {
	out := map[string]bool{}
	desc, _ := resp["description"].(string)
	for _, c := range strings.Split(desc, ", ") {
		if st, ok := statusOf[engine.Code(c)]; ok {
			out[strconv.Itoa(st)] = true
		}
	}
	return out
}

func TestOpenAPIOperationIDsUnique(t *testing.T) {
	var ids []string
	for _, op := range operations {
		id := operationID(op.method, op.path)
		if slices.Contains(ids, id) {
			t.Errorf("duplicate operationId %s", id)
		}
		ids = append(ids, id)
	}
}
