package engine_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// 200 users on one seat at once: one hold, 199 SEAT_TAKEN.
func TestHoldSameSeatRace(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		const n = 200
		c, ss := v.concert(show{})
		toks := v.admitted(n, c.ID)
		created, taken := race(t, n, engine.ErrSeatTaken, func(i int) error { return v.tryHold(toks[i], ss[0].ID, 42) })
		if created != 1 || taken != n-1 {
			t.Fatalf("created %d, taken %d; want 1 and %d", created, taken, n-1)
		}
		if st := v.stats(c.ID); st.Held != 1 {
			t.Fatalf("held %d, want 1", st.Held)
		}
	})
}

// 500 users grabbing random seats of 100: no seat has two owners, the seat map
// shows exactly the holds that were made, and the operator's count agrees.
func TestHoldManyUsersRace(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		const users, tries = 500, 3
		c, ss := v.concert(show{seats: []int{100}})
		sid := ss[0].ID
		toks := v.admitted(users, c.ID)
		var mu sync.Mutex
		var made []engine.Reservation
		var wg sync.WaitGroup
		for _, tok := range toks {
			wg.Go(func() {
				for range tries {
					r, ok, err := v.e.Hold(v.ctx, tok, sid, 1+rand.IntN(100))
					switch {
					case err == nil && ok:
						mu.Lock()
						made = append(made, r)
						mu.Unlock()
					case err == nil, errors.Is(err, engine.ErrSeatTaken):
					default:
						t.Errorf("user %d: %v", tok.UserID, err)
					}
				}
			})
		}
		wg.Wait()
		if len(made) == 0 {
			t.Fatal("no hold was made")
		}
		owner := map[int]engine.Reservation{}
		for _, r := range made {
			if o, dup := owner[r.Seat]; dup {
				t.Fatalf("seat %d held by user %d and user %d", r.Seat, o.UserID, r.UserID)
			}
			owner[r.Seat] = r
		}
		m := v.seatMap(v.e, toks[0], sid)
		pending := 0
		for i, st := range m.Seats {
			_, held := owner[i+1]
			switch {
			case st == engine.SeatPending && held:
				pending++
			case st == engine.SeatAvailable && !held:
			default:
				t.Fatalf("seat %d shows %s; hold made: %v", i+1, st, held)
			}
		}
		if st := v.stats(c.ID); st.Held != int64(len(made)) || st.Sold != 0 || pending != len(made) {
			t.Fatalf("stats held=%d sold=%d, seat map pending=%d, holds made=%d", st.Held, st.Sold, pending, len(made))
		}
	})
}

// One user firing 20 holds at once gets exactly MaxHoldsPerUser of them.
func TestHoldLimitParallel(t *testing.T) {
	eachBackend(t, engine.Config{MaxHoldsPerUser: 4}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.admitted(1, c.ID)[0]
		created, limited := race(t, 20, engine.ErrHoldLimitReached, func(i int) error { return v.tryHold(tok, ss[0].ID, 1+i) })
		if created != 4 || limited != 16 {
			t.Fatalf("created %d, limited %d; want 4 and 16", created, limited)
		}
		if st := v.stats(c.ID); st.Held != 4 {
			t.Fatalf("held %d, want 4", st.Held)
		}
	})
}

