package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

func TestHoldCases(t *testing.T) {
	later := t0.Add(2 * time.Minute) // past a hold made at t0
	cases := []struct {
		name        string
		setup       func(f *fixture) // before user 1 holds seat 7 at `at`
		at          time.Time
		tok         func(f *fixture) engine.Token
		wantErr     error
		wantCreated bool
		check       func(f *fixture, r engine.HoldResult)
	}{
		{name: "free seat", wantCreated: true, check: func(f *fixture, r engine.HoldResult) {
			res := r.Reservation
			if res.State != engine.ReservationPending || res.Seat != 7 || res.UserID != 1 || res.Price != 50000 ||
				res.ScheduleID != f.sched.ID || res.ConcertID != f.c || !res.ExpiresAt.Equal(t0.Add(time.Minute)) {
				f.t.Fatalf("reservation %+v", res)
			}
			got, err := f.s.Reservation(f.ctx, f.c, res.ID, t0)
			if err != nil || got != res {
				f.t.Fatalf("read back %+v, %v; want %+v", got, err, res)
			}
			if h := f.holder(7); h != fmt.Sprintf("%d:1", res.ID) {
				f.t.Fatalf("holder %q", h)
			}
			lease, _ := f.rdb.ZScore(f.ctx, f.s.keys.active(f.c), "1").Result()
			if int64(lease) < res.ExpiresAt.UnixMilli() {
				f.t.Fatalf("token lease %v ends before the hold", lease)
			}
		}},
		{name: "sold seat", wantErr: engine.ErrSeatTaken, setup: func(f *fixture) {
			if err := f.s.MarkSold(f.ctx, f.c, f.sched.ID, []int{7}); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "held by other", wantErr: engine.ErrSeatTaken, setup: func(f *fixture) {
			f.activate(2, t0.Add(time.Hour))
			f.mustHold(2, 7, t0)
		}},
		{name: "held by self", wantCreated: false, setup: func(f *fixture) {
			f.mustHold(1, 7, t0)
		}, check: func(f *fixture, r engine.HoldResult) {
			if r.Reservation.State != engine.ReservationPending || r.Reservation.Seat != 7 {
				f.t.Fatalf("reservation %+v", r.Reservation)
			}
			if f.liveHolds(1) != 1 {
				f.t.Fatalf("user holds %d seats, want 1", f.liveHolds(1))
			}
		}},
		{name: "expired hold is free", at: later, wantCreated: true, setup: func(f *fixture) {
			f.activate(2, t0.Add(time.Hour))
			old := f.mustHold(2, 7, t0)
			f.t.Cleanup(func() {
				if s := f.state(old.ID, later); s != engine.ReservationExpired {
					f.t.Errorf("old hold reads %s, want EXPIRED", s)
				}
			})
		}},
		{name: "own expired hold gives a new reservation", at: later, wantCreated: true, setup: func(f *fixture) {
			f.mustHold(1, 7, t0)
		}},
		{name: "paying seat of other", wantErr: engine.ErrSeatTaken, at: later, setup: func(f *fixture) {
			f.activate(2, t0.Add(time.Hour))
			r := f.mustHold(2, 7, t0)
			// The window ends before `later`, yet a seat being paid stays taken.
			if _, err := f.s.BeginPayment(f.ctx, f.token(2), r.ID, t0, t0.Add(30*time.Second)); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "paying seat of self", wantCreated: false, setup: func(f *fixture) {
			r := f.mustHold(1, 7, t0)
			if _, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(30*time.Second)); err != nil {
				f.t.Fatal(err)
			}
		}, check: func(f *fixture, r engine.HoldResult) {
			if r.Reservation.State != engine.ReservationPaying {
				f.t.Fatalf("state %s, want PAYING", r.Reservation.State)
			}
		}},
		{name: "waiting token", wantErr: engine.ErrNotAdmitted, setup: func(f *fixture) {
			f.rdb.HDel(f.ctx, f.s.keys.tokens(f.c), "1")
			f.rdb.ZRem(f.ctx, f.s.keys.active(f.c), "1")
			f.wait(1)
		}},
		{name: "gen mismatch", wantErr: engine.ErrTokenExpired, tok: func(f *fixture) engine.Token {
			tok := f.token(1)
			tok.Gen = 2
			return tok
		}},
		{name: "token done", wantErr: engine.ErrTokenExpired, setup: func(f *fixture) {
			f.rdb.HSet(f.ctx, f.s.keys.tokens(f.c), "1", tokenRecord(1, t0)+":d")
		}},
		{name: "lease ran out", wantErr: engine.ErrTokenExpired, at: t0.Add(2 * time.Hour)},
		{name: "no token", wantErr: engine.ErrTokenExpired, setup: func(f *fixture) {
			f.rdb.HDel(f.ctx, f.s.keys.tokens(f.c), "1")
		}},
		{name: "hold limit", wantErr: engine.ErrHoldLimitReached, setup: func(f *fixture) {
			for seat := 1; seat <= f.max; seat++ {
				f.mustHold(1, seat, t0)
			}
		}},
		{name: "expired holds do not count", at: later, wantCreated: true, setup: func(f *fixture) {
			for seat := 1; seat <= f.max; seat++ {
				f.mustHold(1, seat, t0)
			}
		}},
		{name: "seat out of range", wantErr: engine.ErrInvalidSeat, setup: func(f *fixture) {
			f.sched.SeatCount = 5
		}},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, b)
				f.activate(1, t0.Add(time.Hour))
				if tc.setup != nil {
					tc.setup(f)
				}
				at := tc.at
				if at.IsZero() {
					at = t0
				}
				tok := f.token(1)
				if tc.tok != nil {
					tok = tc.tok(f)
				}
				r, err := f.holdToken(tok, 7, at)
				wantErr(t, err, tc.wantErr)
				if err != nil {
					return
				}
				if r.Created != tc.wantCreated {
					t.Fatalf("created = %v, want %v", r.Created, tc.wantCreated)
				}
				if m := f.seatMap(at); !m.Held(7) {
					t.Fatal("seat 7 not held on the seat map")
				}
				if tc.check != nil {
					tc.check(f, r)
				}
			})
		}
	})
}

