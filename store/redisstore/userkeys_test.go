package redisstore

import (
	"context"
	"maps"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

// TestUserKeyMirror: a bucket reads as not loaded until a load marks it; a raise
// never lowers a generation, whichever order writers land in; a raise alone does
// not mark a bucket loaded (after a wipe the rebuild must still run); a bucket is
// read whole only when its version moved, and every change moves it; and a wipe
// makes the bucket unloaded again, at a version it never had before.
func TestUserKeyMirror(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string, _ bool) {
		ctx := context.Background()
		s := New(rdb, prefix, nil)
		const user = 130 // bucket 2
		bucket := engine.UserKeyBucket(user)
		other := int64(user + engine.UserKeyBuckets)
		seen := map[int64]bool{}
		// read checks the bucket against want and returns its version; a nil want
		// means "unchanged since since".
		read := func(since int64, want map[int64]int64, loaded bool) int64 {
			t.Helper()
			b, err := s.KeyBucket(ctx, bucket, since)
			if err != nil || b.Loaded != loaded || b.Changed != (want != nil) || !maps.Equal(b.Gens, want) {
				t.Fatalf("KeyBucket(%d, %d) = %+v, %v; want gens %v (nil: unchanged), loaded %v", bucket, since, b, err, want, loaded)
			}
			if want != nil && b.Version != 0 {
				if seen[b.Version] {
					t.Fatalf("version %d came back", b.Version)
				}
				seen[b.Version] = true
			}
			return b.Version
		}
		raise := func(b int, gens map[int64]int64, load bool) {
			t.Helper()
			if err := s.RaiseKeyGens(ctx, b, gens, load); err != nil {
				t.Fatal(err)
			}
		}
		if v := read(7, map[int64]int64{}, false); v != 0 {
			t.Fatalf("a bucket never written has version %d, want 0", v)
		}
		read(0, nil, false)
		raise(bucket, map[int64]int64{user: 3}, false)
		v := read(0, map[int64]int64{user: 3}, false)
		read(v, nil, false)
		// A rebuild that read the ledger before that rotation comes in late.
		raise(bucket, map[int64]int64{user: 2, other: 5}, true)
		v = read(v, map[int64]int64{user: 3, other: 5}, true)
		raise(bucket, map[int64]int64{user: 2}, false) // lowers nothing: no new version
		read(v, nil, true)
		// Many users at once go in slices.
		many := map[int64]int64{}
		for i := range int64(1200) {
			many[7+i*engine.UserKeyBuckets] = 2 + i%3
		}
		raise(7, many, true)
		if b, err := s.KeyBucket(ctx, 7, 0); err != nil || !b.Loaded || !maps.Equal(b.Gens, many) {
			t.Fatalf("bucket 7 = %d users, loaded %v, %v; want the %d raised", len(b.Gens), b.Loaded, err, len(many))
		}
		if err := rdb.Del(ctx, s.keys.userKeyGens(bucket)).Err(); err != nil {
			t.Fatal(err)
		}
		read(v, map[int64]int64{}, false)
		raise(bucket, map[int64]int64{other: 5}, true)
		read(v, map[int64]int64{other: 5}, true)
	})
}
