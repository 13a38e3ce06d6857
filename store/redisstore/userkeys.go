package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/concertd/concertd/engine"
)

var userKeyGensScript = script("user_key_gens")

var _ engine.UserKeyMirror = (*Store)(nil)

// KeyGen reads a user's key generation and whether its bucket is loaded, in one
// HMGET; see engine.UserKeyMirror.
func (s *Store) KeyGen(ctx context.Context, userID int64) (int64, bool, error) {
	v, err := s.rdb.HMGet(ctx, s.keys.userKeyGens(engine.UserKeyBucket(userID)), "0", itoa(userID)).Result()
	if err != nil {
		return 0, false, domainError("user key", err)
	}
	if len(v) != 2 {
		return 0, false, fmt.Errorf("redis user key: unexpected reply %v", v)
	}
	loaded := v[0] != nil
	if v[1] == nil {
		return 0, loaded, nil
	}
	str, _ := v[1].(string)
	gen, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("redis user key: generation %q", str)
	}
	return gen, loaded, nil
}

// RaiseKeyGens runs user_key_gens.lua on one bucket; see engine.UserKeyMirror.
// A rebuild of a bucket with many rotated users goes in slices (each never
// lowers a generation, so slicing changes nothing), the loaded mark with the last.
func (s *Store) RaiseKeyGens(ctx context.Context, bucket int, gens map[int64]int64, load bool) error {
	const slice = 500
	key := []string{s.keys.userKeyGens(bucket)}
	args := make([]any, 0, 1+2*min(len(gens), slice))
	flush := func(last bool) error {
		args[0] = 0
		if last && load {
			args[0] = 1
		}
		err := userKeyGensScript.Run(ctx, s.rdb, key, args...).Err()
		args = args[:1]
		return domainError("user keys", err)
	}
	args = append(args, 0)
	for id, gen := range gens {
		args = append(args, id, gen)
		if len(args) >= 1+2*slice {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	return flush(true)
}
