package api

import (
	"strings"
	"testing"
)

// TestUserKeysHTTP walks a user key through the contract: created with the user
// (the same key on a retry with the Idempotency-Key), entering with it, the
// balance endpoints with it and with the user token, a rotation, and the old
// key refused everywhere afterwards.
func TestUserKeysHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c, _ := h.concert(concertBody)
	body := `{"name":"Kim","email":"kim@example.com"}`
	first := h.mustStatus(201, "POST", "/api/users", body, "Idempotency-Key", "signup-kim")
	again := h.mustStatus(201, "POST", "/api/users", body, "Idempotency-Key", "signup-kim")
	key, _ := first["userKey"].(string)
	if key == "" || again["userKey"] != key || again["userId"] != first["userId"] {
		t.Fatalf("creation %v and its retry %v: want the same userId and userKey", first, again)
	}
	if strings.Contains(key, "kim") || len(key) < 40 {
		t.Fatalf("user key %q: too short, or carries the profile", key)
	}
	uid := number(t, first, "userId")
	other := h.user("lee")

	enter := `{"concertId":` + itoa(c) + `}`
	grant := h.mustStatus(201, "POST", "/api/users/token", enter, bearer(key)...)
	tok := grant["userToken"].(string)
	// A userId in the body must be the key's user.
	h.mustStatus(200, "POST", "/api/users/token", `{"userId":`+itoa(uid)+`,"concertId":`+itoa(c)+`}`, bearer(key)...)
	m := h.mustStatus(401, "POST", "/api/users/token", `{"userId":`+itoa(other)+`,"concertId":`+itoa(c)+`}`, bearer(key)...)
	if m["code"] != "TOKEN_INVALID" {
		t.Fatalf("another user's userId with a key: %v", m)
	}
	// The balance endpoints take the key and the user token, for the same user.
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":1000}`, bearer(key)...)
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":500}`, bearer(tok)...)
	if b := h.mustStatus(200, "GET", "/api/users/balance", "", bearer(key)...); number(t, b, "currentBalance") != 1500 {
		t.Fatalf("balance by key: %v, want 1500", b)
	}
	if b := h.mustStatus(200, "GET", "/api/users/balance", "", bearer(h.key(other))...); number(t, b, "currentBalance") != 0 {
		t.Fatalf("the other user's balance: %v, want 0", b)
	}

	rot := h.mustStatus(200, "POST", "/api/users/key", "", bearer(key)...)
	fresh, _ := rot["userKey"].(string)
	if number(t, rot, "userId") != uid || fresh == "" || fresh == key {
		t.Fatalf("rotation: %v", rot)
	}
	for _, try := range []struct{ method, path, body string }{
		{"POST", "/api/users/token", enter},
		{"POST", "/api/users/balance/charge", `{"amount":1}`},
		{"GET", "/api/users/balance", ""},
		{"POST", "/api/users/key", ""},
	} {
		if m := h.mustStatus(401, try.method, try.path, try.body, bearer(key)...); m["code"] != "TOKEN_INVALID" {
			t.Fatalf("%s %s with the rotated key: %v", try.method, try.path, m)
		}
	}
	if g := h.mustStatus(200, "POST", "/api/users/token", enter, bearer(fresh)...); g["userToken"] != tok {
		t.Fatalf("entering with the new key: %v, want the same live token", g)
	}
	if b := h.mustStatus(200, "GET", "/api/users/balance", "", bearer(fresh)...); number(t, b, "currentBalance") != 1500 {
		t.Fatalf("balance by the new key: %v", b)
	}
}

// TestUserAuthNone: USER_AUTH=none lets a bare userId enter, and a credential
// given anyway must still be right and agree with the body.
func TestUserAuthNone(t *testing.T) {
	t.Parallel()
	h, _ := startHarnessWith(t, nil, nil, func(o *Options) { o.UserAuthNone = true })
	c, _ := h.concert(concertBody)
	a, b := h.user("kim"), h.user("lee")
	h.mustStatus(201, "POST", "/api/users/token", `{"userId":`+itoa(a)+`,"concertId":`+itoa(c)+`}`)
	if m := h.mustStatus(400, "POST", "/api/users/token", `{"concertId":`+itoa(c)+`}`); m["code"] != "BAD_REQUEST" {
		t.Fatalf("no credential and no userId: %v", m)
	}
	if m := h.mustStatus(401, "POST", "/api/users/token", `{"userId":`+itoa(a)+`,"concertId":`+itoa(c)+`}`, bearer(h.key(b))...); m["code"] != "TOKEN_INVALID" {
		t.Fatalf("b's key with a's userId: %v", m)
	}
	h.mustStatus(201, "POST", "/api/users/token", `{"concertId":`+itoa(c)+`}`, bearer(h.key(b))...)
}

// TestRateLimitPerUser: every endpoint that takes a credential is limited per
// user, whichever credential the user sends (key or token count alike), and a
// script hammering one endpoint meets the limit within its burst; another user
// and another endpoint keep their own allowance.
func TestRateLimitPerUser(t *testing.T) {
	t.Parallel()
	h, _ := buildHarnessListener(t, nil, RateLimits{User: Limit{Rate: 1, Burst: 4}})
	f := h.fixture()
	other := h.user("lee")
	key := h.key(f.userID)
	for i := range 4 {
		creds := bearer(key)
		if i%2 == 1 {
			creds = bearer(f.token)
		}
		h.mustStatus(200, "GET", "/api/users/balance", "", creds...)
	}
	mustLimited(t, h.do("GET", "/api/users/balance", "", bearer(key)...), "1")
	mustLimited(t, h.do("GET", "/api/users/balance", "", bearer(f.token)...), "1")
	h.mustStatus(200, "GET", "/api/users/balance", "", bearer(h.key(other))...)
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":1}`, bearer(key)...)

	// Entering: per user as well (the fixture's entry spent one).
	enter := `{"concertId":` + itoa(f.concertID) + `}`
	for range 3 {
		h.mustStatus(200, "POST", "/api/users/token", enter, bearer(key)...)
	}
	mustLimited(t, h.do("POST", "/api/users/token", enter, bearer(key)...), "1")

	// Token endpoints without a limit of their own: the reservation lookup.
	for range 4 {
		h.mustStatus(404, "GET", "/api/reservations/12345", "", bearer(f.token)...)
	}
	mustLimited(t, h.do("GET", "/api/reservations/12345", "", bearer(f.token)...), "1")
	// A refused credential is not limited by the user it names: it is a 401.
	if r := h.do("GET", "/api/users/balance", "", bearer(key+"x")...); r.status != 401 {
		t.Fatalf("a bad key: %d %s, want 401", r.status, r.body)
	}
	h.clk.Advance(1e9)
	h.mustStatus(200, "GET", "/api/users/balance", "", bearer(key)...)
}
