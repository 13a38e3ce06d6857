package engine

import (
	"context"
	"time"
)

// CodeHash is the SHA-256 of a presale code in its canonical form; the ledger keeps
// only these.
type CodeHash [32]byte

// PresaleLedger keeps presale codes (store/pgstore, store/memstore). The ledger is
// the truth of which user a code belongs to. The engine is given it as
// Stores.Presale.
type PresaleLedger interface {
	// AddPresaleCodes stores new codes' hashes, unbound, and sets the concert's
	// presale to end at until; ErrConcertNotFound for an unknown concert.
	AddPresaleCodes(ctx context.Context, concertID int64, codes []CodeHash, until time.Time) error
	// PresaleUntil is when the concert's presale ends; zero when it has none.
	PresaleUntil(ctx context.Context, concertID int64) (time.Time, error)
	// EnterPresale reports whether the user may enter during the presale: a code
	// is already bound to them, or code (when not nil) is an unbound code of the
	// concert, which is then bound to them. Binding is atomic: of users racing for
	// one code exactly one gets it. A user with a bound code binds no other.
	EnterPresale(ctx context.Context, concertID, userID int64, code *CodeHash) (bool, error)
}
