package engine

import "context"

// SaleCloser removes a closed concert's shared state (Stores.Closer); without one
// a closed concert's keys stay until they expire, but no loop touches them.
type SaleCloser interface {
	// PurgeConcert deletes every key of the concert's shared state and records,
	// outside the concert's keys, that it did. Idempotent.
	PurgeConcert(ctx context.Context, concertID int64) error
	// Purged reports which of the given concerts PurgeConcert has recorded.
	Purged(ctx context.Context, concertIDs []int64) (map[int64]bool, error)
}
