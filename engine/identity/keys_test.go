package identity_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/concertd/concertd/engine/identity"
)

// now is every test's clock.
var now = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

const (
	issuer   = "https://login.example.com/"
	audience = "concertd"
)

var hsSecret = []byte("an-hs256-secret-of-at-least-32-bytes!")

// testKeys are the site's signing keys, made once per test binary (RSA keys
// take a while to generate).
type testKeys struct {
	rsa, otherRSA *rsa.PrivateKey
	ec, otherEC   *ecdsa.PrivateKey
	ed, otherEd   ed25519.PrivateKey
	// jwks is the public set: kids "rsa-1", "ec-1", "ed-1".
	jwks []byte
	// rsaPEM is the RSA public key as PEM, the bytes an attacker would use as an
	// HMAC secret in the RS256/HS256 confusion.
	rsaPEM []byte
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func siteKeys(tb testing.TB) *testKeys {
	tb.Helper()
	keysOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		var err error
		keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.otherRSA, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		keys.otherEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		_, keys.ed, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		_, keys.otherEd, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		keys.jwks = keySet(
			rsaJWK("rsa-1", &keys.rsa.PublicKey),
			ecJWK("ec-1", &keys.ec.PublicKey),
			edJWK("ed-1", keys.ed.Public().(ed25519.PublicKey)),
		)
		der, err := x509.MarshalPKIXPublicKey(&keys.rsa.PublicKey)
		must(err)
		keys.rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	})
	return &keys
}

var b64 = base64.RawURLEncoding.EncodeToString

type jwkMap = map[string]any

func rsaJWK(kid string, k *rsa.PublicKey) jwkMap {
	return jwkMap{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) jwkMap {
	raw, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return jwkMap{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
}

func edJWK(kid string, k ed25519.PublicKey) jwkMap {
	return jwkMap{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k)}
}

func keySet(ks ...jwkMap) []byte {
	b, err := json.Marshal(map[string]any{"keys": ks})
	if err != nil {
		panic(err)
	}
	return b
}

// claims are a good token's claims at now; cases change or delete members.
func claims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":   "site-user-7",
		"iss":   issuer,
		"aud":   audience,
		"exp":   now.Add(10 * time.Minute).Unix(),
		"iat":   now.Add(-time.Minute).Unix(),
		"name":  "Kim Minji",
		"email": "minji@example.com",
	}
}

// sign makes a token; kid "" leaves the header without one.
func sign(tb testing.TB, m jwt.SigningMethod, kid string, c jwt.MapClaims, key any) string {
	tb.Helper()
	t := jwt.NewWithClaims(m, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

// with returns the good claims changed by f.
func with(f func(c jwt.MapClaims)) jwt.MapClaims {
	c := claims()
	f(c)
	return c
}

func fullConfig(k *testKeys) identity.Config {
	return identity.Config{
		Secret: hsSecret, JWKS: k.jwks, Issuer: issuer, Audience: audience,
		Now: func() time.Time { return now },
	}
}

// newVerifier is identity.New for a config the test expects to be accepted.
func newVerifier(tb testing.TB, c identity.Config) *identity.Verifier {
	tb.Helper()
	v, err := identity.New(c)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// signedToken is a token and the algorithm that signed it.
type signedToken struct{ alg, tok string }

// signedGood is the good claims signed with each algorithm fullConfig verifies,
// by the site's keys: HS256, RS256, ES256 and EdDSA, in that order.
func signedGood(tb testing.TB, k *testKeys) []signedToken {
	tb.Helper()
	good := claims()
	return []signedToken{
		{"HS256", sign(tb, jwt.SigningMethodHS256, "", good, hsSecret)},
		{"RS256", sign(tb, jwt.SigningMethodRS256, "rsa-1", good, k.rsa)},
		{"ES256", sign(tb, jwt.SigningMethodES256, "ec-1", good, k.ec)},
		{"EdDSA", sign(tb, jwt.SigningMethodEdDSA, "ed-1", good, k.ed)},
	}
}

// rsaKey1024 is a key too weak to be trusted.
func rsaKey1024() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 1024) }
