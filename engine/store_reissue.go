package engine

import (
	"context"
	"time"
)

// TokenReissuer renews a live token whose record has outlived the token lifetime
// (engine/reissue.go): the shared state keeps the user's place and lease, and the
// token gets a new generation and issue time.
type TokenReissuer interface {
	// Reissue moves the user's token record from gen to a new generation issued
	// at now (whole seconds). ok=false when the record is gone, DONE or no
	// longer at gen: the caller enters again.
	Reissue(ctx context.Context, concertID, userID, gen int64, now time.Time) (newGen int64, issuedAt time.Time, ok bool, err error)
}
