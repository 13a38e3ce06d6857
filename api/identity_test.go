package api

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/identity"
)

// lateUsers is the harness's engine as identity.Users, set once the harness
// (which takes the Options first) has made it.
type lateUsers struct{ e *engine.Engine }

func (u *lateUsers) ExternalUser(ctx context.Context, id engine.ExternalIdentity) (int64, error) {
	return u.e.ExternalUser(ctx, id)
}

// TestIdentityTokensOverHTTP: a JWT from the site's own login, checked by the real
// verifier, enters a waiting room and pays into the balance as the user its sub
// names (one user per sub, made on first sight); forged, expired and alg-none
// tokens are 401 and create nobody.
func TestIdentityTokensOverHTTP(t *testing.T) {
	t.Parallel()
	secret := []byte("an-identity-secret-of-at-least-32-bytes!")
	v, err := identity.New(identity.Config{Secret: secret, Issuer: "https://login.example", Audience: "concertd"})
	if err != nil {
		t.Fatal(err)
	}
	users := &lateUsers{}
	h, _ := startHarnessWith(t, nil, nil, func(o *Options) { o.Identity = identity.NewTokens(v, users) })
	users.e = h.e
	c, _ := h.concert(concertBody)
	enter := `{"concertId":` + itoa(c) + `}`

	sign := func(key []byte, method jwt.SigningMethod, claims jwt.MapClaims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(sub string, exp time.Duration) jwt.MapClaims {
		return jwt.MapClaims{
			"sub": sub, "iss": "https://login.example", "aud": "concertd",
			"exp": time.Now().Add(exp).Unix(), "name": "Site Kim", "email": "site-kim@example.com",
		}
	}
	good := sign(secret, jwt.SigningMethodHS256, claims("site-42", time.Hour))

	first := h.mustStatus(201, "POST", "/api/users/token", enter, bearer(good)...)
	// Another token for the same sub is the same user: the same place in line.
	again := sign(secret, jwt.SigningMethodHS256, claims("site-42", 2*time.Hour))
	if second := h.mustStatus(200, "POST", "/api/users/token", enter, bearer(again)...); second["userToken"] != first["userToken"] {
		t.Fatalf("two identity tokens of one sub got different places: %v, %v", first, second)
	}
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":1200}`, bearer(good)...)
	if b := h.mustStatus(200, "GET", "/api/users/balance", "", bearer(again)...); number(t, b, "currentBalance") != 1200 {
		t.Fatalf("balance through the identity token: %v, want 1200", b)
	}

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims("site-43", time.Hour)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	wrongAud := claims("site-44", time.Hour)
	wrongAud["aud"] = "another-service"
	for _, tc := range []struct {
		name, raw, code string
	}{
		{"alg none", none, "TOKEN_INVALID"},
		{"another secret", sign([]byte("not-the-identity-secret-but-as-long-as-it"), jwt.SigningMethodHS256, claims("site-45", time.Hour)), "TOKEN_INVALID"},
		{"another audience", sign(secret, jwt.SigningMethodHS256, wrongAud), "TOKEN_INVALID"},
		{"expired", sign(secret, jwt.SigningMethodHS256, claims("site-46", -time.Hour)), "TOKEN_EXPIRED"},
		{"truncated", good[:len(good)-5], "TOKEN_INVALID"},
	} {
		if m := h.mustStatus(401, "POST", "/api/users/token", enter, bearer(tc.raw)...); m["code"] != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, m, tc.code)
		}
	}
	// Refused tokens made nobody: the one sub seen is the one user in line.
	if st := h.mustStatus(200, "GET", "/api/admin/concerts/"+itoa(c)+"/stats", "", admin()...); number(t, st, "waiting")+number(t, st, "active") != 1 {
		t.Fatalf("stats %v: want exactly the one identity user in line", st)
	}
}

// fakeIdentity stands for the operator's login: it knows some raw tokens.
type fakeIdentity map[string]int64

func (f fakeIdentity) UserFor(_ context.Context, raw string) (int64, error) {
	switch raw {
	case "expired-jwt":
		return 0, engine.ErrTokenExpired
	}
	if id, ok := f[raw]; ok {
		return id, nil
	}
	return 0, engine.ErrTokenInvalid
}

// TestIdentityDispatch: a credential that is neither a user key nor a user token
// goes to Options.Identity when one is configured, and is TOKEN_INVALID when not;
// what the hook says is the caller; keys and tokens never reach it; an identity
// token cannot rotate a key.
func TestIdentityDispatch(t *testing.T) {
	t.Parallel()
	ids := fakeIdentity{}
	h, _ := startHarnessWith(t, nil, nil, func(o *Options) { o.Identity = ids })
	c, _ := h.concert(concertBody)
	kim := h.user("kim")
	ids["site-jwt-kim"] = kim
	// A hook that answers for every raw value would be asked a key's user too if
	// the dispatch sent keys there: it must never be.
	ids[h.key(kim)] = 999

	enter := `{"concertId":` + itoa(c) + `}`
	g := h.mustStatus(201, "POST", "/api/users/token", enter, bearer("site-jwt-kim")...)
	if g2 := h.mustStatus(200, "POST", "/api/users/token", enter, bearer(h.key(kim))...); g2["userToken"] != g["userToken"] {
		t.Fatalf("the key and the identity token entered different users: %v, %v", g, g2)
	}
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":700}`, bearer("site-jwt-kim")...)
	if b := h.mustStatus(200, "GET", "/api/users/balance", "", bearer(h.key(kim))...); number(t, b, "currentBalance") != 700 {
		t.Fatalf("balance: %v, want the identity token's charge", b)
	}
	for _, c := range []struct {
		raw, path, code string
	}{
		{"expired-jwt", "/api/users/token", "TOKEN_EXPIRED"},
		{"unknown-jwt", "/api/users/token", "TOKEN_INVALID"},
		{"site-jwt-kim", "/api/users/key", "TOKEN_INVALID"},
	} {
		if m := h.mustStatus(401, "POST", c.path, enter, bearer(c.raw)...); m["code"] != c.code {
			t.Errorf("%s on %s: %v, want %s", c.raw, c.path, m, c.code)
		}
	}

	// Without a hook the same credential is refused.
	plain := newHarness(t)
	pc, _ := plain.concert(concertBody)
	if m := plain.mustStatus(401, "POST", "/api/users/token", `{"concertId":`+itoa(pc)+`}`, bearer("site-jwt-kim")...); m["code"] != "TOKEN_INVALID" {
		t.Fatalf("identity token with no hook: %v", m)
	}
}