// TestHoldExtendsLease: after a hold the token's lease ends no earlier than the
// hold (its owner must be able to pay), and a lease that already outlasts the
// hold is left as it was, never shortened.
func TestHoldExtendsLease(t *testing.T) {
	deadline := t0.Add(time.Minute) // holdToken's: now + 1 min
	cases := []struct {
		name      string
		lease     time.Time
		wantLease time.Time
	}{
		{"lease ends before the hold", t0.Add(30 * time.Second), deadline},
		{"lease ends with the hold", deadline, deadline},
		{"lease outlasts the hold", t0.Add(time.Hour), t0.Add(time.Hour)},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, b)
				f.activate(1, tc.lease)
				f.mustHold(1, 7, t0)
				lease, err := f.rdb.ZScore(f.ctx, f.s.keys.active(f.c), "1").Result()
				if err != nil || int64(lease) != tc.wantLease.UnixMilli() {
					t.Fatalf("lease %v (%v), want %v", int64(lease), err, tc.wantLease.UnixMilli())
				}
			})
		}
	})
}

// seatHold is one hold for holdAtOnce: a user and a seat.
type seatHold struct {
	uid  int64
	seat int
}

// holdAtOnce runs the holds concurrently at t0 and counts the ones created and
// the ones refused with refusal; any other answer fails the test.
func (f *fixture) holdAtOnce(refusal error, holds []seatHold) (created, refused int64) {
	var c, r atomic.Int64
	atOnce(len(holds), func(i int) {
		h := holds[i]
		res, err := f.hold(h.uid, h.seat, t0)
		switch {
		case err == nil && res.Created:
			c.Add(1)
		case errors.Is(err, refusal):
			r.Add(1)
		default:
			f.t.Errorf("user %d, seat %d: created=%v err=%v", h.uid, h.seat, res.Created, err)
		}
	})
	return c.Load(), r.Load()
}

func TestHoldRaceSameSeat(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		const n = 200
		for uid := int64(1); uid <= n; uid++ {
			f.activate(uid, t0.Add(time.Hour))
		}
		var holds []seatHold
		for uid := int64(1); uid <= n; uid++ {
			holds = append(holds, seatHold{uid, 42})
		}
		if created, taken := f.holdAtOnce(engine.ErrSeatTaken, holds); created != 1 || taken != n-1 {
			t.Fatalf("created %d, taken %d; want 1 and %d", created, taken, n-1)
		}
	})
}

