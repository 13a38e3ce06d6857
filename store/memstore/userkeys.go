package memstore

import (
	"context"

	"github.com/concertd/concertd/engine"
)

var _ engine.UserKeyLedger = (*Store)(nil)

// UserKeyGens lists the generations above 1 of one mirror bucket; see
// engine.UserKeyLedger.
func (s *Store) UserKeyGens(ctx context.Context, bucket, buckets int) (map[int64]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]int64{}
	for i, u := range s.users {
		id := int64(i + 1)
		if u.keyGen > 1 && int(id%int64(buckets)) == bucket {
			out[id] = u.keyGen
		}
	}
	return out, nil
}

// RotateUserKey moves a user's key generation on by one, only from gen; see
// engine.UserKeyLedger.
func (s *Store) RotateUserKey(ctx context.Context, userID, gen int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(userID)
	if u == nil {
		return 0, engine.ErrUserNotFound
	}
	if max(u.keyGen, 1) != gen {
		return 0, engine.ErrTokenInvalid
	}
	u.keyGen = gen + 1
	return u.keyGen, nil
}
