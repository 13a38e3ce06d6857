package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// ProofOfWorkBits reads the powBits field of the concert's cfg hash.
func (s *Store) ProofOfWorkBits(ctx context.Context, concertID int64) (int, bool, error) {
	v, err := s.rdb.HGet(ctx, s.keys.cfg(concertID), "powBits").Int()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, domainError("proof-of-work bits", err)
	}
	return v, true, nil
}

// HasLiveToken runs live_token.lua.
func (s *Store) HasLiveToken(ctx context.Context, concertID, userID int64, now time.Time, idle time.Duration) (bool, error) {
	k := s.keys
	n, err := liveTokenScript.Run(ctx, s.rdb,
		[]string{k.tokens(concertID), k.active(concertID), k.wait(concertID)},
		userID, now.UnixMilli(), idle.Milliseconds()).Int()
	if err != nil {
		return false, domainError("live token", err)
	}
	return n == 1, nil
}

// UseChallenge is SET NX PX on the challenge's mark: one entry per challenge on any
// number of instances, and the mark goes when the challenge could no longer be used.
func (s *Store) UseChallenge(ctx context.Context, concertID int64, id string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.keys.usedChallenge(concertID, id), 1, max(ttl, time.Millisecond)).Result()
	if err != nil {
		return false, domainError("use challenge", err)
	}
	return ok, nil
}