func TestHoldRaceManyUsers(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		const users, tries = 500, 3
		for uid := int64(1); uid <= users; uid++ {
			f.activate(uid, t0.Add(time.Hour))
		}
		var mu sync.Mutex
		var created []engine.Reservation
		atOnce(users, func(i int) {
			uid := int64(i + 1)
			for range tries {
				r, err := f.hold(uid, 1+rand.IntN(f.sched.SeatCount), t0)
				switch {
				case err == nil && r.Created:
					mu.Lock()
					created = append(created, r.Reservation)
					mu.Unlock()
				case err == nil, errors.Is(err, engine.ErrSeatTaken):
				default:
					t.Errorf("user %d: %v", uid, err)
				}
			}
		})

		owner := map[int]engine.Reservation{}
		for _, r := range created {
			if o, dup := owner[r.Seat]; dup {
				t.Fatalf("seat %d created for both %+v and %+v", r.Seat, o, r)
			}
			owner[r.Seat] = r
			if h := f.holder(r.Seat); h != fmt.Sprintf("%d:%d", r.ID, r.UserID) {
				t.Fatalf("seat %d holder %q, want reservation %d of user %d", r.Seat, h, r.ID, r.UserID)
			}
		}
		m := f.seatMap(t0)
		held := 0
		for seat := 1; seat <= f.sched.SeatCount; seat++ {
			if m.Held(seat) {
				held++
				if _, ok := owner[seat]; !ok {
					t.Fatalf("seat %d held but no hold was created on it", seat)
				}
			}
		}
		if held != len(created) {
			t.Fatalf("seat map holds %d seats, %d holds created", held, len(created))
		}
		sold, heldCount := f.counts(t0)
		if sold != 0 || heldCount != int64(len(created)) {
			t.Fatalf("counts sold=%d held=%d, want 0 and %d", sold, heldCount, len(created))
		}
		n, err := f.rdb.HLen(f.ctx, f.s.keys.holders(f.c, f.sched.ID)).Result()
		if err != nil || n != int64(len(created)) {
			t.Fatalf("holders has %d entries (%v), want %d", n, err, len(created))
		}
		f.requireHolderInvariant()
	})
}

func TestHoldLimitParallel(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		f.activate(1, t0.Add(time.Hour))
		var holds []seatHold
		for seat := 1; seat <= 20; seat++ {
			holds = append(holds, seatHold{1, seat})
		}
		if created, limited := f.holdAtOnce(engine.ErrHoldLimitReached, holds); created != 4 || limited != 16 {
			t.Fatalf("created %d, limited %d; want 4 and 16", created, limited)
		}
		if f.liveHolds(1) != 4 {
			t.Fatalf("user holds %d, want 4", f.liveHolds(1))
		}
	})
}

func TestExpiredLazily(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		f.activate(1, t0.Add(time.Hour))
		r := f.mustHold(1, 3, t0)
		if m := f.seatMap(t0.Add(time.Minute - time.Millisecond)); !m.Held(3) || m.Tags[3] != engine.HolderTag(1) {
			t.Fatalf("seat 3 before its deadline: held %v, tag %d, want held by tag %d", m.Held(3), m.Tags[3], engine.HolderTag(1))
		}
		// At the deadline the hold is over, with no sweep having run.
		at := r.ExpiresAt
		if m := f.seatMap(at); m.Held(3) || m.Sold[3] || m.Tags[3] != 0 {
			t.Fatalf("seat 3 at its deadline: held %v, sold %v, tag %d", m.Held(3), m.Sold[3], m.Tags[3])
		}
		if _, held := f.counts(at); held != 0 {
			t.Fatalf("held = %d after the deadline", held)
		}
		if s := f.state(r.ID, at); s != engine.ReservationExpired {
			t.Fatalf("state %s, want EXPIRED", s)
		}
		f.activate(2, t0.Add(time.Hour))
		f.mustHold(2, 3, at)
		if m := f.seatMap(at); !m.Held(3) || m.Tags[3] != engine.HolderTag(2) {
			t.Fatalf("seat 3 held again: held %v, tag %d, want tag %d", m.Held(3), m.Tags[3], engine.HolderTag(2))
		}
		f.requireHolderInvariant()
	})
}

