package redisstore

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

// concertKeys lists one concert's keys on the server that holds its slot.
func (q *qfix) concertKeys(c int64) []string {
	q.t.Helper()
	var out []string
	err := q.s.scanConcert(q.ctx, c, func(_ redis.Cmdable, batch []string) error {
		out = append(out, batch...)
		return nil
	})
	if err != nil {
		q.t.Fatal(err)
	}
	return out
}

// TestPurgeConcert: every key of the closed concert goes, on whichever server
// holds its slot; another concert's keys stay; P:closed records it.
func TestPurgeConcert(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.enterMany(1, 50, t0)
		q.admit(t0.Add(1e9))
		other := q.c + 100_000
		if err := q.s.Configure(context.Background(), engine.QueueConfig{ConcertID: other, SaleOpensAt: t0,
			Settings: engine.QueueSettings{AdmitPerSecond: 1, MaxActive: 1}}); err != nil {
			t.Fatal(err)
		}
		if len(q.concertKeys(q.c)) < 3 {
			t.Fatalf("keys before the purge: %v", q.concertKeys(q.c))
		}
		if err := q.s.PurgeConcert(q.ctx, q.c); err != nil {
			t.Fatal(err)
		}
		if left := q.concertKeys(q.c); len(left) != 0 {
			t.Fatalf("keys left: %v", left)
		}
		if len(q.concertKeys(other)) == 0 {
			t.Fatal("another concert's keys went too")
		}
		done, err := q.s.Purged(q.ctx, []int64{q.c, other})
		if err != nil || !done[q.c] || done[other] {
			t.Fatalf("Purged = %v, %v; want only %d", done, err, q.c)
		}
	})
}

func TestGlobEscape(t *testing.T) {
	for in, want := range map[string]string{"concertd:{c1}:": "concertd:{c1}:", "a*b": `a\*b`, `a*b?[c]\`: `a\*b\?\[c\]\\`} {
		if got := GlobEscape(in); got != want {
			t.Errorf("GlobEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
