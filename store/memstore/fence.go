package memstore

import (
	"context"
	"errors"

	"github.com/concertd/concertd/engine"
)

var _ engine.PaymentFence = (*Store)(nil)

// errAttemptVoided answers a Sell whose attempt VoidAttempt settled first, as in
// the PostgreSQL ledger.
var errAttemptVoided = engine.Unavailable("memory ledger", errors.New("payment attempt was voided before it committed"))

// takeAttempt records a committing attempt (0: none); false if it was voided.
// Callers hold s.mu.
func (s *Store) takeAttempt(attempt, reservationID int64) bool {
	if attempt == 0 {
		return true
	}
	if s.attempts == nil {
		s.attempts = map[int64]bool{}
	}
	if _, seen := s.attempts[attempt]; seen {
		return false
	}
	s.attempts[attempt] = false
	return true
}

// VoidAttempt settles an attempt of unknown outcome; see engine.PaymentFence. In
// memory nothing is ever in flight: the attempt committed or it never will.
func (s *Store) VoidAttempt(ctx context.Context, attempt, reservationID int64) (engine.Sale, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attempts == nil {
		s.attempts = map[int64]bool{}
	}
	voided, seen := s.attempts[attempt]
	if !seen {
		s.attempts[attempt] = true
		return engine.Sale{}, false, nil
	}
	if voided {
		return engine.Sale{}, false, nil
	}
	k, ok := s.byRes[reservationID]
	if !ok {
		return engine.Sale{}, false, errors.New("memstore: a committed payment attempt has no sale")
	}
	return s.sales[k], true, nil
}
