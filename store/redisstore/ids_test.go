package redisstore

import (
	"context"
	"sync"
	"testing"

	"github.com/concertd/concertd/store/storetest"
)

// blockLedger is a ledger's id sequence: blocks of 1,000 that never repeat.
type blockLedger struct {
	Ledger
	mu   sync.Mutex
	next int64
}

func (l *blockLedger) ReservationIDBlock(context.Context) (int64, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.next
	l.next += 1000
	return first, 1000, nil
}

// TestReservationIDsOutliveRedis: with a ledger that hands out id blocks, an
// instance that starts after Redis lost everything (a failover that lost the
// counter) never draws an id another instance already gave out.
func TestReservationIDsOutliveRedis(t *testing.T) {
	t.Parallel()
	mr, rdb := storetest.Miniredis(t)
	led := &blockLedger{next: 1}
	a := New(rdb, "ids", led)
	seen := map[int64]bool{}
	draw := func(s *Store, n int) {
		t.Helper()
		for range n {
			id, err := s.NextReservationID(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if seen[id] {
				t.Fatalf("reservation id %d handed out twice", id)
			}
			seen[id] = true
		}
	}
	draw(a, 1500) // two blocks
	mr.FlushAll() // Redis's own counter, had it been used, is back at 0
	b := New(rdb, "ids", led)
	draw(b, 1500)
	draw(a, 600)
	if len(seen) != 3600 {
		t.Fatalf("%d distinct ids, want 3600", len(seen))
	}
}
