package pow

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestSolveFindsValidNonces(t *testing.T) {
	t.Parallel()
	for bits := 0; bits <= 16; bits++ {
		c := "p1.challenge-" + strings.Repeat("x", bits)
		n := Solve(c, bits)
		if !Valid(c, n, bits) {
			t.Fatalf("bits %d: Solve gave %q, which Valid refuses", bits, n)
		}
		sum := sha256.Sum256([]byte(c + ":" + n))
		if got := LeadingZeroBits(sum); got < bits {
			t.Fatalf("bits %d: %q has only %d zero bits", bits, n, got)
		}
	}
}

func TestValidRefuses(t *testing.T) {
	t.Parallel()
	const c = "some-challenge"
	good := Solve(c, 12)
	// A nonce with too few zero bits at 24: find one with fewer than 24 (almost any).
	weak := "0"
	for LeadingZeroBits(sha256.Sum256([]byte(c+":"+weak))) >= 24 {
		weak += "0"
	}
	cases := []struct {
		name  string
		c, n  string
		bits  int
		valid bool
	}{
		{"solved", c, good, 12, true},
		{"solved at fewer bits", c, good, 8, true},
		{"other challenge", c + "x", good, 12, Valid(c+"x", good, 12)},
		{"too few bits", c, weak, 24, false},
		{"empty nonce", c, "", 0, false},
		{"long nonce", c, strings.Repeat("a", 65), 0, false},
		{"64 chars", c, strings.Repeat("a", 64), 0, true},
		{"control char", c, "a\x01", 0, false},
		{"non-ascii", c, "é", 0, false},
		{"space is printable", c, "a b", 0, true},
	}
	for _, tc := range cases {
		if got := Valid(tc.c, tc.n, tc.bits); got != tc.valid {
			t.Errorf("%s: Valid(%q, %q, %d) = %v, want %v", tc.name, tc.c, tc.n, tc.bits, got, tc.valid)
		}
	}
}

func TestLeadingZeroBits(t *testing.T) {
	t.Parallel()
	var s [32]byte
	if got := LeadingZeroBits(s); got != 256 {
		t.Fatalf("all zero: %d", got)
	}
	for i := 0; i < 256; i++ {
		var x [32]byte
		x[i/8] = 0x80 >> (i % 8)
		if got := LeadingZeroBits(x); got != i {
			t.Fatalf("bit %d set: got %d", i, got)
		}
	}
}

func TestSolveContextStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := SolveContext(ctx, "c", 250, func(uint64) {
		calls++
		if calls == 2 {
			cancel()
		}
	})
	if err == nil || calls < 2 {
		t.Fatalf("err %v after %d progress calls", err, calls)
	}
}

func BenchmarkValid(b *testing.B) {
	c := "p1.1.20.1764000000000.AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB"
	n := Solve(c, 10)
	b.ReportAllocs()
	for b.Loop() {
		if !Valid(c, n, 10) {
			b.Fatal("invalid")
		}
	}
}
