// Package pow is the proof of work that may guard a concert's waiting room
// (../shared/API.md "Proof of work"): a nonce is valid for a challenge when the
// SHA-256 of the UTF-8 bytes of challenge + ":" + nonce begins with `bits` zero
// bits. The server checks with Valid; clients (cmd/rush, test/rushtest, client/)
// find a nonce with Solve. It has no HTTP or store types, so any of them can import it.
package pow

import (
	"context"
	"crypto/sha256"
	"math/bits"
	"strconv"
)

// MaxBits is the most zero bits a concert may ask for: about 67 million hashes on
// average, a minute or so in a phone's browser.
const MaxBits = 26

// MaxNonceLen is the longest nonce the contract accepts.
const MaxNonceLen = 64

// ValidNonce reports whether n is 1 to MaxNonceLen printable ASCII characters.
func ValidNonce(n string) bool {
	if len(n) < 1 || len(n) > MaxNonceLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x20 || n[i] > 0x7e {
			return false
		}
	}
	return true
}

// LeadingZeroBits counts the zero bits at the start of sum.
func LeadingZeroBits(sum [sha256.Size]byte) int {
	n := 0
	for _, b := range sum {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// Valid reports whether nonce is well formed and solves challenge at bits.
// It costs one SHA-256 of a short message.
func Valid(challenge, nonce string, bits int) bool {
	if !ValidNonce(nonce) {
		return false
	}
	var buf [256]byte
	b := append(buf[:0], challenge...)
	b = append(b, ':')
	b = append(b, nonce...)
	return LeadingZeroBits(sha256.Sum256(b)) >= bits
}

// Solve returns a nonce that solves challenge at bits; bits <= 0 needs no work
// and returns "0". It takes 2^bits hashes on average.
func Solve(challenge string, bits int) string {
	n, _ := SolveContext(context.Background(), challenge, bits, nil)
	return n
}

// SolveContext is Solve that stops when ctx ends, reporting the number of hashes
// tried to progress (when not nil) every 65,536 of them.
func SolveContext(ctx context.Context, challenge string, bits int, progress func(tried uint64)) (string, error) {
	buf := make([]byte, 0, len(challenge)+1+16)
	buf = append(buf, challenge...)
	buf = append(buf, ':')
	head := len(buf)
	for i := uint64(0); ; i++ {
		// Base 36 keeps the nonce short and printable: at most 13 characters.
		b := strconv.AppendUint(buf[:head], i, 36)
		if LeadingZeroBits(sha256.Sum256(b)) >= bits {
			return string(b[head:]), nil
		}
		if i&0xffff == 0xffff {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			if progress != nil {
				progress(i + 1)
			}
		}
	}
}
