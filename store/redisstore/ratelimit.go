package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine/clock"
)

// Limiter is a GCRA rate limiter in Redis (scripts/ratelimit.lua). It needs only
// the script calls, so a client, a cluster client or a ring all serve.
type Limiter struct {
	rdb   redis.Scripter
	keys  keys
	clock clock.Clock
}

// NewLimiter returns a limiter whose keys start with prefix. With a nil clock the
// script reads Redis TIME, which is what a fleet wants: one clock for every
// instance. Tests pass a simulated clock so they can move time instead of sleeping.
func NewLimiter(rdb redis.Scripter, prefix string, clk clock.Clock) *Limiter {
	if prefix == "" {
		prefix = "concertd"
	}
	return &Limiter{rdb: rdb, keys: keys{prefix: prefix}, clock: clk}
}

// Allow spends one request of key's allowance of rate per second with bursts of
// up to burst. When refused, retryAfter is how long until one request would pass.
// A rate below 1 means no limit. Redis failures come back as errors for the
// caller to decide on; the HTTP layer lets the request through.
func (l *Limiter) Allow(ctx context.Context, key string, rate, burst int) (bool, time.Duration, error) {
	if rate <= 0 {
		return true, 0, nil
	}
	if burst < 1 {
		burst = 1
	}
	var now int64
	if l.clock != nil {
		now = l.clock.Now().UnixMicro()
	}
	interval := int64(time.Second/time.Microsecond) / int64(rate)
	if interval < 1 {
		interval = 1 // above a million per second the limit is off in all but name
	}
	res, err := rateLimitScript.Run(ctx, l.rdb, []string{l.keys.rateLimit(key)}, interval, burst, now).Int64Slice()
	if err != nil {
		return false, 0, domainError("rate limit", err)
	}
	if len(res) != 3 {
		return false, 0, fmt.Errorf("redis rate limit: script answered %v", res)
	}
	return res[0] == 1, time.Duration(res[2]) * time.Microsecond, nil
}