func TestExpiredSweepAndRelease(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		f.activate(1, t0.Add(time.Hour))
		f.activate(2, t0.Add(time.Hour))
		a := f.mustHold(1, 1, t0)
		p := f.mustHold(1, 2, t0)
		if _, err := f.s.BeginPayment(f.ctx, f.token(1), p.ID, t0, t0.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		c := f.mustHold(2, 3, t0.Add(10*time.Second)) // expires later than the others

		if got, err := f.s.Expired(f.ctx, f.c, f.sched.ID, t0.Add(20*time.Second), 10); err != nil || len(got) != 0 {
			t.Fatalf("expired before any deadline: %v %v", got, err)
		}
		now := t0.Add(65 * time.Second) // a and p are over, c is not
		got, err := f.s.Expired(f.ctx, f.c, f.sched.ID, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []engine.ExpiredHold{
			{ConcertID: f.c, ScheduleID: f.sched.ID, Seat: 1, ReservationID: a.ID, UserID: 1},
			{ConcertID: f.c, ScheduleID: f.sched.ID, Seat: 2, ReservationID: p.ID, UserID: 1, Paying: true},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("expired = %+v, want %+v", got, want)
		}
		if one, _ := f.s.Expired(f.ctx, f.c, f.sched.ID, now, 1); len(one) != 1 {
			t.Fatalf("limit 1 gave %d", len(one))
		}

		// A stale entry (the seat was lazily re-held by someone else) must not free
		// the new hold.
		f.activate(3, t0.Add(time.Hour))
		stale := want[0]
		f.mustHold(3, 1, now)
		if err := f.s.Release(f.ctx, stale, now); err != nil {
			t.Fatal(err)
		}
		if m := f.seatMap(now); !m.Held(1) {
			t.Fatal("stale release freed the new hold")
		}

		for range 2 { // idempotent
			if err := f.s.Release(f.ctx, want[1], now); err != nil {
				t.Fatal(err)
			}
		}
		m := f.seatMap(now)
		if m.Held(2) || !m.Held(3) {
			t.Fatalf("after release: seat 2 held=%v (want false), seat 3 held=%v (want true)", m.Held(2), m.Held(3))
		}
		if s := f.state(p.ID, now); s != engine.ReservationExpired {
			t.Fatalf("released paying hold reads %s", s)
		}
		// Read lazily, a PENDING record past its deadline would say EXPIRED too; an
		// operator's redis-cli GET must see the state release.lua wrote.
		if rec, _ := f.rdb.Get(f.ctx, f.s.keys.reservation(f.c, p.ID)).Result(); !strings.HasSuffix(rec, ":EXPIRED") {
			t.Fatalf("released paying hold's record is %q, want state EXPIRED", rec)
		}
		// a's entry was left by the no-op release; it is past its deadline, so it
		// no longer counts.
		if n, _ := f.rdb.ZCount(f.ctx, f.s.keys.userHolds(f.c, 1), "("+ms(now), "+inf").Result(); n != 0 {
			t.Fatalf("user 1 still has %d live holds", n)
		}
		if rest, _ := f.s.Expired(f.ctx, f.c, f.sched.ID, now, 10); len(rest) != 0 {
			t.Fatalf("still expired after release: %+v", rest)
		}
		// A hold not yet past its deadline is never released, whatever the caller says.
		if err := f.s.Release(f.ctx, engine.ExpiredHold{ConcertID: f.c, ScheduleID: f.sched.ID, Seat: 3, ReservationID: c.ID, UserID: 2}, now); err != nil {
			t.Fatal(err)
		}
		if m := f.seatMap(now); !m.Held(3) {
			t.Fatal("live hold released")
		}
		f.requireHolderInvariant()
	})
}

