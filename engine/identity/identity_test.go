package identity_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/identity"
)

// TestVerifyHostileTokens: good tokens of every configured algorithm pass, and
// each way of forging, stretching or misdirecting a token is refused with the
// contract's code.
func TestVerifyHostileTokens(t *testing.T) {
	t.Parallel()
	k := siteKeys(t)
	full := newVerifier(t, fullConfig(k))
	// Only public keys: no HS256 at all.
	jwksOnly := newVerifier(t, identity.Config{JWKS: k.jwks, Now: func() time.Time { return now }})
	// Only the secret: no public-key algorithm at all.
	hsOnly := newVerifier(t, identity.Config{Secret: hsSecret, Now: func() time.Time { return now }})
	good := claims()
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, "", c, hsSecret) }
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, "rsa-1", c, k.rsa) }
	none := func(alg string) string {
		tok := sign(t, jwt.SigningMethodNone, "", good, jwt.UnsafeAllowNoneSignatureType)
		if alg == "none" {
			return tok
		}
		// The same unsigned token with the alg spelled otherwise.
		_, rest, _ := strings.Cut(tok, ".")
		return b64([]byte(`{"alg":"`+alg+`","typ":"JWT"}`)) + "." + rest
	}
	alterPayload := func(tok string) string {
		parts := strings.Split(tok, ".")
		c := claims()
		c["sub"] = "site-user-1"
		parts[1] = strings.Split(hs(c), ".")[1]
		return strings.Join(parts, ".")
	}
	// An HS256 signature is 32 bytes: 43 base64url characters whose last one
	// carries 2 unused bits. Setting them decodes to the same signature under a
	// lenient decoder, so it is a second spelling of a signed token.
	unusedBits := func(tok string) string {
		i := strings.LastIndexByte(tok, '.')
		sig := []byte(tok[i+1:])
		last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
		sig[len(sig)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]
		if last|1 == last {
			sig[len(sig)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last&^1]
		}
		return tok[:i+1] + string(sig)
	}

	tests := []struct {
		name string
		v    *identity.Verifier
		tok  string
		want engine.Code // "" = accepted
	}{
		{name: "HS256", tok: hs(good)},
		{name: "RS256 with kid", tok: rs(good)},
		{name: "RS256 without kid", tok: sign(t, jwt.SigningMethodRS256, "", good, k.rsa)},
		{name: "ES256", tok: sign(t, jwt.SigningMethodES256, "ec-1", good, k.ec)},
		{name: "ES256 without kid", tok: sign(t, jwt.SigningMethodES256, "", good, k.ec)},
		{name: "EdDSA", tok: sign(t, jwt.SigningMethodEdDSA, "ed-1", good, k.ed)},
		{name: "aud among several", tok: hs(with(func(c jwt.MapClaims) { c["aud"] = []string{"other", audience} }))},
		{name: "expired within leeway", tok: hs(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }))},
		{name: "nbf within leeway", tok: hs(with(func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Second).Unix() }))},
		{name: "no profile", tok: hs(with(func(c jwt.MapClaims) { delete(c, "name"); delete(c, "email") }))},
		{name: "profile of odd types", tok: hs(with(func(c jwt.MapClaims) { c["name"] = 42; c["email"] = []string{"a"} }))},
		{name: "JWKS-only verifier, EdDSA", v: jwksOnly, tok: sign(t, jwt.SigningMethodEdDSA, "ed-1", good, k.ed)},
		{name: "no iss or aud configured", v: hsOnly, tok: hs(with(func(c jwt.MapClaims) { delete(c, "iss"); delete(c, "aud") }))},

		{name: "alg none", tok: none("none"), want: engine.CodeTokenInvalid},
		{name: "alg None", tok: none("None"), want: engine.CodeTokenInvalid},
		{name: "alg NONE", tok: none("NONE"), want: engine.CodeTokenInvalid},
		{name: "alg none, JWKS-only", v: jwksOnly, tok: none("none"), want: engine.CodeTokenInvalid},
		{name: "HS256 wrong secret", tok: sign(t, jwt.SigningMethodHS256, "", good, []byte("another-secret-of-at-least-32-bytes!!")), want: engine.CodeTokenInvalid},
		{name: "RS256 wrong key", tok: sign(t, jwt.SigningMethodRS256, "rsa-1", good, k.otherRSA), want: engine.CodeTokenInvalid},
		{name: "RS256 wrong key, no kid", tok: sign(t, jwt.SigningMethodRS256, "", good, k.otherRSA), want: engine.CodeTokenInvalid},
		{name: "ES256 wrong key", tok: sign(t, jwt.SigningMethodES256, "ec-1", good, k.otherEC), want: engine.CodeTokenInvalid},
		{name: "EdDSA wrong key", tok: sign(t, jwt.SigningMethodEdDSA, "ed-1", good, k.otherEd), want: engine.CodeTokenInvalid},
		{name: "RS256 kid with HS256 over the PEM", tok: sign(t, jwt.SigningMethodHS256, "rsa-1", good, k.rsaPEM), want: engine.CodeTokenInvalid},
		{name: "RS256 kid with HS256 over the PEM, JWKS-only", v: jwksOnly, tok: sign(t, jwt.SigningMethodHS256, "rsa-1", good, k.rsaPEM), want: engine.CodeTokenInvalid},
		{name: "RS256 kid with HS256 over the modulus", v: jwksOnly, tok: sign(t, jwt.SigningMethodHS256, "rsa-1", good, k.rsa.N.Bytes()), want: engine.CodeTokenInvalid},
		{name: "EC kid with RS256", tok: sign(t, jwt.SigningMethodRS256, "ec-1", good, k.rsa), want: engine.CodeTokenInvalid},
		{name: "RSA kid with ES256", tok: sign(t, jwt.SigningMethodES256, "rsa-1", good, k.ec), want: engine.CodeTokenInvalid},
		{name: "unknown kid", tok: sign(t, jwt.SigningMethodRS256, "rsa-2", good, k.rsa), want: engine.CodeTokenInvalid},
		{name: "kid not a string", tok: func() string {
			tk := jwt.NewWithClaims(jwt.SigningMethodRS256, good)
			tk.Header["kid"] = 1
			s, _ := tk.SignedString(k.rsa)
			return s
		}(), want: engine.CodeTokenInvalid},
		{name: "HS512 not configured", tok: sign(t, jwt.SigningMethodHS512, "", good, hsSecret), want: engine.CodeTokenInvalid},
		{name: "RS512 not configured", tok: sign(t, jwt.SigningMethodRS512, "rsa-1", good, k.rsa), want: engine.CodeTokenInvalid},
		{name: "PS256 not configured", tok: sign(t, jwt.SigningMethodPS256, "rsa-1", good, k.rsa), want: engine.CodeTokenInvalid},
		{name: "ES256 to a secret-only verifier", v: hsOnly, tok: sign(t, jwt.SigningMethodES256, "ec-1", good, k.ec), want: engine.CodeTokenInvalid},
		{name: "HS256 to a JWKS-only verifier", v: jwksOnly, tok: hs(good), want: engine.CodeTokenInvalid},
		{name: "wrong issuer", tok: hs(with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com/" })), want: engine.CodeTokenInvalid},
		{name: "no issuer", tok: hs(with(func(c jwt.MapClaims) { delete(c, "iss") })), want: engine.CodeTokenInvalid},
		{name: "wrong audience", tok: hs(with(func(c jwt.MapClaims) { c["aud"] = "another-app" })), want: engine.CodeTokenInvalid},
		{name: "no audience", tok: hs(with(func(c jwt.MapClaims) { delete(c, "aud") })), want: engine.CodeTokenInvalid},
		{name: "expired", tok: hs(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), want: engine.CodeTokenExpired},
		{name: "expired, RS256", tok: rs(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })), want: engine.CodeTokenExpired},
		{name: "not yet valid", tok: hs(with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), want: engine.CodeTokenInvalid},
		{name: "no exp", tok: hs(with(func(c jwt.MapClaims) { delete(c, "exp") })), want: engine.CodeTokenInvalid},
		{name: "exp not a number", tok: hs(with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), want: engine.CodeTokenInvalid},
		{name: "no sub", tok: hs(with(func(c jwt.MapClaims) { delete(c, "sub") })), want: engine.CodeTokenInvalid},
		{name: "sub not a string", tok: hs(with(func(c jwt.MapClaims) { c["sub"] = 7 })), want: engine.CodeTokenInvalid},
		{name: "payload altered", tok: alterPayload(hs(good)), want: engine.CodeTokenInvalid},
		{name: "signature in another spelling", tok: unusedBits(hs(good)), want: engine.CodeTokenInvalid},
		{name: "signature cut", tok: hs(good)[:len(hs(good))-4], want: engine.CodeTokenInvalid},
		{name: "no signature", tok: hs(good)[:strings.LastIndexByte(hs(good), '.')+1], want: engine.CodeTokenInvalid},
		{name: "two segments", tok: hs(good)[:strings.LastIndexByte(hs(good), '.')], want: engine.CodeTokenInvalid},
		{name: "padding", tok: hs(good) + "=", want: engine.CodeTokenInvalid},
		{name: "empty", tok: "", want: engine.CodeTokenInvalid},
		{name: "garbage", tok: "not.a.jwt", want: engine.CodeTokenInvalid},
		{name: "huge", tok: hs(with(func(c jwt.MapClaims) { c["name"] = strings.Repeat("x", 9000) })), want: engine.CodeTokenInvalid},
		{name: "a user token", tok: "v1.1.7.1.1764662400.AAAAAAAAAAAAAAAAAAAAAAAA", want: engine.CodeTokenInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := tc.v
			if v == nil {
				v = full
			}
			got, err := v.Verify(tc.tok)
			if tc.want == "" {
				if err != nil || got.Subject != "site-user-7" {
					t.Fatalf("Verify = %+v, %v; want sub site-user-7", got, err)
				}
				return
			}
			var ee *engine.Error
			if !errors.As(err, &ee) || ee.Code != tc.want {
				t.Fatalf("Verify = %+v, %v; want %s", got, err, tc.want)
			}
			if got != (engine.ExternalIdentity{}) {
				t.Errorf("a refused token still named %+v", got)
			}
		})
	}
}

