package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"
)

// Presale codes: an operator makes single-use codes for a concert; until the
// presale ends an entry needs one (or a code bound to the user earlier). Only
// each code's SHA-256 is kept, in the ledger, which decides who a code belongs to.

// MaxPresaleCodes is the most codes one call makes.
const MaxPresaleCodes = 100_000

// presaleAlphabet has no 0/O, 1/I/L or U/V look-alikes, so a code read aloud or
// copied by hand comes out right. 30 symbols, 16 of them: 78 bits per code.
const (
	presaleAlphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
	presaleCodeLen  = 16
	presaleGroup    = 4
	maxCodeInput    = 64
)

// CreatePresaleCodes makes count new codes for a concert and moves its presale's
// end to until. The codes are returned once; the ledger keeps their hashes.
func (e *Engine) CreatePresaleCodes(ctx context.Context, concertID int64, count int, until time.Time) ([]string, error) {
	if count < 1 || count > MaxPresaleCodes {
		return nil, Errorf(CodeBadRequest, "count must be 1 to %d", MaxPresaleCodes)
	}
	if until.IsZero() {
		return nil, Errorf(CodeBadRequest, "until is required")
	}
	if concertID <= 0 {
		return nil, ErrConcertNotFound
	}
	if _, err := e.catalog.concert(ctx, concertID); err != nil {
		return nil, err
	}
	if e.presale == nil {
		return nil, Errorf(CodeInternal, "the ledger keeps no presale codes")
	}
	codes := make([]string, count)
	hashes := make([]CodeHash, count)
	for i := range codes {
		codes[i] = newPresaleCode()
		hashes[i] = hashPresaleCode(codes[i])
	}
	if err := e.presale.AddPresaleCodes(ctx, concertID, hashes, until.UTC()); err != nil {
		return nil, err
	}
	e.forgetGates(concertID)
	return codes, nil
}

// newPresaleCode draws a code from crypto/rand, shown in groups of four
// ("7KQ2-M9XA-…") for reading; the dashes are not part of it.
func newPresaleCode() string {
	var out [presaleCodeLen + presaleCodeLen/presaleGroup - 1]byte
	var buf [64]byte
	n, pos := 0, len(buf)
	for n < presaleCodeLen {
		if pos == len(buf) {
			_, _ = rand.Read(buf[:])
			pos = 0
		}
		b := buf[pos]
		pos++
		// Rejection keeps every symbol equally likely: 240 = 8 × 30.
		if b >= 240 {
			continue
		}
		j := n + n/presaleGroup
		if n > 0 && n%presaleGroup == 0 {
			out[j-1] = '-'
		}
		out[j] = presaleAlphabet[int(b)%len(presaleAlphabet)]
		n++
	}
	return string(out[:])
}

// canonicalCode is how a code is compared: upper case, without the dashes and
// spaces a person may type or paste with it.
func canonicalCode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func hashPresaleCode(code string) CodeHash {
	return sha256.Sum256([]byte(canonicalCode(code)))
}

// enterPresale lets the user in during a presale: with a code bound to them
// earlier, or with the code they bring now, which becomes theirs.
func (e *Engine) enterPresale(ctx context.Context, concertID, userID int64, code string) error {
	if e.presale == nil {
		return ErrNotInvited
	}
	var h *CodeHash
	if code != "" && len(code) <= maxCodeInput {
		x := hashPresaleCode(code)
		h = &x
	}
	ok, err := e.presale.EnterPresale(ctx, concertID, userID, h)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotInvited
	}
	return nil
}