// TestReservationStateMachine walks Cancel, BeginPayment, AbortPayment and
// CompletePayment through their cases. User 1 holds seat 5 at t0 (deadline t0+1m).
func TestReservationStateMachine(t *testing.T) {
	window := 30 * time.Second
	cases := []struct {
		name string
		run  func(f *fixture, r engine.Reservation)
	}{
		{"cancel pending frees the seat, twice is fine", func(f *fixture, r engine.Reservation) {
			for range 2 {
				got, err := f.s.Cancel(f.ctx, f.c, r.ID, 1, t0)
				wantErr(f.t, err, nil)
				if got.State != engine.ReservationCancelled || got.Seat != 5 {
					f.t.Fatalf("cancel: %+v", got)
				}
			}
			if f.seatMap(t0).Held(5) || f.holder(5) != "" || f.liveHolds(1) != 0 {
				f.t.Fatal("seat not free after cancel")
			}
			f.activate(2, t0.Add(time.Hour))
			f.mustHold(2, 5, t0)
		}},
		{"cancel unknown or another user's", func(f *fixture, r engine.Reservation) {
			_, err := f.s.Cancel(f.ctx, f.c, r.ID, 2, t0)
			wantErr(f.t, err, engine.ErrReservationNotFound)
			_, err = f.s.Cancel(f.ctx, f.c, r.ID+1000, 1, t0)
			wantErr(f.t, err, engine.ErrReservationNotFound)
		}},
		{"cancel after deadline", func(f *fixture, r engine.Reservation) {
			_, err := f.s.Cancel(f.ctx, f.c, r.ID, 1, r.ExpiresAt)
			wantErr(f.t, err, engine.ErrReservationExpired)
			if f.state(r.ID, r.ExpiresAt) != engine.ReservationExpired || f.holder(5) != "" {
				f.t.Fatal("expired hold not marked and freed")
			}
		}},
		{"cancel while paying or paid", func(f *fixture, r engine.Reservation) {
			p, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			wantErr(f.t, err, nil)
			_, err = f.s.Cancel(f.ctx, f.c, r.ID, 1, t0)
			wantErr(f.t, err, engine.ErrAlreadyPaid)
			if _, err := f.s.CompletePayment(f.ctx, p, t0); err != nil {
				f.t.Fatal(err)
			}
			_, err = f.s.Cancel(f.ctx, f.c, r.ID, 1, t0)
			wantErr(f.t, err, engine.ErrAlreadyPaid)
		}},
		{"begin moves to paying", func(f *fixture, r engine.Reservation) {
			p, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			wantErr(f.t, err, nil)
			if p.State != engine.ReservationPaying || !p.ExpiresAt.Equal(r.ExpiresAt) || p.Price != r.Price || p.Seat != 5 {
				f.t.Fatalf("begin: %+v", p)
			}
			// Past the hold deadline the seat is still taken: it is being paid.
			if m := f.seatMap(r.ExpiresAt.Add(time.Hour)); !m.Held(5) {
				f.t.Fatal("paying seat not held")
			}
			if s := f.state(r.ID, r.ExpiresAt.Add(time.Hour)); s != engine.ReservationPaying {
				f.t.Fatalf("paying reads %s", s)
			}
			_, err = f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			wantErr(f.t, err, engine.ErrAlreadyPaid)
		}},
		{"begin another user's or unknown", func(f *fixture, r engine.Reservation) {
			f.activate(2, t0.Add(time.Hour))
			_, err := f.s.BeginPayment(f.ctx, f.token(2), r.ID, t0, t0.Add(window))
			wantErr(f.t, err, engine.ErrReservationNotFound)
			_, err = f.s.BeginPayment(f.ctx, f.token(1), r.ID+1000, t0, t0.Add(window))
			wantErr(f.t, err, engine.ErrReservationNotFound)
		}},
		{"begin a paid reservation with a DONE or dead token", func(f *fixture, r engine.Reservation) {
			p, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			wantErr(f.t, err, nil)
			_, err = f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			wantErr(f.t, err, engine.ErrAlreadyPaid) // PAYING
			if _, err := f.s.CompletePayment(f.ctx, p, t0); err != nil {
				f.t.Fatal(err)
			}
			_, err = f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			wantErr(f.t, err, engine.ErrAlreadyPaid) // PAID, the token DONE
			tok := f.token(1)
			tok.Gen = 9
			_, err = f.s.BeginPayment(f.ctx, tok, r.ID, t0.Add(time.Hour), t0.Add(time.Hour+window))
			wantErr(f.t, err, engine.ErrAlreadyPaid)
		}},
		{"begin with a dead token", func(f *fixture, r engine.Reservation) {
			tok := f.token(1)
			tok.Gen = 9
			_, err := f.s.BeginPayment(f.ctx, tok, r.ID, t0, t0.Add(window))
			wantErr(f.t, err, engine.ErrTokenExpired)
			f.wait(3)
			_, err = f.s.BeginPayment(f.ctx, f.token(3), r.ID+1000, t0, t0.Add(window))
			wantErr(f.t, err, engine.ErrNotAdmitted)
		}},
		{"begin after deadline", func(f *fixture, r engine.Reservation) {
			_, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, r.ExpiresAt, r.ExpiresAt.Add(window))
			wantErr(f.t, err, engine.ErrReservationExpired)
			if f.state(r.ID, t0) != engine.ReservationExpired {
				f.t.Fatal("not marked EXPIRED")
			}
		}},
		{"begin after cancel", func(f *fixture, r engine.Reservation) {
			if _, err := f.s.Cancel(f.ctx, f.c, r.ID, 1, t0); err != nil {
				f.t.Fatal(err)
			}
			_, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			wantErr(f.t, err, engine.ErrReservationExpired)
		}},
		{"begin after the seat was re-held", func(f *fixture, r engine.Reservation) {
			later := r.ExpiresAt.Add(time.Second)
			f.activate(2, t0.Add(time.Hour))
			f.mustHold(2, 5, later)
			_, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window)) // a clock behind
			wantErr(f.t, err, engine.ErrReservationExpired)
			if !f.seatMap(later).Held(5) {
				f.t.Fatal("the new hold was lost")
			}
		}},
		{"abort puts it back", func(f *fixture, r engine.Reservation) {
			p, _ := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			now := t0.Add(10 * time.Second)
			for range 2 {
				if err := f.s.AbortPayment(f.ctx, p, now); err != nil {
					f.t.Fatal(err)
				}
			}
			got, _ := f.s.Reservation(f.ctx, f.c, r.ID, now)
			if got.State != engine.ReservationPending || !got.ExpiresAt.Equal(r.ExpiresAt) {
				f.t.Fatalf("after abort: %+v", got)
			}
			if m := f.seatMap(now); !m.Held(5) {
				f.t.Fatal("not held after abort")
			}
			if m := f.seatMap(r.ExpiresAt); m.Held(5) {
				f.t.Fatal("aborted hold outlives its old deadline")
			}
			if _, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, now, now.Add(window)); err != nil {
				f.t.Fatalf("begin again: %v", err)
			}
		}},
		{"abort of a pending hold is a no-op", func(f *fixture, r engine.Reservation) {
			if err := f.s.AbortPayment(f.ctx, r, t0); err != nil {
				f.t.Fatal(err)
			}
			if f.state(r.ID, t0) != engine.ReservationPending {
				f.t.Fatal("state changed")
			}
		}},
		{"complete sells, ends the token, and is idempotent", func(f *fixture, r engine.Reservation) {
			p, _ := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			for i := range 2 {
				done, err := f.s.CompletePayment(f.ctx, p, t0.Add(time.Second))
				if err != nil || !done {
					f.t.Fatalf("complete #%d: done=%v err=%v", i+1, done, err)
				}
			}
			m := f.seatMap(t0)
			if !m.Sold[5] || m.Held(5) || f.holder(5) != "" {
				f.t.Fatal("seat not sold")
			}
			if f.state(r.ID, t0.Add(time.Hour)) != engine.ReservationPaid {
				f.t.Fatal("not PAID")
			}
			k := f.s.keys
			if d, _ := f.rdb.HGet(f.ctx, k.tokens(f.c), "1").Result(); d != tokenRecord(1, t0)+":d" {
				f.t.Fatalf("token record %q, want it marked DONE", d)
			}
			if _, err := f.rdb.ZScore(f.ctx, k.active(f.c), "1").Result(); !errors.Is(err, redis.Nil) {
				f.t.Fatal("token still active")
			}
			if sold, held := f.counts(t0); sold != 1 || held != 0 {
				f.t.Fatalf("counts %d %d", sold, held)
			}
			_, err := f.hold(1, 6, t0.Add(2*time.Second))
			wantErr(f.t, err, engine.ErrTokenExpired)
		}},
		{"complete with another live hold keeps the token", func(f *fixture, r engine.Reservation) {
			other := f.mustHold(1, 6, t0)
			p, _ := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
			done, err := f.s.CompletePayment(f.ctx, p, t0.Add(time.Second))
			if err != nil || done {
				f.t.Fatalf("done=%v err=%v, want false", done, err)
			}
			if d, _ := f.rdb.HGet(f.ctx, f.s.keys.tokens(f.c), "1").Result(); d != tokenRecord(1, t0) {
				f.t.Fatalf("token record %q, want it unchanged", d)
			}
			// Once the other hold has expired, a retry finds nothing live left.
			done, err = f.s.CompletePayment(f.ctx, p, other.ExpiresAt)
			if err != nil || !done {
				f.t.Fatalf("retry: done=%v err=%v, want true", done, err)
			}
		}},
		{"complete wins over another's hold", func(f *fixture, r engine.Reservation) {
			// The sweeper freed r and user 2 took the seat, but the ledger sold it to r.
			later := r.ExpiresAt.Add(time.Second)
			f.activate(2, t0.Add(time.Hour))
			h := f.mustHold(2, 5, later)
			if _, err := f.s.CompletePayment(f.ctx, r, later); err != nil {
				f.t.Fatal(err)
			}
			if m := f.seatMap(later); !m.Sold[5] || m.Held(5) {
				f.t.Fatal("seat not sold")
			}
			_, err := f.s.BeginPayment(f.ctx, f.token(2), h.ID, later, later.Add(window))
			wantErr(f.t, err, engine.ErrReservationExpired)
		}},
		{"complete rebuilds a lost record", func(f *fixture, r engine.Reservation) {
			f.rdb.Del(f.ctx, f.s.keys.reservation(f.c, r.ID))
			if _, err := f.s.CompletePayment(f.ctx, r, t0); err != nil {
				f.t.Fatal(err)
			}
			got, err := f.s.Reservation(f.ctx, f.c, r.ID, t0)
			r.State = engine.ReservationPaid
			if err != nil || got != r {
				f.t.Fatalf("got %+v %v, want %+v", got, err, r)
			}
		}},
		{"50 concurrent begins, one wins", func(f *fixture, r engine.Reservation) {
			var won, paid atomic.Int64
			atOnce(50, func(int) {
				_, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(window))
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, engine.ErrAlreadyPaid):
					paid.Add(1)
				default:
					f.t.Errorf("begin: %v", err)
				}
			})
			if won.Load() != 1 || paid.Load() != 49 {
				f.t.Fatalf("won %d, already paid %d", won.Load(), paid.Load())
			}
		}},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, b)
				f.activate(1, t0.Add(time.Hour))
				tc.run(f, f.mustHold(1, 5, t0))
				f.requireHolderInvariant()
			})
		}
	})
}

