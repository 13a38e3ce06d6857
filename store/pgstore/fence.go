package pgstore

import (
	"context"
	"errors"

	"github.com/concertd/concertd/engine"
)

var _ engine.PaymentFence = (*Store)(nil)

// errAttemptVoided answers a Sell whose attempt VoidAttempt settled first: nothing
// was charged, and the engine has already answered that attempt.
var errAttemptVoided = engine.Unavailable("postgresql", errors.New("payment attempt was voided before it committed"))

// VoidAttempt settles an attempt of unknown outcome; see engine.PaymentFence. The
// insert waits on the primary key for a Sell of the same attempt still in progress
// and then either finds its row (committed) or takes the key (voided), after which
// that Sell can only fail.
func (s *Store) VoidAttempt(ctx context.Context, attempt, reservationID int64) (engine.Sale, bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO payment_attempts (attempt, reservation_id, voided)
		VALUES ($1, $2, true) ON CONFLICT (attempt) DO NOTHING`, attempt, reservationID)
	if err != nil {
		return engine.Sale{}, false, translate(err)
	}
	if tag.RowsAffected() == 1 {
		return engine.Sale{}, false, nil
	}
	var voided bool
	if err := s.pool.QueryRow(ctx, `SELECT voided FROM payment_attempts WHERE attempt = $1`, attempt).Scan(&voided); err != nil {
		return engine.Sale{}, false, translate(err)
	}
	if voided {
		return engine.Sale{}, false, nil
	}
	sale, found, err := s.SaleByReservation(ctx, reservationID)
	if err != nil {
		return engine.Sale{}, false, err
	}
	if !found {
		return engine.Sale{}, false, errors.New("pgstore: a committed payment attempt has no sale")
	}
	return sale, true, nil
}
