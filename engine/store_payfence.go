package engine

import "context"

// PaymentFence makes an unknown payment outcome known. A ledger call that timed out
// or lost its connection may still commit later; the engine answers such an attempt
// only after VoidAttempt has settled it one way or the other, so an answer that says
// nothing was charged stays true. A ledger without it (none in this repository) leaves
// such a hold PAYING for the sweeper, as before.
type PaymentFence interface {
	// VoidAttempt makes sure the Sell carrying Sale.Attempt == attempt can never
	// commit from now on. If it had committed already, it returns that sale and
	// committed=true instead. Safe to call for an attempt that never reached the
	// ledger, and to call again.
	VoidAttempt(ctx context.Context, attempt, reservationID int64) (sale Sale, committed bool, err error)
}