func TestMarkSoldAndRebuilt(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		f.sched.SeatCount = 2000
		f.activate(1, t0.Add(time.Hour))
		r := f.mustHold(1, 5, t0)
		// What a Redis that lost its data looks like to the rebuild: no marker.
		f.rdb.Del(f.ctx, f.s.keys.rebuilt(f.c, f.sched.ID))
		if ok, err := f.s.rebuilt(f.ctx, f.c, f.sched.ID); ok || err != nil {
			t.Fatalf("rebuilt before set: %v %v", ok, err)
		}
		f.activate(2, t0.Add(time.Hour))
		// This store has no ledger to rebuild from: it refuses rather than guess.
		if _, err := f.hold(2, 6, t0); !errors.Is(err, engine.ErrUnavailable) {
			t.Fatalf("hold before rebuild: %v, want UNAVAILABLE", err)
		}
		if f.liveHolds(2) != 0 {
			t.Fatal("a refused hold left a hold behind")
		}
		if _, err := f.s.SeatMap(f.ctx, f.c, f.sched.ID, f.sched.SeatCount, t0); !errors.Is(err, engine.ErrUnavailable) {
			t.Fatalf("seat map before rebuild: %v, want UNAVAILABLE", err)
		}
		if _, _, err := f.s.Counts(f.ctx, f.c, f.sched.ID, t0); !errors.Is(err, engine.ErrUnavailable) {
			t.Fatalf("counts before rebuild: %v, want UNAVAILABLE", err)
		}
		var seats []int
		for n := 5; n <= 2000; n += 2 { // more than one chunk
			seats = append(seats, n)
		}
		if err := f.s.MarkSold(f.ctx, f.c, f.sched.ID, seats); err != nil {
			t.Fatal(err)
		}
		if err := f.s.setRebuilt(f.ctx, f.c, f.sched.ID); err != nil {
			t.Fatal(err)
		}
		if ok, err := f.s.rebuilt(f.ctx, f.c, f.sched.ID); !ok || err != nil {
			t.Fatalf("rebuilt after set: %v %v", ok, err)
		}
		m := f.seatMap(t0)
		for n := 1; n <= 2000; n++ {
			if want := n >= 5 && n%2 == 1; m.Sold[n] != want || m.Held(n) {
				t.Fatalf("seat %d sold=%v held=%v", n, m.Sold[n], m.Held(n))
			}
		}
		if f.holder(5) != "" {
			t.Fatal("holder kept on a sold seat")
		}
		if sold, held := f.counts(t0); sold != int64(len(seats)) || held != 0 {
			t.Fatalf("counts %d %d", sold, held)
		}
		_, err := f.s.BeginPayment(f.ctx, f.token(1), r.ID, t0, t0.Add(time.Minute))
		wantErr(t, err, engine.ErrReservationExpired)
		f.requireHolderInvariant()
	})
}

