package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
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
			if m.Held[seat] != want {
				t.Errorf("seat %d held = %v, want %v", seat, m.Held[seat], want)
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
			if !errors.Is(c.err, engine.ErrNotRebuilt) {
				t.Errorf("hold %d: %v, want ErrNotRebuilt", i, c.err)
			}
		}
		if n := f.rdb.HLen(f.ctx, f.s.keys.holders(f.c, f.sched.ID)).Val(); n != 0 {
			t.Errorf("%d seats held", n)
		}
	})
}
