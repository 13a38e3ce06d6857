package redisstore

import (
	"context"
	"fmt"
	"time"
)

// Reissue runs reissue.lua; see engine.TokenReissuer.
func (s *Store) Reissue(ctx context.Context, concertID, userID, gen int64, now time.Time) (int64, time.Time, bool, error) {
	v, err := reissueScript.Run(ctx, s.rdb, []string{s.keys.tokens(concertID), s.keys.seq(concertID)},
		userID, gen, now.UnixMilli()).Int64Slice()
	if err != nil {
		return 0, time.Time{}, false, domainError("reissue", err)
	}
	if len(v) != 2 {
		return 0, time.Time{}, false, fmt.Errorf("redis reissue: unexpected reply %v", v)
	}
	if v[0] == 0 {
		return 0, time.Time{}, false, nil
	}
	return v[0], time.UnixMilli(v[1]).UTC(), true, nil
}