func TestCounts(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		if sold, held := f.counts(t0); sold != 0 || held != 0 {
			t.Fatalf("empty: %d %d", sold, held)
		}
		f.activate(1, t0.Add(time.Hour))
		f.mustHold(1, 1, t0)
		p := f.mustHold(1, 2, t0)
		f.mustHold(1, 3, t0.Add(30*time.Second))
		if _, err := f.s.BeginPayment(f.ctx, f.token(1), p.ID, t0, t0.Add(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := f.s.MarkSold(f.ctx, f.c, f.sched.ID, []int{50, 60}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			at         time.Duration
			sold, held int64
		}{{0, 2, 3}, {time.Minute, 2, 2}, {90 * time.Second, 2, 1}} {
			if sold, held := f.counts(t0.Add(tc.at)); sold != tc.sold || held != tc.held {
				t.Errorf("at +%v: sold=%d held=%d, want %d %d", tc.at, sold, held, tc.sold, tc.held)
			}
		}
	})
}

func TestSeatMapBitOrder(t *testing.T) {
	sold := make([]bool, 20)
	decodeBitmap([]byte{0b0100_0001, 0b1000_0000, 0xff, 0xff}, sold)
	for n, want := range map[int]bool{0: false, 1: true, 7: true, 8: true, 9: false, 16: true, 19: true} {
		if sold[n] != want {
			t.Errorf("seat %d = %v, want %v", n, sold[n], want)
		}
	}
}

