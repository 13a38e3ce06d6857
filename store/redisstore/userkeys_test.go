package redisstore

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

// TestUserKeyMirror: a bucket reads as not loaded until a load marks it; a raise
// never lowers a generation, whichever order writers land in; a raise alone does
// not mark a bucket loaded (after a wipe the rebuild must still run); and a wipe
// makes the bucket unloaded again.
func TestUserKeyMirror(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string, _ bool) {
		ctx := context.Background()
		s := New(rdb, prefix, nil)
		const user = 130 // bucket 2
		other := int64(user + engine.UserKeyBuckets)
		want := func(id, gen int64, loaded bool) {
			t.Helper()
			g, l, err := s.KeyGen(ctx, id)
			if err != nil || g != gen || l != loaded {
				t.Fatalf("KeyGen(%d) = %d, %v, %v; want %d, %v", id, g, l, err, gen, loaded)
			}
		}
		want(user, 0, false)
		if err := s.RaiseKeyGens(ctx, engine.UserKeyBucket(user), map[int64]int64{user: 3}, false); err != nil {
			t.Fatal(err)
		}
		want(user, 3, false)
		// A rebuild that read the ledger before that rotation comes in late.
		if err := s.RaiseKeyGens(ctx, engine.UserKeyBucket(user), map[int64]int64{user: 2, other: 5}, true); err != nil {
			t.Fatal(err)
		}
		want(user, 3, true)
		want(other, 5, true)
		want(user+1, 0, false) // another bucket
		// Many users at once go in slices.
		many := map[int64]int64{}
		for i := range int64(1200) {
			many[7+i*engine.UserKeyBuckets] = 2 + i%3
		}
		if err := s.RaiseKeyGens(ctx, 7, many, true); err != nil {
			t.Fatal(err)
		}
		for id, gen := range many {
			want(id, gen, true)
		}
		if err := rdb.Del(ctx, s.keys.userKeyGens(engine.UserKeyBucket(user))).Err(); err != nil {
			t.Fatal(err)
		}
		want(user, 0, false)
	})
}
