package identity_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/concertd/concertd/engine/identity"
)

// BenchmarkVerify is the cost of checking one identity token of each algorithm
// (the signature dominates all but HS256).
func BenchmarkVerify(b *testing.B) {
	k := siteKeys(b)
	v, err := identity.New(fullConfig(k))
	if err != nil {
		b.Fatal(err)
	}
	good := claims()
	for _, tc := range []struct {
		name string
		tok  string
	}{
		{"HS256", sign(b, jwt.SigningMethodHS256, "", good, hsSecret)},
		{"RS256", sign(b, jwt.SigningMethodRS256, "rsa-1", good, k.rsa)},
		{"ES256", sign(b, jwt.SigningMethodES256, "ec-1", good, k.ec)},
		{"EdDSA", sign(b, jwt.SigningMethodEdDSA, "ed-1", good, k.ed)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tc.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
