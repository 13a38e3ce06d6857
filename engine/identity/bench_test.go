package identity_test

import "testing"

// BenchmarkVerify is the cost of checking one identity token of each algorithm
// (the signature dominates all but HS256).
func BenchmarkVerify(b *testing.B) {
	k := siteKeys(b)
	v := newVerifier(b, fullConfig(k))
	for _, tc := range signedGood(b, k) {
		b.Run(tc.alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tc.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
