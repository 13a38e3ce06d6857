package redisstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/storetest"
)

// TestHoldBatchDecidesInOrder runs one hold.lua call for holds that depend on
// each other: each must be decided as if it ran alone after the ones before it.
func TestHoldBatchDecidesInOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		until := t0.Add(time.Hour)
		f.activate(1, until)
		f.activate(2, until)
		f.wait(3)
		// user 4 has no token record at all

		cases := []struct {
			uid     int64
			seat    int
			created bool
			sameAs  int // for a re-hold: the index of the case whose reservation it finds
			err     error
		}{
			{uid: 1, seat: 5, created: true},
			{uid: 2, seat: 5, err: engine.ErrSeatTaken},
			{uid: 1, seat: 5, sameAs: 0},
			{uid: 3, seat: 6, err: engine.ErrNotAdmitted},
			{uid: 1, seat: 7, created: true},
			{uid: 1, seat: 8, created: true},
			{uid: 1, seat: 9, created: true},
			{uid: 1, seat: 10, err: engine.ErrHoldLimitReached}, // f.max is 4
			{uid: 4, seat: 11, err: engine.ErrTokenExpired},
			{uid: 2, seat: 10, created: true},
		}
		batch := make([]*holdCall, len(cases))
		for i, c := range cases {
			id, err := f.s.NextReservationID(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			batch[i] = &holdCall{req: engine.HoldRequest{
				Token: f.token(c.uid), ReservationID: id, Schedule: f.sched, Seat: c.seat,
				Now: t0, Deadline: t0.Add(time.Minute), MaxHolds: f.max,
			}}
		}
		f.s.runHolds(f.sched.ID, batch)

		for i, c := range cases {
			got := batch[i]
			if c.err != nil {
				if !errors.Is(got.err, c.err) {
					t.Errorf("case %d (user %d seat %d): err %v, want %v", i, c.uid, c.seat, got.err, c.err)
				}
				continue
			}
			if got.err != nil {
				t.Errorf("case %d (user %d seat %d): %v", i, c.uid, c.seat, got.err)
				continue
			}
			want := batch[i].req.ReservationID
			if !c.created {
				want = batch[c.sameAs].req.ReservationID
			}
			if got.res.created != c.created || got.res.rid != want {
				t.Errorf("case %d (user %d seat %d): %+v, want created=%v rid %d", i, c.uid, c.seat, got.res, c.created, want)
			}
		}

		m := f.seatMap(t0)
		for seat, want := range map[int]bool{5: true, 6: false, 7: true, 8: true, 9: true, 10: true, 11: false} {
			if m.Held(seat) != want {
				t.Errorf("seat %d held = %v, want %v", seat, m.Held(seat), want)
			}
		}
		if got := f.state(batch[9].req.ReservationID, t0); got != engine.ReservationPending {
			t.Errorf("last hold's reservation is %s, want PENDING", got)
		}
	})
}

// TestHoldBatchNotRebuilt: a schedule whose sold seats are not loaded refuses
// every hold of the call, and holds nothing.
func TestHoldBatchNotRebuilt(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		f.activate(1, t0.Add(time.Hour))
		if err := f.rdb.Del(f.ctx, f.s.keys.rebuilt(f.c, f.sched.ID)).Err(); err != nil {
			t.Fatal(err)
		}
		batch := []*holdCall{{req: engine.HoldRequest{
			Token: f.token(1), ReservationID: 1, Schedule: f.sched, Seat: 1,
			Now: t0, Deadline: t0.Add(time.Minute), MaxHolds: f.max,
		}}, {req: engine.HoldRequest{
			Token: f.token(1), ReservationID: 2, Schedule: f.sched, Seat: 2,
			Now: t0, Deadline: t0.Add(time.Minute), MaxHolds: f.max,
		}}}
		f.s.runHolds(f.sched.ID, batch)
		for i, c := range batch {
			if !errors.Is(c.err, errNotRebuilt) {
				t.Errorf("hold %d: %v, want errNotRebuilt", i, c.err)
			}
		}
		if n := f.rdb.HLen(f.ctx, f.s.keys.holders(f.c, f.sched.ID)).Val(); n != 0 {
			t.Errorf("%d seats held", n)
		}
	})
}

// BenchmarkHoldParallel: holds on random seats of a 100,000-seat schedule by
// 1,000 ACTIVE users from many goroutines, the shape of a rush on one schedule.
// batch=1 sends every hold alone, with no limit on calls in flight (as before
// batching: each hold its own EVALSHA through the pipeliner); batch=32 lets concurrent
// holds share hold.lua calls; both in one run, so the ratio is the finding.
// Refused holds (SEAT_TAKEN) count: they are the same round trip.
func BenchmarkHoldParallel(b *testing.B) {
	rdb, prefix := storetest.Redis(b)
	for i, max := range []int{1, holdBatch} {
		b.Run(fmt.Sprintf("batch=%d", max), func(b *testing.B) {
			f := newFixture(b, backend{s: New(rdb, fmt.Sprintf("%s:%d", prefix, i), nil), rdb: rdb, real: true})
			f.sched.SeatCount = 100_000
			f.s.holds.max = max
			if max == 1 {
				f.s.holds.flushers = 1 << 30
			}
			until := time.Now().Add(time.Hour)
			for uid := int64(1); uid <= 1000; uid++ {
				f.activate(uid, until)
			}
			b.SetParallelism(32) // 32 x GOMAXPROCS goroutines, as a busy server has requests in flight
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id, err := f.s.NextReservationID(f.ctx)
					if err != nil {
						b.Fatal(err)
					}
					now := time.Now()
					_, err = f.s.Hold(f.ctx, engine.HoldRequest{
						Token: f.token(rand.Int64N(1000) + 1), ReservationID: id, Schedule: f.sched,
						Seat: rand.IntN(100_000) + 1, Now: now, Deadline: now.Add(time.Minute), MaxHolds: 1_000_000,
					})
					if err != nil && !errors.Is(err, engine.ErrSeatTaken) {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
