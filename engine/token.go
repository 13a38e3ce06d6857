package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A user token is "v1.<concertID>.<userID>.<gen>.<issuedAtUnix>.<mac>": readable,
// but the HMAC over everything before the mac means a forged or altered token is
// refused without a Redis lookup. The same fields always sign to the same string,
// so a user who asks again gets back exactly the token they hold.
const tokenVersion = "v1"

// signer signs and checks tokens. The polling endpoint verifies a token on every
// request, so the HMAC states are pooled and parsing allocates nothing.
type signer struct {
	key  []byte
	macs *sync.Pool
}

func newSigner(key []byte) signer {
	return signer{key: key, macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

const macLen = 18 // bytes of HMAC-SHA256 kept: 144 bits, 24 base64url characters

func (s signer) sum(payload string, out *[sha256.Size]byte) {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	_, _ = io.WriteString(m, payload)
	m.Sum(out[:0])
	s.macs.Put(m)
}

// seal appends ".<mac>" to buf, which holds the payload: the first n bytes of the
// payload's HMAC in base64url. Tokens, challenges and user keys all end this way.
func (s signer) seal(buf []byte, n int) []byte {
	var sum [sha256.Size]byte
	s.sum(string(buf), &sum)
	buf = append(buf, '.')
	return base64.RawURLEncoding.AppendEncode(buf, sum[:n])
}

// open splits raw at its last '.' into payload and encoded mac, and reports whether
// that mac is the first n bytes of the payload's HMAC, as seal wrote it.
func (s signer) open(raw string, n int) (payload, encoded string, ok bool) {
	i := strings.LastIndexByte(raw, '.')
	if i < 0 {
		return "", "", false
	}
	payload, encoded = raw[:i], raw[i+1:]
	var mac [sha256.Size]byte
	if base64.RawURLEncoding.EncodedLen(n) != len(encoded) {
		return "", "", false
	}
	if got, err := base64.RawURLEncoding.Decode(mac[:], []byte(encoded)); err != nil || got != n {
		return "", "", false
	}
	var sum [sha256.Size]byte
	s.sum(payload, &sum)
	if !hmac.Equal(mac[:n], sum[:n]) {
		return "", "", false
	}
	return payload, encoded, true
}

// Sign returns the token string for t.
func (s signer) Sign(t Token) string {
	buf := make([]byte, 0, 96)
	buf = append(buf, tokenVersion...)
	for _, n := range [...]int64{t.ConcertID, t.UserID, t.Gen, t.IssuedAt.Unix()} {
		buf = append(buf, '.')
		buf = strconv.AppendInt(buf, n, 10)
	}
	return string(s.seal(buf, macLen))
}

// Verify checks a token's signature and age. It does not consult the queue: a
// verified token may still be EXPIRED or DONE there.
func (s signer) Verify(raw string, now time.Time, lifetime time.Duration) (Token, error) {
	if raw == "" {
		return Token{}, ErrTokenMissing
	}
	if len(raw) > 200 {
		return Token{}, ErrTokenInvalid
	}
	payload, _, ok := s.open(raw, macLen)
	if !ok {
		return Token{}, ErrTokenInvalid
	}
	rest, ok := strings.CutPrefix(payload, tokenVersion+".")
	if !ok {
		return Token{}, ErrTokenInvalid
	}
	var n [4]int64
	for k := range n {
		field := rest
		if k < len(n)-1 {
			j := strings.IndexByte(rest, '.')
			if j < 0 {
				return Token{}, ErrTokenInvalid
			}
			field, rest = rest[:j], rest[j+1:]
		}
		v, err := strconv.ParseInt(field, 10, 64)
		if err != nil || v < 0 {
			return Token{}, ErrTokenInvalid
		}
		n[k] = v
	}
	t := Token{ConcertID: n[0], UserID: n[1], Gen: n[2], IssuedAt: time.Unix(n[3], 0).UTC()}
	if now.Sub(t.IssuedAt) >= lifetime {
		return Token{}, ErrTokenExpired
	}
	return t, nil
}

// Authenticate verifies a bearer token's signature and lifetime; enough for the
// balance endpoints, which accept a token in any state.
func (e *Engine) Authenticate(raw string) (Token, error) {
	return e.signer.Verify(raw, e.clock.Now(), e.cfg.TokenLifetime)
}
