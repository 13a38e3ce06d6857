package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/concertd/concertd/engine"
)

// KeyBucket runs user_key_bucket.lua; see engine.UserKeyMirror.
func (s *Store) KeyBucket(ctx context.Context, bucket int, since int64) (engine.KeyBucket, error) {
	v, err := userKeyBucketScript.Run(ctx, s.rdb, []string{s.keys.userKeyGens(bucket)}, since).Slice()
	if err != nil {
		return engine.KeyBucket{}, domainError("user keys", err)
	}
	if len(v) < 2 || len(v)%2 != 0 {
		return engine.KeyBucket{}, fmt.Errorf("redis user keys: unexpected reply %v", v)
	}
	var b engine.KeyBucket
	version, _ := v[0].(string)
	b.Version, err = strconv.ParseInt(version, 10, 64)
	if err != nil {
		return engine.KeyBucket{}, fmt.Errorf("redis user keys: version %q", version)
	}
	loaded, _ := v[1].(int64)
	b.Loaded = loaded == 1
	if b.Changed = b.Version != since; !b.Changed {
		return b, nil
	}
	b.Gens = make(map[int64]int64, len(v)/2-1)
	for i := 2; i < len(v); i += 2 {
		id, err1 := strconv.ParseInt(fmt.Sprint(v[i]), 10, 64)
		gen, err2 := strconv.ParseInt(fmt.Sprint(v[i+1]), 10, 64)
		if err1 != nil || err2 != nil {
			return engine.KeyBucket{}, fmt.Errorf("redis user keys: entry %v=%v", v[i], v[i+1])
		}
		b.Gens[id] = gen
	}
	return b, nil
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
