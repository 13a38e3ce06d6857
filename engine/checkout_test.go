package engine_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// 50 payments of one reservation at once: one sale, the money taken once.
func TestPayConcurrentOnce(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 1_000_000)
		r := v.hold(tok, ss[0].ID, 7)
		v.hold(tok, ss[0].ID, 8) // a second live hold keeps the token ACTIVE after the sale
		// Refused with ALREADY_PAID once the winner's outcome was known.
		won, paid := race(t, 50, engine.ErrAlreadyPaid, func(int) error {
			_, err := v.e.Pay(v.ctx, tok, r.ID, r.Price, "")
			return err
		})
		if won != 1 || paid != 49 {
			t.Fatalf("%d paid, %d refused; want 1 and 49", won, paid)
		}
		b := v.balance(tok)
		if n, total := payments(b); b.Balance != 1_000_000-r.Price || n != 1 || total != r.Price {
			t.Fatalf("balance %d with %d payment rows of %d; want %d and one row of %d", b.Balance, n, total, 1_000_000-r.Price, r.Price)
		}
		if got := v.reservation(tok, r.ID); got.State != engine.ReservationPaid {
			t.Fatalf("reservation %s, want PAID", got.State)
		}
		if st := v.stats(c.ID); st.Sold != 1 || st.Held != 1 {
			t.Fatalf("stats sold=%d held=%d, want 1 and 1", st.Sold, st.Held)
		}
	})
}

// Money for one seat, two seats paid at once: one sale, the other hold is back
// to pending and can still be paid once the money is there.
func TestPayTwoWithMoneyForOne(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.admitted(1, c.ID)[0]
		rs := v.holds(tok, ss[0].ID, 1, 2)
		v.charge(tok, rs[0].Price)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, r := range rs {
			wg.Go(func() { _, errs[i] = v.e.Pay(v.ctx, tok, r.ID, r.Price, "") })
		}
		wg.Wait()
		winner, loser := 0, 1
		if errs[0] != nil {
			winner, loser = 1, 0
		}
		if errs[winner] != nil || !errors.Is(errs[loser], engine.ErrInsufficientBalance) {
			t.Fatalf("pay errors %v; want one success and one INSUFFICIENT_BALANCE", errs)
		}
		if b := v.balance(tok); b.Balance != 0 {
			t.Fatalf("balance %d, want 0", b.Balance)
		}
		if got := v.reservation(tok, rs[loser].ID); got.State != engine.ReservationPending {
			t.Fatalf("unpaid reservation reads %s, want PENDING", got.State)
		}
		m := v.seatMap(v.e, tok, ss[0].ID)
		if m.Seats[rs[winner].Seat-1] != engine.SeatReserved || m.Seats[rs[loser].Seat-1] != engine.SeatPending {
			t.Fatalf("paid seat %s, unpaid seat %s", m.Seats[rs[winner].Seat-1], m.Seats[rs[loser].Seat-1])
		}
		v.charge(tok, rs[loser].Price)
		v.pay(tok, rs[loser])
	})
}

// A refused payment changes nothing: no money moves and the hold stays as it was.
func TestPayRefused(t *testing.T) {
	const ttl = time.Minute
	cases := []struct {
		name       string
		prepare    func(v *env, r engine.Reservation) (amount int64)
		want       error
		stillValid bool // the hold can be paid properly afterwards
	}{
		{"amount too high", func(v *env, r engine.Reservation) int64 { return r.Price + 1 }, engine.ErrAmountMismatch, true},
		{"amount too low", func(v *env, r engine.Reservation) int64 { return r.Price - 1 }, engine.ErrAmountMismatch, true},
		{"amount zero", func(v *env, r engine.Reservation) int64 { return 0 }, engine.ErrAmountMismatch, true},
		{"hold expired", func(v *env, r engine.Reservation) int64 {
			v.clk.Set(r.ExpiresAt.Add(time.Millisecond))
			return r.Price
		}, engine.ErrReservationExpired, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, engine.Config{HoldTTL: ttl}, func(t *testing.T, v *env) {
				c, ss := v.concert(show{})
				tok := v.buyer(c.ID, 200_000)
				r := v.hold(tok, ss[0].ID, 3)
				_, err := v.e.Pay(v.ctx, tok, r.ID, tc.prepare(v, r), "")
				wantErr(t, err, tc.want)
				b := v.balance(tok)
				if n, _ := payments(b); b.Balance != 200_000 || n != 0 {
					t.Fatalf("balance %d with %d payments after a refused payment", b.Balance, n)
				}
				if st := v.stats(c.ID); st.Sold != 0 {
					t.Fatalf("%d sold after a refused payment", st.Sold)
				}
				got := v.reservation(tok, r.ID)
				if !tc.stillValid {
					if got.State != engine.ReservationExpired {
						t.Fatalf("reservation %s, want EXPIRED", got.State)
					}
					return
				}
				if got.State != engine.ReservationPending {
					t.Fatalf("reservation %s, want PENDING", got.State)
				}
				v.pay(tok, r)
			})
		})
	}
}

// Paying the only hold ends the token: it is DONE and may hold nothing more.
func TestPayLastHoldMakesTokenDone(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		tok := v.buyer(c.ID, 100_000)
		r := v.hold(tok, ss[0].ID, 9)
		if s, err := v.e.Status(v.ctx, tok); err != nil || s.State != engine.TokenActive {
			t.Fatalf("before paying: %+v %v, want ACTIVE", s, err)
		}
		sale := v.pay(tok, r)
		if sale.Amount != r.Price || sale.Balance != 100_000-r.Price || sale.ReservationID != r.ID || sale.Seat != 9 {
			t.Fatalf("sale %+v", sale)
		}
		if s, err := v.e.Status(v.ctx, tok); err != nil || s.State != engine.TokenDone {
			t.Fatalf("after paying: %+v %v, want DONE", s, err)
		}
		_, _, err := v.e.Hold(v.ctx, tok, ss[0].ID, 10)
		wantErr(t, err, engine.ErrTokenExpired)
		if st := v.stats(c.ID); st.Sold != 1 || st.Held != 0 || st.Active != 0 {
			t.Fatalf("stats %+v, want one sold, nothing held or active", st)
		}
	})
}
