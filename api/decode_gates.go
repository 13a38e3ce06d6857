package api

import (
	"cmp"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/pow"
)

// gatesWire is the part of POST /api/users/token's body the concert's gates read
// (../shared/API.md "Proof of work", "Presale codes").
type gatesWire struct {
	Proof *struct {
		Challenge *string `json:"challenge"`
		Nonce     *string `json:"nonce"`
	} `json:"proof"`
	PresaleCode *string `json:"presaleCode"`
}

// pass checks the shape of the proof and the code; whether they are right is the
// engine's to say (PROOF_INVALID, NOT_INVITED).
func (w gatesWire) pass() (engine.EntryPass, error) {
	var p engine.EntryPass
	if w.PresaleCode != nil {
		p.PresaleCode = *w.PresaleCode
	}
	if w.Proof == nil {
		return p, nil
	}
	if w.Proof.Challenge == nil || *w.Proof.Challenge == "" {
		return engine.EntryPass{}, missing("proof.challenge")
	}
	if w.Proof.Nonce == nil {
		return engine.EntryPass{}, missing("proof.nonce")
	}
	if !pow.ValidNonce(*w.Proof.Nonce) {
		return engine.EntryPass{}, engine.Errorf(engine.CodeBadRequest, "proof.nonce must be 1 to %d printable ASCII characters", pow.MaxNonceLen)
	}
	p.Proof = &engine.Proof{Challenge: *w.Proof.Challenge, Nonce: *w.Proof.Nonce}
	return p, nil
}

// powBitsSetting checks an optional proofOfWorkBits: 0 (off) to pow.MaxBits.
func powBitsSetting(field string, w *wholeNumber) (*int, error) {
	return optionalInt(w, 0, pow.MaxBits, "%s must be 0 to %d", field, pow.MaxBits)
}

type presaleRequest struct {
	Count int
	Until time.Time
}

func decodePresale(body []byte) (presaleRequest, error) {
	return decodeWith(body, func(w *struct {
		Count *wholeNumber `json:"count"`
		Until *string      `json:"until"`
	}) (presaleRequest, error) {
		count, errCount := requiredInt("count", w.Count, 1, engine.MaxPresaleCodes, engine.CodeBadRequest, "count must be 1 to %d", engine.MaxPresaleCodes)
		until, errUntil := instantField("until", w.Until, "2026-12-20T10:00:00Z")
		return presaleRequest{Count: int(count), Until: until}, cmp.Or(errCount, errUntil)
	})
}

// instantField checks a required RFC 3339 instant; example shows one in the
// message of a malformed one.
func instantField(field string, s *string, example string) (time.Time, error) {
	if s == nil {
		return time.Time{}, missing(field)
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return time.Time{}, engine.Errorf(engine.CodeBadRequest, "%s must be an RFC 3339 instant like %s", field, example)
	}
	return t.UTC(), nil
}
