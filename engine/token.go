package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// A user token is "v1.<concertID>.<userID>.<gen>.<issuedAtUnix>.<mac>": readable,
// but the HMAC over everything before the mac means a forged or altered token is
// refused without a Redis lookup. The same fields always sign to the same string,
// so a user who asks again gets back exactly the token they hold.
const tokenVersion = "v1"

type signer struct{ key []byte }

func (s signer) mac(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// Sign returns the token string for t.
func (s signer) Sign(t Token) string {
	var b strings.Builder
	b.Grow(64)
	b.WriteString(tokenVersion)
	for _, n := range [...]int64{t.ConcertID, t.UserID, t.Gen, t.IssuedAt.Unix()} {
		b.WriteByte('.')
		b.WriteString(strconv.FormatInt(n, 10))
	}
	payload := b.String()
	return payload + "." + s.mac(payload)
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
	i := strings.LastIndexByte(raw, '.')
	if i < 0 {
		return Token{}, ErrTokenInvalid
	}
	payload, mac := raw[:i], raw[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.mac(payload))) {
		return Token{}, ErrTokenInvalid
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 5 || parts[0] != tokenVersion {
		return Token{}, ErrTokenInvalid
	}
	var n [4]int64
	for k := range n {
		v, err := strconv.ParseInt(parts[k+1], 10, 64)
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
