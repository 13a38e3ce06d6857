package engine_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/ledgertest"
)

// A thousand users charge, hold and pay at once, retrying as real clients do.
// Afterwards the database itself must show that no won was created or lost, that
// every seat was sold once to the user whose hold it was at its price, and Redis
// must agree with it about which seats are sold. Real backend only: the point is
// PostgreSQL's transactions under contention.
func TestMoneyConservation(t *testing.T) {
	t.Parallel()
	const (
		users   = 1000
		workers = 64
		seats   = 300
	)
	v := realEnv(t, engine.Config{MaxHoldsPerUser: 4})
	c, ss := v.concert(show{seats: []int{seats, seats}, price: 50_000})
	toks := v.admitted(users, c.ID)

	var charged atomic.Int64
	parallel(t, users, workers, func(i int) error {
		for range 1 + rand.IntN(3) {
			amount := 1 + rand.Int64N(80_000)
			if _, err := v.e.Charge(v.ctx, toks[i], amount, ""); err != nil {
				return err
			}
			charged.Add(amount)
		}
		return nil
	})

	type hold struct {
		user, schedule int64
		seat           int
		price          int64
	}
	var (
		mu       sync.Mutex
		holds    = map[int64]hold{} // reservation id -> what was held
		paid     atomic.Int64
		poor     atomic.Int64
		doubleOK atomic.Int64 // double-clicked payments; each must succeed exactly once
	)
	parallel(t, users, workers, func(i int) error {
		tok := toks[i]
		var mine []engine.Reservation
		want := 1 + rand.IntN(3)
		for try := 0; try < 12 && len(mine) < want; try++ {
			s := ss[rand.IntN(len(ss))]
			r, created, err := v.e.Hold(v.ctx, tok, s.ID, 1+rand.IntN(seats))
			switch {
			case err == nil && created:
				mine = append(mine, r)
				mu.Lock()
				holds[r.ID] = hold{tok.UserID, s.ID, r.Seat, s.Price}
				mu.Unlock()
			case err == nil, errors.Is(err, engine.ErrSeatTaken):
			default:
				return err
			}
		}
		for _, r := range mine {
			clicks := 1
			if rand.IntN(10) == 0 {
				clicks = 2
			}
			errs := ledgertest.AtOnce(clicks, func(int) error { return payRetrying(v, tok, r) })
			ok, insufficient := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, engine.ErrInsufficientBalance):
					insufficient++
				case errors.Is(err, engine.ErrAlreadyPaid):
				case clicks == 2 && errors.Is(err, engine.ErrTokenExpired):
					// The other click paid the user's last hold: the token is DONE.
				default:
					return err
				}
			}
			switch {
			case ok == 1:
				paid.Add(1)
				if clicks == 2 {
					doubleOK.Add(1)
				}
			case ok == 0 && insufficient > 0:
				poor.Add(1)
				if _, err := v.e.Cancel(v.ctx, tok, r.ID); err != nil && !errors.Is(err, engine.ErrAlreadyPaid) {
					return err
				}
			default:
				t.Errorf("reservation %d: %d successes of %d clicks (%v)", r.ID, ok, clicks, errs)
			}
		}
		return nil
	})
	if paid.Load() == 0 || poor.Load() == 0 {
		t.Fatalf("%d paid, %d refused for balance: the run did not exercise both", paid.Load(), poor.Load())
	}

	db, err := pgx.Connect(v.ctx, v.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(v.ctx)
	one := func(q string, dst ...any) {
		t.Helper()
		if err := db.QueryRow(v.ctx, q).Scan(dst...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	var balances, payments, charges, historyPaid int64
	one(`SELECT coalesce(sum(balance), 0)::bigint FROM users`, &balances)
	one(`SELECT coalesce(sum(amount), 0)::bigint FROM payments`, &payments)
	one(`SELECT coalesce(sum(amount), 0)::bigint FROM balance_history WHERE type = 'charge'`, &charges)
	one(`SELECT coalesce(-sum(amount), 0)::bigint FROM balance_history WHERE type = 'payment'`, &historyPaid)
	if balances+payments != charges || charges != charged.Load() || historyPaid != payments {
		t.Fatalf("balances %d + payments %d != charges %d (clients charged %d; history shows %d paid)",
			balances, payments, charges, charged.Load(), historyPaid)
	}
	var off int64
	one(`SELECT count(*) FROM users u
	     WHERE u.balance <> (SELECT coalesce(sum(amount), 0) FROM balance_history h WHERE h.user_id = u.id)`, &off)
	if off != 0 {
		t.Fatalf("%d users whose balance differs from their own history", off)
	}

	var sales, distinctSeats, paymentRows int64
	one(`SELECT count(*), count(DISTINCT (schedule_id, seat_number)) FROM sales`, &sales, &distinctSeats)
	one(`SELECT count(*) FROM payments`, &paymentRows)
	if sales != distinctSeats || sales != paid.Load() || paymentRows != sales {
		t.Fatalf("%d sales on %d distinct seats with %d payments; clients saw %d succeed", sales, distinctSeats, paymentRows, paid.Load())
	}

	rows, err := db.Query(v.ctx, `
		SELECT s.schedule_id, s.seat_number, s.reservation_id, s.user_id, s.amount,
		       p.user_id, p.reservation_id, p.amount, sc.price
		FROM sales s JOIN payments p ON p.id = s.payment_id JOIN schedules sc ON sc.id = s.schedule_id`)
	if err != nil {
		t.Fatal(err)
	}
	sold := map[int64]map[int]bool{}
	n := 0
	for rows.Next() {
		var sid, rid, uid, amount, pUID, pRID, pAmount, price int64
		var seat int
		if err := rows.Scan(&sid, &seat, &rid, &uid, &amount, &pUID, &pRID, &pAmount, &price); err != nil {
			t.Fatal(err)
		}
		h, ok := holds[rid]
		if !ok || h.user != uid || h.schedule != sid || h.seat != seat || pUID != uid || pRID != rid ||
			amount != price || pAmount != price || h.price != price {
			t.Fatalf("sale of schedule %d seat %d to user %d (reservation %d, %d won; payment by %d for %d, %d won; price %d) "+
				"does not match the hold %+v", sid, seat, uid, rid, amount, pUID, pRID, pAmount, price, h)
		}
		if sold[sid] == nil {
			sold[sid] = map[int]bool{}
		}
		sold[sid][seat] = true
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if int64(n) != sales {
		t.Fatalf("%d sales joined to their payments, %d sales", n, sales)
	}

	for _, s := range ss {
		pipe := v.rdb.Pipeline()
		bits := make([]*redis.IntCmd, s.SeatCount+1)
		for seat := 1; seat <= s.SeatCount; seat++ {
			bits[seat] = pipe.GetBit(v.ctx, v.key(c.ID, "sold:"+itoa64(s.ID)), int64(seat))
		}
		if _, err := pipe.Exec(v.ctx); err != nil {
			t.Fatal(err)
		}
		for seat := 1; seat <= s.SeatCount; seat++ {
			if (bits[seat].Val() == 1) != sold[s.ID][seat] {
				t.Fatalf("schedule %d seat %d: Redis sold bit %d, in sales table %v", s.ID, seat, bits[seat].Val(), sold[s.ID][seat])
			}
		}
	}
	if st := v.stats(c.ID); st.Sold != sales || st.Held != 0 {
		t.Fatalf("stats sold=%d held=%d; the ledger has %d sales and every hold was paid or cancelled", st.Sold, st.Held, sales)
	}
}

// payRetrying pays as a client would: a dependency hiccup is tried again.
func payRetrying(v *env, tok engine.Token, r engine.Reservation) error {
	var err error
	// A click whose wait for the other click's outcome runs out is told to retry
	// (ErrPaymentInProgress, a 503); a client retries after a moment.
	for range 200 {
		if _, err = v.e.Pay(v.ctx, tok, r.ID, r.Price, ""); !errors.Is(err, engine.ErrUnavailable) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return err
}
