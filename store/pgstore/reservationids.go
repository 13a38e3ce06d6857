package pgstore

import "context"

// ReservationIDBlockSize is how many ids one ReservationIDBlock reserves (the
// sequence's increment, migration 007).
const ReservationIDBlockSize = 1000

// ReservationIDBlock reserves a block of reservation ids no other call ever gets
// and returns its first; the block is first .. first+ReservationIDBlockSize-1.
// The sequence never goes back, whatever happens to Redis.
func (s *Store) ReservationIDBlock(ctx context.Context) (first, size int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT nextval('reservation_id_blocks')`).Scan(&first)
	return first, ReservationIDBlockSize, translate(err)
}
