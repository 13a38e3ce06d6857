package client

import (
	"crypto/sha256"
	"math/bits"
	"strconv"
)

// Solve finds a nonce for a proof-of-work challenge: the SHA-256 of
// challenge + ":" + nonce begins with zeroBits zero bits. It takes about
// 2^zeroBits hashes (a million at 20). The nonce is a base-36 counter, printable
// ASCII of at most 13 characters as the contract asks.
func Solve(challenge string, zeroBits int) string {
	buf := make([]byte, 0, len(challenge)+1+13)
	buf = append(buf, challenge...)
	buf = append(buf, ':')
	prefix := len(buf)
	for n := uint64(0); ; n++ {
		buf = strconv.AppendUint(buf[:prefix], n, 36)
		if Verify(buf, zeroBits) {
			return string(buf[prefix:])
		}
	}
}

// Verify reports whether the SHA-256 of msg begins with zeroBits zero bits.
func Verify(msg []byte, zeroBits int) bool {
	sum := sha256.Sum256(msg)
	for _, b := range sum {
		if zeroBits <= 0 {
			return true
		}
		if zeroBits < 8 {
			return bits.LeadingZeros8(b) >= zeroBits
		}
		if b != 0 {
			return false
		}
		zeroBits -= 8
	}
	return zeroBits <= 0
}
