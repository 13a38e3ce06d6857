package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/concertd/concertd/engine"
)

var _ engine.UserKeyLedger = (*Store)(nil)

// UserKeyGens lists the generations above 1 of one mirror bucket; see
// engine.UserKeyLedger. The partial index users_rotated_keys serves it.
func (s *Store) UserKeyGens(ctx context.Context, bucket, buckets int) (map[int64]int64, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT id, key_gen FROM users WHERE key_gen > 1 AND id % $2 = $1`, bucket, buckets)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, gen int64
		if err := rows.Scan(&id, &gen); err != nil {
			return nil, translate(err)
		}
		out[id] = gen
	}
	return out, translate(rows.Err())
}

// RotateUserKey moves a user's key generation on by one, only from gen; see
// engine.UserKeyLedger. Two rotations with the same key race on the row: one
// wins, the other finds the generation moved and is refused.
func (s *Store) RotateUserKey(ctx context.Context, userID, gen int64) (int64, error) {
	var next int64
	err := s.pool.QueryRow(ctx,
		`UPDATE users SET key_gen = key_gen + 1 WHERE id = $1 AND key_gen = $2 RETURNING key_gen`,
		userID, gen).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, userID).Scan(&exists); err != nil {
			return 0, translate(err)
		}
		if !exists {
			return 0, engine.ErrUserNotFound
		}
		return 0, engine.ErrTokenInvalid
	}
	return next, translate(err)
}
