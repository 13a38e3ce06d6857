package engine

import (
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/engine/pow"
)

// BenchmarkCheckProof is what an entry through the proof-of-work gate costs the
// server before its one Redis SET NX: the challenge's HMAC, its fields, one SHA-256.
func BenchmarkCheckProof(b *testing.B) {
	e := &Engine{signer: newSigner([]byte("bench-secret-bench-secret-bench!"))}
	now := time.Unix(1_800_000_000, 0)
	p := &Proof{Challenge: e.signChallenge(1, 12, now.Add(ChallengeTTL))}
	p.Nonce = pow.Solve(p.Challenge, 12)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.checkProof(p, 1, 12, now); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzVerifyChallenge: no input panics, and only the challenge as signed (for its
// concert, before its expiry) is accepted.
func FuzzVerifyChallenge(f *testing.F) {
	e := &Engine{signer: newSigner([]byte("fuzz-secret"))}
	now := time.Unix(1_800_000_000, 0)
	// Built by hand, not by signChallenge: its random nonce would give each
	// fuzzing worker process a different good challenge.
	payload := "p1.7.3." + strconv.FormatInt(now.Add(ChallengeTTL).Unix(), 10) + ".AAAAAAAAAAAAAAAAAAAAAA"
	var sum [sha256.Size]byte
	e.signer.sum(payload, &sum)
	good := payload + "." + base64.RawURLEncoding.EncodeToString(sum[:macLen])
	f.Add(good)
	f.Add(strings.Replace(good, "p1.7.", "p1.8.", 1))
	f.Add("p1.7.3.1800000300.x.y")
	f.Add("")
	f.Add("....")
	f.Fuzz(func(t *testing.T, raw string) {
		c, ok := e.verifyChallenge(raw, 7, now)
		if ok != (raw == good) {
			t.Fatalf("verifyChallenge(%q) = %v", raw, ok)
		}
		if ok && (c.bits != 3 || !c.expiresAt.Equal(now.Add(ChallengeTTL))) {
			t.Fatalf("claim %+v", c)
		}
		if _, ok := e.verifyChallenge(raw, 8, now); ok {
			t.Fatalf("accepted for another concert: %q", raw)
		}
		if _, ok := e.verifyChallenge(raw, 7, now.Add(ChallengeTTL)); ok {
			t.Fatalf("accepted at its expiry: %q", raw)
		}
	})
}
