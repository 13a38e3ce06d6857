package redisstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// soldLedger is a ledger that sold some seats under reservation ids up to maxID,
// bought counted per user, and counts the rebuilds that read it.
type soldLedger struct {
	sold   []int
	maxID  int64
	bought map[int64]int
	reads  atomic.Int64
}

func (l *soldLedger) AllSoldSeats(context.Context, int64) ([]int, error) {
	l.reads.Add(1)
	return l.sold, nil
}

func (l *soldLedger) MaxReservationID(context.Context) (int64, error) { return l.maxID, nil }

func (l *soldLedger) BoughtCounts(context.Context, int64) (map[int64]int, error) {
	return l.bought, nil
}

// A Redis that lost its data rebuilds a schedule from the ledger on the first hold,
// seat map or count that meets it, once however many meet it at once: no sold seat
// is offered again and no paid reservation's id is reissued.
func TestRebuildFromLedger(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		l := &soldLedger{sold: []int{3, 7}, maxID: 5_000_000, bought: map[int64]int{1: 1, 2: 1}}
		s := New(f.rdb, f.s.Prefix(), l)
		if err := f.rdb.Del(f.ctx, s.keys.rebuilt(f.c, f.sched.ID)).Err(); err != nil {
			t.Fatal(err)
		}
		const users = 20
		for uid := int64(1); uid <= users; uid++ {
			f.activate(uid, t0.Add(time.Hour))
		}
		// Every user asks for seat 3 or 7 (sold) or a seat of their own, at once.
		results := make([]error, users)
		ids := make([]int64, users)
		atOnce(users, func(i int) {
			seat := 10 + i
			if i < 4 {
				seat = []int{3, 7}[i%2]
			}
			r, err := s.Hold(f.ctx, engine.HoldRequest{ // the store draws the id
				Token: f.token(int64(i + 1)), Schedule: f.sched, Seat: seat,
				Now: t0, Deadline: t0.Add(time.Minute), MaxHolds: f.max,
			})
			results[i], ids[i] = err, r.Reservation.ID
		})
		for i, err := range results {
			switch {
			case i < 4:
				wantErr(t, err, engine.ErrSeatTaken)
			case err != nil:
				t.Fatalf("user %d: %v", i+1, err)
			case ids[i] <= l.maxID:
				t.Fatalf("user %d holds under id %d, at or below the ledger's %d", i+1, ids[i], l.maxID)
			}
		}
		if n := l.reads.Load(); n != 1 {
			t.Fatalf("the ledger was read %d times, want once", n)
		}
		// The ticket limit's bought counts came back with the sold seats.
		if got := f.rdb.HGetAll(f.ctx, s.keys.bought(f.c)).Val(); got["1"] != "1" || got["2"] != "1" || got["_"] != "1" {
			t.Fatalf("bought counts after the rebuild: %v", got)
		}
		m, err := s.SeatMap(f.ctx, f.c, f.sched.ID, f.sched.SeatCount, t0)
		if err != nil || !m.Sold[3] || !m.Sold[7] || m.Sold[14] || !m.Held(14) {
			t.Fatalf("seat map after the rebuild: sold 3=%v 7=%v 14=%v, held 14=%v, %v", m.Sold[3], m.Sold[7], m.Sold[14], m.Held(14), err)
		}
		// Lost again: the counts notice it and rebuild before counting.
		if err := f.rdb.Del(f.ctx, s.keys.rebuilt(f.c, f.sched.ID), s.keys.sold(f.c, f.sched.ID)).Err(); err != nil {
			t.Fatal(err)
		}
		if sold, held, err := s.Counts(f.ctx, f.c, f.sched.ID, t0); err != nil || sold != 2 || held != users-4 {
			t.Fatalf("counts after a second loss: sold %d held %d, %v; want 2 and %d", sold, held, err, users-4)
		}
		if n := l.reads.Load(); n != 2 {
			t.Fatalf("the ledger was read %d times, want twice", n)
		}
	})
}
