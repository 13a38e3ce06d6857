package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/identity"
)

// FuzzVerifyIdentityToken: whatever arrives as an identity token, Verify does
// not panic, refuses with TOKEN_INVALID or TOKEN_EXPIRED only, and accepts
// nothing but the tokens the site signed. Mutations of those cannot pass:
// changing a signed segment breaks the signature, and strict decoding leaves
// one spelling per signature.
func FuzzVerifyIdentityToken(f *testing.F) {
	k := siteKeys(f)
	v := newVerifier(f, fullConfig(k))
	signed := map[string]bool{}
	for _, s := range signedGood(f, k) {
		signed[s.tok] = true
		f.Add(s.tok)
	}
	good := claims()
	for _, tok := range []string{
		sign(f, jwt.SigningMethodNone, "", good, jwt.UnsafeAllowNoneSignatureType),
		sign(f, jwt.SigningMethodHS256, "rsa-1", good, k.rsaPEM),
		sign(f, jwt.SigningMethodHS512, "", good, hsSecret),
		sign(f, jwt.SigningMethodHS256, "", with(func(c jwt.MapClaims) { c["exp"] = 1 }), hsSecret),
		"", ".", "..", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", strings.Repeat("A", 100),
	} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := v.Verify(raw)
		if err == nil {
			if !signed[raw] {
				t.Fatalf("accepted a token the site never signed: %q (%+v)", raw, got)
			}
			if got.Subject != "site-user-7" {
				t.Fatalf("a signed token named %+v", got)
			}
			return
		}
		var ee *engine.Error
		if !errors.As(err, &ee) || (ee.Code != engine.CodeTokenInvalid && ee.Code != engine.CodeTokenExpired) {
			t.Fatalf("Verify(%q) = %v; want TOKEN_INVALID or TOKEN_EXPIRED", raw, err)
		}
		if got != (engine.ExternalIdentity{}) {
			t.Fatalf("refused but named %+v", got)
		}
	})
}

// FuzzKeySet: a key set file never panics New, and one it accepts verifies
// only the algorithms concertd supports.
func FuzzKeySet(f *testing.F) {
	k := siteKeys(f)
	f.Add(k.jwks)
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := identity.New(identity.Config{JWKS: data})
		if err != nil {
			if v != nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("New = %v, %q", v, err)
			}
			return
		}
		for _, alg := range v.Algorithms() {
			if alg != "RS256" && alg != "ES256" && alg != "EdDSA" {
				t.Fatalf("a key set made %s acceptable", alg)
			}
		}
	})
}
