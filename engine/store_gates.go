package engine

import (
	"context"
	"time"
)

// Gates is what the proof-of-work gate needs of the shared state (store/redisstore
// implements it). The engine is given it as Stores.Gates.
type Gates interface {
	// ProofOfWorkBits reads a concert's live proofOfWorkBits setting; ok is false
	// when the shared state has none (its queue configuration was lost), and the
	// engine then goes by the ledger's.
	ProofOfWorkBits(ctx context.Context, concertID int64) (bits int, ok bool, err error)
	// HasLiveToken reports whether the user holds a token of the concert that
	// Enter would hand back: ACTIVE, or WAITING and polled within idle.
	HasLiveToken(ctx context.Context, concertID, userID int64, now time.Time, idle time.Duration) (bool, error)
	// UseChallenge marks a challenge (named by id) used for ttl, atomically: true
	// for the first caller, false for every later one within ttl.
	UseChallenge(ctx context.Context, concertID int64, id string, ttl time.Duration) (bool, error)
}
