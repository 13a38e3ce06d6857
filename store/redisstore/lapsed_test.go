package redisstore

import (
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

// TestAdmitLapsedLeasesBounded: one admission step forgets at most 1,000 lapsed
// leases, whatever their number, and the ones left for later steps do not count as
// active: admission goes on at once.
func TestAdmitLapsedLeasesBounded(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.configure(qt0, engine.QueueSettings{AdmitPerSecond: 1000, MaxActive: 10})
		q.admit(qt0)
		const lapsed = 2500
		zs := make([]redis.Z, lapsed)
		for i := range zs {
			zs[i] = redis.Z{Score: float64(qt0.UnixMilli()), Member: strconv.Itoa(100_000 + i)}
		}
		if err := q.rdb.ZAdd(q.ctx, q.s.keys.active(q.c), zs...).Err(); err != nil {
			t.Fatal(err)
		}
		q.enterMany(1, 5, qt0)
		now := qt0.Add(time.Second)
		if r := q.admit(now); r.Admitted != 5 {
			t.Fatalf("admitted %d with %d lapsed leases left, want 5", r.Admitted, lapsed)
		}
		if n := q.rdb.ZCard(q.ctx, q.s.keys.active(q.c)).Val(); n != lapsed-1000+5 {
			t.Fatalf("%d leases after one step, want %d (1,000 lapsed ones forgotten, 5 new)", n, lapsed-1000+5)
		}
		q.admit(now.Add(100 * time.Millisecond))
		q.admit(now.Add(200 * time.Millisecond))
		if n := q.rdb.ZCard(q.ctx, q.s.keys.active(q.c)).Val(); n != 5 {
			t.Fatalf("%d leases after three steps, want the 5 live ones", n)
		}
	})
}