// TestHolderTagsMatchEngine: the engine refuses holds from memory by comparing
// the tag bytes with engine.HolderTag, which the store hands to hold.lua; every
// byte value, 255 (user 254) too, must reach the seat map as it was sent.
func TestHolderTagsMatchEngine(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		uids := []int64{1, 254, 255, 256, 509, 510, 1 << 40, 1<<53 - 1}
		for i, uid := range uids {
			f.activate(uid, t0.Add(time.Hour))
			f.mustHold(uid, i+1, t0)
		}
		m := f.seatMap(t0)
		for i, uid := range uids {
			if got, want := m.Tags[i+1], engine.HolderTag(uid); got != want || want == 0 {
				t.Errorf("user %d: tag %d in Redis, engine.HolderTag %d", uid, got, want)
			}
		}
		if engine.HolderTag(1) == engine.HolderTag(2) || engine.HolderTag(1) != engine.HolderTag(256) {
			t.Error("tags should differ for neighbours and repeat every 255 ids")
		}
		f.requireHolderInvariant()
	})
}

func TestNextReservationIDUnique(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		stores := []*Store{b.s, New(b.rdb, b.s.Prefix(), nil), New(b.rdb, b.s.Prefix(), nil)}
		var mu sync.Mutex
		seen := map[int64]bool{}
		atOnce(len(stores)*10, func(i int) { // 10 callers on each store
			s := stores[i/10]
			for range 120 {
				id, err := s.NextReservationID(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[id] || id <= 0 {
					t.Errorf("id %d handed out twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
		if len(seen) != 3*10*120 {
			t.Fatalf("%d ids", len(seen))
		}

		ctx := context.Background()
		if err := b.s.ensureReservationIDsAbove(ctx, 1_000_000); err != nil {
			t.Fatal(err)
		}
		if id, _ := b.s.NextReservationID(ctx); id <= 1_000_000 {
			t.Fatalf("id %d after ensureReservationIDsAbove(1e6)", id)
		}
		if id, _ := stores[1].NextReservationID(ctx); id > 1_000_000 && id-1_000_000 <= idBlockSize {
			t.Fatalf("id %d of another store's block reissued", id)
		}
		if err := b.s.ensureReservationIDsAbove(ctx, 5); err != nil { // never lowers
			t.Fatal(err)
		}
		if v, _ := b.rdb.Get(ctx, b.s.keys.reservationIDs()).Int64(); v < 1_000_000+idBlockSize {
			t.Fatalf("counter lowered to %d", v)
		}
	})
}

// BenchmarkSeatMap50k reads a 50,000-seat schedule with a third sold and 5,000 held.
func BenchmarkSeatMap50k(b *testing.B) {
	r := realBackend(b)
	s := r.s
	ctx := context.Background()
	const seats, c, sid = 50_000, 1, 1
	var sold []int
	for n := 1; n <= seats; n += 3 {
		sold = append(sold, n)
	}
	if err := s.MarkSold(ctx, c, sid, sold); err != nil {
		b.Fatal(err)
	}
	if err := s.setRebuilt(ctx, c, sid); err != nil {
		b.Fatal(err)
	}
	// Holds as hold.lua leaves them: in the holds set, with a holder and its tag.
	pipe := r.rdb.Pipeline()
	for i, n := 0, 2; i < 5000; i, n = i+1, n+9 {
		uid := int64(i + 1)
		pipe.ZAdd(ctx, s.keys.holds(c, sid), redis.Z{Score: float64(t0.Add(time.Minute).UnixMilli()), Member: n})
		pipe.HSet(ctx, s.keys.holders(c, sid), n, fmt.Sprintf("%d:%d", i+1, uid))
		pipe.SetRange(ctx, s.keys.tags(c, sid), int64(n), string([]byte{engine.HolderTag(uid)}))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m, err := s.SeatMap(ctx, c, sid, seats, t0)
		if err != nil || !m.Sold[1] || !m.Held(2) {
			b.Fatalf("seat map wrong: %v", err)
		}
	}
}