func TestVerifyProfile(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, fullConfig(siteKeys(t)))
	got, err := v.Verify(sign(t, jwt.SigningMethodHS256, "", claims(), hsSecret))
	want := engine.ExternalIdentity{Subject: "site-user-7", Name: "Kim Minji", Email: "minji@example.com"}
	if err != nil || got != want {
		t.Errorf("Verify = %+v, %v; want %+v", got, err, want)
	}
}

// TestLeeway: exp and nbf get DefaultLeeway unless configured otherwise.
func TestLeeway(t *testing.T) {
	t.Parallel()
	tok := sign(t, jwt.SigningMethodHS256, "", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Second).Unix() }), hsSecret)
	for _, tc := range []struct {
		leeway time.Duration
		want   error
	}{
		{0, nil}, // DefaultLeeway
		{time.Second, engine.ErrTokenExpired},
		{-1, engine.ErrTokenExpired},
		{time.Minute, nil},
	} {
		v := newVerifier(t, identity.Config{Secret: hsSecret, Leeway: tc.leeway, Now: func() time.Time { return now }})
		if _, err := v.Verify(tok); !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
			t.Errorf("leeway %v: %v, want %v", tc.leeway, err, tc.want)
		}
	}
}

// TestNewRefusesBadConfig: a configuration that would trust too much, or could
// never verify anything, is an error that names what is wrong.
func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	k := siteKeys(t)
	weak, err := rsaKey1024()
	if err != nil {
		t.Fatal(err)
	}
	offCurve := ecJWK("ec-x", &k.ec.PublicKey)
	offCurve["y"] = offCurve["x"]
	tests := []struct {
		name string
		c    identity.Config
		want string
	}{
		{"nothing", identity.Config{Issuer: issuer}, "no key"},
		{"short secret", identity.Config{Secret: []byte("short")}, "at least 32"},
		{"not JSON", identity.Config{JWKS: []byte("-----BEGIN PUBLIC KEY-----")}, "not a JSON Web Key Set"},
		{"trailing data", identity.Config{JWKS: append(keySet(rsaJWK("a", &k.rsa.PublicKey)), "{}"...)}, "data after"},
		{"no keys", identity.Config{JWKS: []byte(`{"keys": []}`)}, "no keys"},
		{"a bare key", identity.Config{JWKS: []byte(`{"kty": "OKP"}`)}, "no keys"},
		{"private RSA", identity.Config{JWKS: keySet(with2(rsaJWK("p", &k.rsa.PublicKey), "d", b64(k.rsa.D.Bytes())))}, "private"},
		{"symmetric", identity.Config{JWKS: keySet(jwkMap{"kty": "oct", "k": b64(hsSecret)})}, "private or symmetric"},
		{"RSA 1024", identity.Config{JWKS: keySet(rsaJWK("w", &weak.PublicKey))}, "1024 bits"},
		{"RSA even e", identity.Config{JWKS: keySet(with2(rsaJWK("e", &k.rsa.PublicKey), "e", b64([]byte{1, 0, 0})))}, "exponent"},
		{"P-384", identity.Config{JWKS: keySet(with2(ecJWK("c", &k.ec.PublicKey), "crv", "P-384"))}, "P-256"},
		{"off the curve", identity.Config{JWKS: keySet(offCurve)}, "not a point"},
		{"X25519", identity.Config{JWKS: keySet(with2(edJWK("x", k.ed.Public().(ed25519.PublicKey)), "crv", "X25519"))}, "Ed25519"},
		{"Ed25519 short", identity.Config{JWKS: keySet(jwkMap{"kty": "OKP", "crv": "Ed25519", "x": b64([]byte("short"))})}, "32 bytes"},
		{"encryption key", identity.Config{JWKS: keySet(with2(rsaJWK("enc", &k.rsa.PublicKey), "use", "enc"))}, "use"},
		{"key_ops sign only", identity.Config{JWKS: keySet(with2(edJWK("s", k.ed.Public().(ed25519.PublicKey)), "key_ops", []string{"sign"}))}, "key_ops"},
		{"alg of another kind", identity.Config{JWKS: keySet(with2(rsaJWK("r", &k.rsa.PublicKey), "alg", "HS256"))}, "alg"},
		{"RS512 key", identity.Config{JWKS: keySet(with2(rsaJWK("r", &k.rsa.PublicKey), "alg", "RS512"))}, "alg"},
		{"unknown kty", identity.Config{JWKS: keySet(jwkMap{"kty": "AKP", "kid": "pq"})}, "kty"},
		{"padded base64", identity.Config{JWKS: keySet(with2(edJWK("p", k.ed.Public().(ed25519.PublicKey)), "x", b64(k.ed.Public().(ed25519.PublicKey))+"="))}, "base64url"},
		{"duplicate kid", identity.Config{JWKS: keySet(rsaJWK("same", &k.rsa.PublicKey), edJWK("same", k.ed.Public().(ed25519.PublicKey)))}, "another key has this kid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := identity.New(tc.c)
			if err == nil || v != nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("New = %v, %v; want one line with %q", v, err, tc.want)
			}
		})
	}
	// And the good set is accepted with the algorithms its keys verify.
	v := newVerifier(t, fullConfig(k))
	if got := strings.Join(v.Algorithms(), ","); got != "ES256,EdDSA,HS256,RS256" {
		t.Errorf("Algorithms = %s", got)
	}
}

