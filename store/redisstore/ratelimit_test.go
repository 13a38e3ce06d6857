package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/store/storetest"
)

// limitStep is one request (or, with advance set, a move of the clock first).
type limitStep struct {
	advance time.Duration
	key     string        // "" means "k"
	n       int           // requests sent; 0 means 1
	allowed bool          // what every one of the n requests gets
	retry   time.Duration // the last request's retryAfter
}

func TestLimiterGCRA(t *testing.T) {
	cases := []struct {
		name        string
		rate, burst int
		steps       []limitStep
	}{
		{"a burst passes whole, the next waits one interval", 2, 5, []limitStep{
			{n: 5, allowed: true},
			{allowed: false, retry: 500 * time.Millisecond},
		}},
		{"each interval earns exactly one request", 2, 5, []limitStep{
			{n: 5, allowed: true},
			{advance: 499 * time.Millisecond, allowed: false, retry: time.Millisecond},
			{advance: time.Millisecond, allowed: true},
			{allowed: false, retry: 500 * time.Millisecond},
		}},
		{"idle time refills up to the burst, never beyond", 5, 10, []limitStep{
			{n: 10, allowed: true},
			{advance: time.Hour, n: 10, allowed: true},
			{allowed: false, retry: 200 * time.Millisecond},
		}},
		{"a refused request costs nothing", 1, 1, []limitStep{
			{allowed: true},
			{n: 50, allowed: false, retry: time.Second},
			{advance: time.Second, allowed: true},
		}},
		{"keys are independent", 1, 2, []limitStep{
			{n: 2, allowed: true},
			{allowed: false, retry: time.Second},
			{key: "other", n: 2, allowed: true},
			{key: "other", allowed: false, retry: time.Second},
		}},
		{"steady pacing at the rate is never refused", 10, 1, []limitStep{
			{allowed: true},
			{advance: 100 * time.Millisecond, allowed: true},
			{advance: 100 * time.Millisecond, allowed: true},
			{advance: 50 * time.Millisecond, allowed: false, retry: 50 * time.Millisecond},
			{advance: 50 * time.Millisecond, allowed: true},
		}},
		{"rate 0 is no limit", 0, 0, []limitStep{
			{n: 1000, allowed: true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string, _ bool) {
				clk := clock.NewSimulated(t0)
				l := NewLimiter(rdb, prefix, clk)
				ctx := context.Background()
				for i, st := range tc.steps {
					clk.Advance(st.advance)
					key := st.key
					if key == "" {
						key = "k"
					}
					n := max(st.n, 1)
					var ok bool
					var retry time.Duration
					for j := range n {
						var err error
						ok, retry, err = l.Allow(ctx, key, tc.rate, tc.burst)
						if err != nil {
							t.Fatalf("step %d: %v", i, err)
						}
						if j < n-1 && ok != st.allowed {
							t.Fatalf("step %d request %d of %d: allowed=%v, want %v for all", i, j+1, n, ok, st.allowed)
						}
					}
					if ok != st.allowed || retry != st.retry {
						t.Fatalf("step %d: allowed=%v retry=%v, want %v %v", i, ok, retry, st.allowed, st.retry)
					}
				}
			})
		})
	}
}

// TestLimiterKeyExpires checks that a key lives no longer than it carries
// information, so idle tokens and addresses do not pile up in Redis.
func TestLimiterKeyExpires(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string, _ bool) {
		l := NewLimiter(rdb, prefix, clock.NewSimulated(t0))
		ctx := context.Background()
		for range 3 {
			if ok, _, err := l.Allow(ctx, "ttl", 2, 5); err != nil || !ok {
				t.Fatalf("Allow: %v %v", ok, err)
			}
		}
		key := l.keys.rateLimit("ttl")
		ttl, err := rdb.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Three requests at 500 ms each put the TAT 1.5 s ahead.
		if ttl <= 0 || ttl > 1500*time.Millisecond {
			t.Fatalf("PTTL of %s = %v, want (0, 1.5s]", key, ttl)
		}
	})
}

// TestLimiterRedisTime covers the production path, where the script reads Redis
// TIME: a burst passes and the request after it is told to wait at most an interval.
func TestLimiterRedisTime(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string, _ bool) {
		l := NewLimiter(rdb, prefix, nil)
		ctx := context.Background()
		for i := range 3 {
			if ok, _, err := l.Allow(ctx, "wall", 1, 3); err != nil || !ok {
				t.Fatalf("request %d: %v %v", i+1, ok, err)
			}
		}
		ok, retry, err := l.Allow(ctx, "wall", 1, 3)
		if err != nil || ok || retry <= 0 || retry > time.Second {
			t.Fatalf("4th request: allowed=%v retry=%v err=%v, want refused within (0, 1s]", ok, retry, err)
		}
	})
}

// TestLimiterRedisDown: the store reports the outage as UNAVAILABLE and leaves the
// decision to fail open to the caller.
func TestLimiterRedisDown(t *testing.T) {
	mr, rdb := storetest.Miniredis(t)
	mr.Close()
	_, _, err := NewLimiter(rdb, "", nil).Allow(context.Background(), "k", 1, 1)
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("Allow with Redis down: %v, want UNAVAILABLE", err)
	}
}

func TestRateLimitKeyHasOwnHashTag(t *testing.T) {
	if got, want := (keys{prefix: "p"}).rateLimit("poll:1:2"), "p:rl:{poll:1:2}"; got != want {
		t.Fatalf("rateLimit key = %q, want %q", got, want)
	}
}
