package api

import (
	"strings"
	"testing"
)

// TestHead checks that every kind of GET resource answers HEAD with GET's status
// and headers and no body (RFC 9110: a server that serves GET serves HEAD).
func TestHead(t *testing.T) {
	h := newHarness(t)
	f := h.fixture()
	cases := []struct {
		path    string
		headers []string
	}{
		{"/api/concerts", nil},
		{"/api/concerts/schedules", nil},
		{"/api/queue/status", bearer(f.token)},
		{"/api/queue/status", nil}, // 401: an error answers HEAD alike
		{"/api/admin/concerts/" + itoa(f.concertID) + "/stats", admin()},
		{"/healthz", nil},
		{"/openapi.json", nil},
		{"/docs", nil},
		{"/", nil},
	}
	for _, c := range cases {
		get := h.do("GET", c.path, "", c.headers...)
		head := h.do("HEAD", c.path, "", c.headers...)
		if head.status != get.status {
			t.Errorf("HEAD %s: status %d, GET's is %d", c.path, head.status, get.status)
		}
		if len(head.body) != 0 {
			t.Errorf("HEAD %s: a body of %d bytes", c.path, len(head.body))
		}
		for _, name := range []string{"content-type", "content-length"} {
			if head.headers[name] != get.headers[name] {
				t.Errorf("HEAD %s: %s %q, GET's is %q", c.path, name, head.headers[name], get.headers[name])
			}
		}
	}
}

// TestAllow checks that a 405's Allow header names exactly the methods that work
// on that path: each one listed is routed, and OPTIONS, which is a 405 here, is
// not listed.
func TestAllow(t *testing.T) {
	h := newHarness(t)
	f := h.fixture()
	cases := []struct {
		method, path string
		allow        string
	}{
		{"PUT", "/api/users", "POST"},
		{"GET", "/api/payments", "POST"},
		{"PATCH", "/api/reservations/1", "DELETE, GET, HEAD"},
		{"POST", "/api/queue/status", "GET, HEAD"},
		{"OPTIONS", "/api/concerts", "GET, HEAD"},
		{"DELETE", "/api/admin/concerts/1/queue", "PATCH"},
	}
	for _, c := range cases {
		r := h.do(c.method, c.path, "", bearer(f.token)...)
		if r.status != 405 {
			t.Fatalf("%s %s: status %d, want 405", c.method, c.path, r.status)
		}
		if got := r.headers["allow"]; got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		for _, m := range strings.Split(r.headers["allow"], ", ") {
			if again := h.do(m, c.path, "", bearer(f.token)...); again.status == 405 {
				t.Errorf("%s %s: Allow lists %s, which answers 405", c.method, c.path, m)
			}
		}
	}
}
