package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concertd/concertd/engine/pow"
)

// The two gates in front of a concert's waiting room (../shared/API.md "Proof of
// work" and "Presale codes"). Both are off by default and cost an entry nothing
// then but a look at this instance's gate settings, read again at most once a
// second. A user who already holds a live token gets it back through both gates
// without a proof or a code: one place in line per user, whatever the gates say.

// EntryPass is what an entry may bring for the gates: a solved challenge and a
// presale code. Either may be empty.
type EntryPass struct {
	Proof       *Proof
	PresaleCode string
}

// Proof is a challenge from Challenge and a nonce that solves it (see engine/pow).
type Proof struct {
	Challenge string
	Nonce     string
}

// Challenge is a proof-of-work challenge for one concert: signed, not stored, and
// usable for one entry until ExpiresAt.
type Challenge struct {
	Value     string
	Bits      int
	ExpiresAt time.Time
}

const (
	// ChallengeTTL is how long a challenge may be used.
	ChallengeTTL = 5 * time.Minute
	// challengeSkew keeps a used challenge's mark past its expiry, so an instance
	// whose clock lags the others' still finds the mark while it accepts it.
	challengeSkew = time.Minute
	// challengeVersion starts every challenge; token payloads start "v1.", so the
	// two never sign the same bytes under the shared key.
	challengeVersion = "p1"
	maxChallengeLen  = 128
	// gateMaxAge bounds how late this instance sees another instance's change of
	// proofOfWorkBits or of a presale's end: the contract's "within one second".
	gateMaxAge = time.Second
)

// Challenge returns a fresh challenge for a concert at its current proofOfWorkBits
// (0 included: a page may always ask). It costs a random draw and an HMAC.
func (e *Engine) Challenge(ctx context.Context, concertID int64) (Challenge, error) {
	if concertID <= 0 {
		return Challenge{}, ErrConcertNotFound
	}
	c, err := e.catalog.concert(ctx, concertID)
	if err != nil {
		return Challenge{}, err
	}
	now := e.clock.Now()
	g, err := e.gateSettings(ctx, c, now)
	if err != nil {
		return Challenge{}, err
	}
	exp := now.Add(ChallengeTTL).Truncate(time.Second)
	return Challenge{Value: e.signChallenge(concertID, g.bits, exp), Bits: g.bits, ExpiresAt: exp.UTC()}, nil
}

// signChallenge writes "p1.<concert>.<bits>.<expiry unix s>.<random nonce>.<mac>".
func (e *Engine) signChallenge(concertID int64, bits int, exp time.Time) string {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	buf := make([]byte, 0, maxChallengeLen)
	buf = append(buf, challengeVersion...)
	for _, n := range [...]int64{concertID, int64(bits), exp.Unix()} {
		buf = append(buf, '.')
		buf = strconv.AppendInt(buf, n, 10)
	}
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, nonce[:])
	return string(e.signer.seal(buf, macLen))
}

// challengeClaim is what a verified challenge says.
type challengeClaim struct {
	bits      int
	expiresAt time.Time
	id        string // its MAC: unique per challenge, names its used mark
}

// verifyChallenge checks a challenge's signature, concert and expiry.
func (e *Engine) verifyChallenge(raw string, concertID int64, now time.Time) (challengeClaim, bool) {
	if len(raw) > maxChallengeLen {
		return challengeClaim{}, false
	}
	payload, encoded, ok := e.signer.open(raw, macLen)
	if !ok {
		return challengeClaim{}, false
	}
	// Signed by us, so well formed: version.concert.bits.expiry.nonce
	f := strings.Split(payload, ".")
	if len(f) != 5 || f[0] != challengeVersion {
		return challengeClaim{}, false
	}
	cid, err1 := strconv.ParseInt(f[1], 10, 64)
	bits, err2 := strconv.Atoi(f[2])
	exp, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || cid != concertID {
		return challengeClaim{}, false
	}
	at := time.Unix(exp, 0)
	if !now.Before(at) {
		return challengeClaim{}, false
	}
	return challengeClaim{bits: bits, expiresAt: at, id: encoded}, true
}