func with2(m jwkMap, k string, v any) jwkMap {
	m[k] = v
	return m
}

// fakeUsers stands for the engine in TestTokens.
type fakeUsers struct{ got []engine.ExternalIdentity }

func (f *fakeUsers) ExternalUser(ctx context.Context, u engine.ExternalIdentity) (int64, error) {
	f.got = append(f.got, u)
	return 99, nil
}

// TestTokens: a good token reaches the engine with what it says; a bad one
// never does.
func TestTokens(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, fullConfig(siteKeys(t)))
	users := &fakeUsers{}
	toks := identity.NewTokens(v, users)
	if _, err := toks.UserFor(t.Context(), sign(t, jwt.SigningMethodHS256, "", claims(), []byte("wrong-secret-but-long-enough-32-bytes"))); !errors.Is(err, engine.ErrTokenInvalid) {
		t.Errorf("forged: %v", err)
	}
	if len(users.got) != 0 {
		t.Fatalf("a forged token reached the engine: %+v", users.got)
	}
	id, err := toks.UserFor(t.Context(), sign(t, jwt.SigningMethodEdDSA, "ed-1", claims(), siteKeys(t).ed))
	if err != nil || id != 99 || len(users.got) != 1 || users.got[0].Subject != "site-user-7" || users.got[0].Email != "minji@example.com" {
		t.Errorf("UserFor = %d, %v; engine saw %+v", id, err, users.got)
	}
}