// An unpaid hold ends at its deadline whether or not the sweeper has run: reads
// see it free at once, and the sweep then clears what is left of it.
func TestHoldExpiry(t *testing.T) {
	const ttl = time.Minute
	eachBackend(t, engine.Config{HoldTTL: ttl}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		sid := ss[0].ID
		toks := v.admitted(2, c.ID)
		a, b := toks[0], toks[1]
		r := v.hold(a, sid, 5)
		if m := v.seatMap(v.e, b, sid); m.Seats[4] != engine.SeatPending {
			t.Fatalf("seat 5 is %s while held", m.Seats[4])
		}
		_, _, err := v.e.Hold(v.ctx, b, sid, 5)
		wantErr(t, err, engine.ErrSeatTaken)

		v.clk.Set(r.ExpiresAt)
		// Lazily: no sweep has run, yet every read treats the hold as over.
		if m := v.seatMap(v.e, b, sid); m.Seats[4] != engine.SeatAvailable {
			t.Fatalf("seat 5 is %s after its deadline, before any sweep", m.Seats[4])
		}
		if got := v.reservation(a, r.ID); got.State != engine.ReservationExpired {
			t.Fatalf("reservation reads %s, want EXPIRED", got.State)
		}
		if st := v.stats(c.ID); st.Held != 0 {
			t.Fatalf("held %d after the deadline", st.Held)
		}
		holds := v.key(c.ID, "holds:"+itoa64(sid))
		if n, _ := v.rdb.ZCard(v.ctx, holds).Result(); n != 1 {
			t.Fatalf("%d hold entries before the sweep, want the stale one", n)
		}

		v.sweep()
		if n, _ := v.rdb.ZCard(v.ctx, holds).Result(); n != 0 {
			t.Fatalf("%d hold entries left after the sweep", n)
		}
		if got := v.reservation(a, r.ID); got.State != engine.ReservationExpired {
			t.Fatalf("reservation reads %s after the sweep, want EXPIRED", got.State)
		}
		if st := v.stats(c.ID); st.Held != 0 || st.Sold != 0 {
			t.Fatalf("stats %+v after the sweep", st)
		}
		if _, err := v.e.Pay(v.ctx, a, r.ID, r.Price, ""); !errors.Is(err, engine.ErrReservationExpired) {
			t.Fatalf("paying the swept hold: %v, want RESERVATION_EXPIRED", err)
		}
		got := v.hold(b, sid, 5) // free for the next user
		if m := v.seatMap(v.e, a, sid); m.Seats[4] != engine.SeatPending || got.UserID != b.UserID {
			t.Fatalf("seat 5 is %s after re-hold by %d", m.Seats[4], got.UserID)
		}
	})
}

// Requests a token may not make are refused and leave no trace.
func TestHoldRefused(t *testing.T) {
	type fix struct {
		active, waiting engine.Token
		mine, other     engine.Schedule
	}
	cases := []struct {
		name  string
		tok   func(f fix) engine.Token
		sched func(f fix) int64
		seat  int
		want  error
	}{
		{"wrong concert", func(f fix) engine.Token { return f.active }, func(f fix) int64 { return f.other.ID }, 1, engine.ErrWrongConcert},
		{"seat zero", func(f fix) engine.Token { return f.active }, func(f fix) int64 { return f.mine.ID }, 0, engine.ErrInvalidSeat},
		{"seat past the last", func(f fix) engine.Token { return f.active }, func(f fix) int64 { return f.mine.ID }, 11, engine.ErrInvalidSeat},
		{"unknown schedule", func(f fix) engine.Token { return f.active }, func(f fix) int64 { return f.other.ID + 1000 }, 1, engine.ErrScheduleNotFound},
		{"still waiting", func(f fix) engine.Token { return f.waiting }, func(f fix) int64 { return f.mine.ID }, 1, engine.ErrNotAdmitted},
	}
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{seats: []int{10}})
		_, others := v.concert(show{})
		f := fix{active: v.admitted(1, c.ID)[0], mine: ss[0], other: others[0]}
		v.pause(c.ID)
		f.waiting, _ = v.enter(v.e, v.users(1)[0], c.ID)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := v.e.Hold(v.ctx, tc.tok(f), tc.sched(f), tc.seat)
				wantErr(t, err, tc.want)
				if tc.want != engine.ErrInvalidSeat {
					_, err := v.e.SeatMap(v.ctx, tc.tok(f), tc.sched(f))
					wantErr(t, err, tc.want)
				}
				if st := v.stats(c.ID); st.Held != 0 {
					t.Fatalf("a refused hold left %d held", st.Held)
				}
			})
		}
	})
}
