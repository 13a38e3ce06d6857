package engine_test

import (
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

func TestCrashBetweenLedgerAndRedis(t *testing.T) {
	const window = 30 * time.Second
	eachBackend(t, engine.Config{PaymentWindow: window}, func(t *testing.T, v *env) {
		seats := v.crashable()
		c, ss := v.concert(show{})
		sid := ss[0].ID
		toks := v.admitted(2, c.ID)
		buyer, rival := toks[0], toks[1]
		v.charge(buyer, 100_000)
		r := v.hold(buyer, sid, 4)

		seats.crashed.Store(true)
		sale := v.pay(buyer, r) // the ledger committed, so the buyer is told it worked
		if sale.Amount != r.Price {
			t.Fatalf("sale %+v", sale)
		}
		paying := v.key(c.ID, "paying:"+itoa64(sid))
		if _, err := v.rdb.ZScore(v.ctx, paying, "4").Result(); err != nil {
			t.Fatalf("seat 4 is not PAYING in Redis after the crash: %v", err)
		}
		_, _, err := v.e.Hold(v.ctx, rival, sid, 4)
		wantErr(t, err, engine.ErrSeatTaken)

		seats.crashed.Store(false) // the instance is back
		v.clk.Advance(window + time.Second)
		// The payment window is over, yet the seat is not freed before the sweeper
		// asks the ledger.
		_, _, err = v.e.Hold(v.ctx, rival, sid, 4)
		wantErr(t, err, engine.ErrSeatTaken)
		v.sweep()

		if m := v.seatMap(v.e, rival, sid); m.Seats[3] != engine.SeatReserved {
			t.Fatalf("seat 4 is %s after the sweep, want reserved", m.Seats[3])
		}
		if n, _ := v.rdb.ZCard(v.ctx, paying).Result(); n != 0 {
			t.Fatalf("%d seats still PAYING after the sweep", n)
		}
		_, _, err = v.e.Hold(v.ctx, rival, sid, 4)
		wantErr(t, err, engine.ErrSeatTaken)
		if got := v.reservation(buyer, r.ID); got.State != engine.ReservationPaid {
			t.Fatalf("reservation %s, want PAID", got.State)
		}
		b := v.balance(buyer)
		if n, total := payments(b); b.Balance != 100_000-r.Price || n != 1 || total != r.Price {
			t.Fatalf("balance %d with %d payments totalling %d; want %d, one of %d", b.Balance, n, total, 100_000-r.Price, r.Price)
		}
		if st := v.stats(c.ID); st.Sold != 1 || st.Held != 0 {
			t.Fatalf("stats sold=%d held=%d, want 1 and 0", st.Sold, st.Held)
		}
		// Paying again changes nothing.
		_, err = v.e.Pay(v.ctx, buyer, r.ID, r.Price, "")
		if err == nil {
			t.Fatal("a second payment of the same reservation succeeded")
		}
		if b := v.balance(buyer); b.Balance != 100_000-r.Price {
			t.Fatalf("balance %d after a repeat payment", b.Balance)
		}
	})
}

// Redis restarted empty after sales: the very next request of the same instance
// (no background loop, no time for it) must neither sell a sold seat again nor
// lose the concert's waiting room.
func TestRedisFlushedAfterSales(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, sid, sold := v.sold(10, 1, 2, 3)
		if m := v.seatMap(v.e, v.admitted(1, c.ID)[0], sid); m.Seats[0] != engine.SeatReserved {
			t.Fatalf("seat 1 is %s before the flush", m.Seats[0])
		}

		v.flush()

		uid := v.users(1)[0]
		g, err := v.e.IssueToken(v.ctx, uid, c.ID)
		if err != nil {
			t.Fatalf("issue token after the flush: %v", err)
		}
		if g.Status.State != engine.TokenWaiting || g.Status.Position != 1 {
			t.Fatalf("token after the flush: %+v", g.Status)
		}
		tok, err := v.e.Authenticate(g.Token)
		if err != nil {
			t.Fatal(err)
		}
		v.admitWaiting()

		_, _, err = v.e.Hold(v.ctx, tok, sid, 2)
		wantErr(t, err, engine.ErrSeatTaken)
		m := v.seatMap(v.e, tok, sid)
		for seat := 1; seat <= 10; seat++ {
			want := engine.SeatAvailable
			if seat <= 3 {
				want = engine.SeatReserved
			}
			if m.Seats[seat-1] != want {
				t.Fatalf("seat %d is %s after the flush, want %s", seat, m.Seats[seat-1], want)
			}
		}
		// A free seat still sells, under a reservation id no sale already carries.
		v.charge(tok, 100_000)
		r := v.hold(tok, sid, 5)
		for _, s := range sold {
			if r.ID <= s.ID {
				t.Fatalf("reservation id %d reissued at or below sold id %d", r.ID, s.ID)
			}
		}
		v.pay(tok, r)
		if st := v.stats(c.ID); st.Sold != 4 {
			t.Fatalf("sold %d after the flush and one more sale, want 4", st.Sold)
		}
	})
}

// The seat map alone, first request after a flush, shows sold seats as sold.
func TestRedisFlushedSeatMapFirst(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, sid, _ := v.sold(5, 2)
		v.flush()
		tok, _ := v.enter(v.e, v.users(1)[0], c.ID)
		v.admitWaiting()
		if m := v.seatMap(v.e, tok, sid); m.Seats[1] != engine.SeatReserved {
			t.Fatalf("seat 2 is %s on the first seat map after the flush", m.Seats[1])
		}
	})
}