// checkProof verifies a proof statelessly: signature, concert, expiry, and work at
// the challenge's bits, which must be at least the concert's bits now (a challenge
// made before the operator raised them is refused; one made before they were
// lowered still works). It does not mark the challenge used.
func (e *Engine) checkProof(p *Proof, concertID int64, bits int, now time.Time) (challengeClaim, error) {
	if p == nil {
		return challengeClaim{}, ErrProofRequired
	}
	cl, ok := e.verifyChallenge(p.Challenge, concertID, now)
	if !ok || cl.bits < bits || !pow.Valid(p.Challenge, p.Nonce, cl.bits) {
		return challengeClaim{}, ErrProofInvalid
	}
	return cl, nil
}

// passGates lets an entry through the concert's gates or says why not. The
// stateless checks come first and the challenge is marked used last, so a typo
// in a presale code does not cost the buyer their solved challenge.
func (e *Engine) passGates(ctx context.Context, c Concert, userID int64, pass EntryPass, now time.Time) error {
	g, err := e.gateSettings(ctx, c, now)
	if err != nil {
		return err
	}
	presale := now.Before(g.presaleUntil)
	if g.bits == 0 && !presale {
		return nil
	}
	if e.gates == nil {
		return Errorf(CodeInternal, "the queue store cannot check entry gates")
	}
	live, err := e.gates.HasLiveToken(ctx, c.ID, userID, now, e.cfg.IdleTimeout)
	if err != nil || live {
		return err
	}
	var claim challengeClaim
	if g.bits > 0 {
		if claim, err = e.checkProof(pass.Proof, c.ID, g.bits, now); err != nil {
			return err
		}
	}
	if presale {
		if err := e.enterPresale(ctx, c.ID, userID, pass.PresaleCode); err != nil {
			return err
		}
	}
	if g.bits > 0 {
		fresh, err := e.gates.UseChallenge(ctx, c.ID, claim.id, claim.expiresAt.Sub(now)+challengeSkew)
		if err != nil {
			return err
		}
		if !fresh {
			return ErrProofInvalid
		}
	}
	return nil
}

// gateSettings are one concert's gates as this instance last read them.
type gateSettings struct {
	bits         int
	presaleUntil time.Time
	at           time.Time
}

type gateEntry struct {
	mu sync.Mutex // one reader refreshes; the others wait for its answer
	v  atomic.Pointer[gateSettings]
}

// gateSettings returns the concert's gates, read from the shared state (bits) and
// the ledger (the presale's end) at most once per gateMaxAge per instance.
func (e *Engine) gateSettings(ctx context.Context, c Concert, now time.Time) (gateSettings, error) {
	x, _ := e.gateCache.LoadOrStore(c.ID, &gateEntry{})
	en := x.(*gateEntry)
	fresh := func(g *gateSettings) bool {
		return g != nil && now.Sub(g.at) < gateMaxAge && !now.Before(g.at)
	}
	if g := en.v.Load(); fresh(g) {
		return *g, nil
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	if g := en.v.Load(); fresh(g) {
		return *g, nil
	}
	g := gateSettings{bits: c.Queue.ProofOfWorkBits, at: now}
	if e.gates != nil {
		if err := e.ensureQueue(ctx, c); err != nil {
			return gateSettings{}, err
		}
		bits, ok, err := e.gates.ProofOfWorkBits(ctx, c.ID)
		if err != nil {
			return gateSettings{}, err
		}
		if ok {
			g.bits = bits
		}
	}
	if e.presale != nil {
		until, err := e.presale.PresaleUntil(ctx, c.ID)
		if err != nil {
			return gateSettings{}, err
		}
		g.presaleUntil = until
	}
	en.v.Store(&g)
	return g, nil
}

// forgetGates makes this instance read a concert's gates again on the next entry,
// after it changed them itself.
func (e *Engine) forgetGates(concertID int64) {
	if x, ok := e.gateCache.Load(concertID); ok {
		x.(*gateEntry).v.Store(nil)
	}
}
