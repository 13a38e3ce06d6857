package engine

import "context"

// MultiSeller is the ledger's side of paying several holds at once: one payment,
// one balance-history row of the total, one sales row per seat, all or nothing.
type MultiSeller interface {
	// SellMany is Sell for several seats of one user: every sale carries the same
	// UserID and Attempt; the payment is the sum of their Amounts. It fails as Sell
	// does, for the first seat that cannot be sold, and then nothing is written.
	// The returned sales, in the order given, share PaymentID, Balance and At.
	SellMany(ctx context.Context, sales []Sale, idem Idempotency) ([]Sale, error)
	// IdempotentSales returns the stored result of an earlier SellMany with this key.
	IdempotentSales(ctx context.Context, userID int64, idem Idempotency) ([]Sale, bool, error)
}
