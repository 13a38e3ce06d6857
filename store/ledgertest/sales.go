// The sales part of the suite: selling seats, alone and concurrently, the
// queries over sales, money conservation and purging old keys.

package ledgertest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

func testSellErrors(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	sch := f.schedule(10, 1000)
	owner := f.user(5000)
	if _, err := f.sell(sch, 5, 500, owner, engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		balance  int64
		schedule int64
		seat     int
		resID    int64
		unknown  bool
		want     error
	}{
		{name: "insufficient", balance: 999, seat: 1, resID: 1, want: engine.ErrInsufficientBalance},
		{name: "no money at all", seat: 1, resID: 2, want: engine.ErrInsufficientBalance},
		{name: "unknown schedule", balance: 5000, schedule: sch.ID + 100, seat: 1, resID: 3, want: engine.ErrScheduleNotFound},
		{name: "seat zero", balance: 5000, seat: 0, resID: 4, want: engine.ErrInvalidSeat},
		{name: "seat past the count", balance: 5000, seat: 11, resID: 5, want: engine.ErrInvalidSeat},
		{name: "unknown user", seat: 1, resID: 6, unknown: true, want: engine.ErrUserNotFound},
		{name: "seat sold to another reservation", balance: 5000, seat: 5, resID: 7, want: engine.ErrSeatTaken},
		{name: "seat sold, no money either", seat: 5, resID: 8, want: engine.ErrSeatTaken},
		{name: "reservation paid for another seat", balance: 5000, seat: 6, resID: 500, want: engine.ErrAlreadyPaid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixture{t: t, l: l, ctx: f.ctx}
			id := f.user(tc.balance)
			if tc.unknown {
				id += 1_000_000
			}
			s := sch
			if tc.schedule != 0 {
				s.ID = tc.schedule
			}
			if _, err := f.sell(s, tc.seat, tc.resID, id, engine.Idempotency{}); !errors.Is(err, tc.want) {
				t.Fatalf("Sell: err = %v, want %v", err, tc.want)
			}
			if !tc.unknown {
				f.wantBalance(id, tc.balance, min(1, int(tc.balance)), 0)
			}
			if _, found, err := l.SaleByReservation(f.ctx, tc.resID); err != nil || (found && tc.resID != 500) {
				t.Errorf("refused reservation %d has a sale (found=%v, err=%v)", tc.resID, found, err)
			}
		})
	}
	// The one paid reservation retried by its owner, whose balance is now too low:
	// it is ALREADY_PAID, not INSUFFICIENT_BALANCE, so the engine finishes the hold.
	poor := f.user(0)
	if _, err := f.sell(sch, 5, 500, poor, engine.Idempotency{}); !errors.Is(err, engine.ErrAlreadyPaid) {
		t.Errorf("paid reservation, empty wallet: err = %v, want ALREADY_PAID", err)
	}
	f.wantBalance(owner, 4000, 1, 1)
	if seats, err := l.AllSoldSeats(f.ctx, sch.ID); err != nil || fmt.Sprint(seats) != "[5]" {
		t.Errorf("AllSoldSeats = %v, %v; want [5]", seats, err)
	}
}

func testConcurrentSellsOneReservation(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	sch := f.schedule(10, 7000)
	id := f.user(100_000)
	errs := AtOnce(50, func(int) error {
		_, err := f.sell(sch, 3, 42, id, engine.Idempotency{})
		return err
	})
	c := Count(t, errs, engine.ErrAlreadyPaid)
	if c[nil] != 1 || c[engine.ErrAlreadyPaid] != 49 {
		t.Errorf("%d succeeded, %d ALREADY_PAID; want 1 and 49", c[nil], c[engine.ErrAlreadyPaid])
	}
	f.wantBalance(id, 93_000, 1, 1)
}

func testConcurrentSellsOneBalance(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	sch := f.schedule(100, 5000)
	for round := range 10 {
		id := f.user(5000)
		errs := AtOnce(2, func(i int) error {
			_, err := f.sell(sch, 2*round+i+1, int64(2*round+i+1), id, engine.Idempotency{})
			return err
		})
		c := Count(t, errs, engine.ErrInsufficientBalance)
		if c[nil] != 1 || c[engine.ErrInsufficientBalance] != 1 {
			t.Errorf("round %d: %d succeeded, %d INSUFFICIENT_BALANCE; want 1 and 1", round, c[nil], c[engine.ErrInsufficientBalance])
		}
		f.wantBalance(id, 0, 1, 1)
	}
	if seats, _ := l.AllSoldSeats(f.ctx, sch.ID); len(seats) != 10 {
		t.Errorf("%d seats sold, want 10", len(seats))
	}
}

func testConcurrentSellsOneSeat(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	sch := f.schedule(100, 3000)
	for round := range 10 {
		seat := round + 1
		users := []int64{f.user(10_000), f.user(10_000)}
		var sales [2]engine.Sale
		errs := AtOnce(2, func(i int) error {
			var err error
			sales[i], err = f.sell(sch, seat, int64(1000*round+i+1), users[i], engine.Idempotency{})
			return err
		})
		c := Count(t, errs, engine.ErrSeatTaken)
		if c[nil] != 1 || c[engine.ErrSeatTaken] != 1 {
			t.Fatalf("seat %d: %d succeeded, %d SEAT_TAKEN; want 1 and 1", seat, c[nil], c[engine.ErrSeatTaken])
		}
		for i, err := range errs {
			if err == nil {
				f.wantBalance(users[i], 7000, 1, 1)
				if got, err := l.SoldSeats(f.ctx, sch.ID, []int{seat}); err != nil || len(got) != 1 || got[0] != sales[i] {
					t.Errorf("SoldSeats = %+v, %v; want the winner's %+v", got, err, sales[i])
				}
			} else {
				f.wantBalance(users[i], 10_000, 1, 0) // the loser is not charged
			}
		}
	}
}

func testIdempotentSell(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	sch := f.schedule(10, 4000)
	id := f.user(10_000)
	k := engine.Idempotency{Key: "pay-1", Fingerprint: "pay:1:4000"}
	if _, ok, err := l.IdempotentSale(f.ctx, id, k); ok || err != nil {
		t.Fatalf("IdempotentSale before any sale = %v, %v", ok, err)
	}
	first, err := f.sell(sch, 1, 1, id, k)
	if err != nil {
		t.Fatal(err)
	}
	errs := AtOnce(10, func(int) error {
		again, err := f.sell(sch, 1, 1, id, k)
		if err == nil && again != first {
			return fmt.Errorf("retry returned %+v, want %+v", again, first)
		}
		return err
	})
	if c := Count(t, errs); c[nil] != 10 {
		t.Errorf("%d of 10 retries answered", c[nil])
	}
	got, ok, err := l.IdempotentSale(f.ctx, id, k)
	if err != nil || !ok || got != first {
		t.Errorf("IdempotentSale = %+v, %v, %v; want %+v", got, ok, err, first)
	}
	if _, ok, err := l.IdempotentSale(f.ctx, id, engine.Idempotency{}); ok || err != nil {
		t.Errorf("IdempotentSale without key = %v, %v; want false, nil", ok, err)
	}
	if _, ok, err := l.IdempotentSale(f.ctx, id+1, k); ok || err != nil {
		t.Errorf("IdempotentSale of another user = %v, %v; want false, nil", ok, err)
	}
	other := engine.Idempotency{Key: "pay-1", Fingerprint: "pay:2:4000"}
	if _, _, err := l.IdempotentSale(f.ctx, id, other); !errors.Is(err, engine.ErrIdempotencyKeyReused) {
		t.Errorf("IdempotentSale other fingerprint: err = %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	if _, err := f.sell(sch, 2, 2, id, other); !errors.Is(err, engine.ErrIdempotencyKeyReused) {
		t.Errorf("Sell reusing the key: err = %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	if _, err := l.Charge(f.ctx, id, 1, engine.MaxBalance, engine.Idempotency{Key: "pay-1", Fingerprint: "pay:1:4000"}); !errors.Is(err, engine.ErrIdempotencyKeyReused) {
		t.Errorf("Charge with a payment's key: err = %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	f.wantBalance(id, 6000, 1, 1)
	if seats, _ := l.AllSoldSeats(f.ctx, sch.ID); fmt.Sprint(seats) != "[1]" {
		t.Errorf("sold seats %v, want [1]", seats)
	}
	// A refused payment stores no key: once the money is there, the retry pays.
	k2 := engine.Idempotency{Key: "pay-3", Fingerprint: "pay:3:4000"}
	poor := f.user(0)
	if _, err := f.sell(sch, 3, 3, poor, k2); !errors.Is(err, engine.ErrInsufficientBalance) {
		t.Fatalf("Sell without money: %v", err)
	}
	if _, err := l.Charge(f.ctx, poor, 4000, engine.MaxBalance, engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	if s, err := f.sell(sch, 3, 3, poor, k2); err != nil || s.Balance != 0 {
		t.Errorf("retry after top-up = %+v, %v", s, err)
	}
}

func testSaleQueries(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	if m, err := l.MaxReservationID(f.ctx); err != nil || m != 0 {
		t.Errorf("MaxReservationID of an empty ledger = %d, %v", m, err)
	}
	a, b := f.schedule(20, 1500), f.schedule(20, 2500)
	id := f.user(100_000)
	before := time.Now().Add(-time.Minute)
	bySeat := map[int]engine.Sale{}
	for i, seat := range []int{7, 3, 12} {
		resID := int64(900 - 100*i) // ids not in seat order, the largest first
		s, err := f.sell(a, seat, resID, id, engine.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		if s.PaymentID <= 0 || s.ReservationID != resID || s.ScheduleID != a.ID || s.Seat != seat ||
			s.UserID != id || s.Amount != 1500 || s.Balance != 100_000-1500*int64(i+1) ||
			s.At.Location() != time.UTC || s.At.Before(before) || s.At.After(time.Now().Add(time.Minute)) {
			t.Errorf("Sell returned %+v", s)
		}
		bySeat[seat] = s
	}
	if _, err := f.sell(b, 7, 1000, id, engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	got, err := l.SoldSeats(f.ctx, a.ID, []int{12, 1, 7, 3, 20, 0, -4, 99})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != bySeat[3] || got[1] != bySeat[7] || got[2] != bySeat[12] {
		t.Errorf("SoldSeats = %+v, want seats 3, 7, 12 as sold", got)
	}
	if got, err := l.SoldSeats(f.ctx, a.ID, []int{1, 2}); err != nil || len(got) != 0 {
		t.Errorf("SoldSeats of unsold seats = %v, %v", got, err)
	}
	if got, err := l.SoldSeats(f.ctx, a.ID, nil); err != nil || len(got) != 0 {
		t.Errorf("SoldSeats(nil) = %v, %v", got, err)
	}
	for _, tc := range []struct {
		schedule int64
		want     string
	}{{a.ID, "[3 7 12]"}, {b.ID, "[7]"}, {b.ID + 100, "[]"}} {
		if seats, err := l.AllSoldSeats(f.ctx, tc.schedule); err != nil || fmt.Sprint(seats) != tc.want {
			t.Errorf("AllSoldSeats(%d) = %v, %v; want %s", tc.schedule, seats, err, tc.want)
		}
	}
	if s, ok, err := l.SaleByReservation(f.ctx, 800); err != nil || !ok || s != bySeat[3] {
		t.Errorf("SaleByReservation(800) = %+v, %v, %v; want %+v", s, ok, err, bySeat[3])
	}
	if _, ok, err := l.SaleByReservation(f.ctx, 801); err != nil || ok {
		t.Errorf("SaleByReservation(unpaid) = %v, %v", ok, err)
	}
	if m, err := l.MaxReservationID(f.ctx); err != nil || m != 1000 {
		t.Errorf("MaxReservationID = %d, %v; want 1000", m, err)
	}
	if err := l.Ping(f.ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testMoneyConservation runs charges and payments of many users from many
// goroutines, with seat collisions and retried reservations, then checks from the
// ledger alone that no won was created or lost.
func testMoneyConservation(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	const (
		users   = 200
		workers = 24
		ops     = 60
		seats   = 150
	)
	schedules := []engine.Schedule{f.schedule(seats, 30_000), f.schedule(seats, 45_000)}
	ids := make([]int64, users)
	for i := range ids {
		ids[i] = f.user(0)
	}
	var (
		charged, sold atomic.Int64
		resSeq        atomic.Int64
		paid          sync.Map // reservation id -> struct{}
	)
	errs := AtOnce(workers, func(w int) error {
		rng := rand.New(rand.NewPCG(uint64(w), 7))
		for range ops {
			u := ids[rng.IntN(users)]
			if rng.IntN(3) == 0 {
				amount := 1 + rng.Int64N(60_000)
				if _, err := l.Charge(f.ctx, u, amount, engine.MaxBalance, engine.Idempotency{}); err != nil {
					return fmt.Errorf("charge: %w", err)
				}
				charged.Add(amount)
				continue
			}
			sch := schedules[rng.IntN(len(schedules))]
			resID := resSeq.Add(1)
			seat := 1 + rng.IntN(seats)
			_, err := f.sell(sch, seat, resID, u, engine.Idempotency{})
			switch {
			case err == nil:
				sold.Add(1)
				paid.Store(resID, sch.Price)
				// The same reservation once more: the ledger must refuse it.
				if _, err := f.sell(sch, seat, resID, u, engine.Idempotency{}); !errors.Is(err, engine.ErrAlreadyPaid) {
					return fmt.Errorf("second payment of %d: %v", resID, err)
				}
			case errors.Is(err, engine.ErrSeatTaken), errors.Is(err, engine.ErrInsufficientBalance):
			default:
				return fmt.Errorf("sell: %w", err)
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if sold.Load() == 0 || charged.Load() == 0 {
		t.Fatalf("the run sold %d seats and charged %d: it tested nothing", sold.Load(), charged.Load())
	}

	var balances, historyCharges, historyPayments int64
	for _, u := range ids {
		b, h := f.balance(u)
		var sum int64
		for _, e := range h {
			sum += e.Amount
			if e.Type == "charge" {
				historyCharges += e.Amount
			} else {
				historyPayments -= e.Amount
			}
		}
		if sum != b {
			t.Errorf("user %d: balance %d but history sums to %d", u, b, sum)
		}
		balances += b
	}
	var salesTotal, salesCount int64
	for _, sch := range schedules {
		nums, err := l.AllSoldSeats(f.ctx, sch.ID)
		if err != nil {
			t.Fatal(err)
		}
		sales, err := l.SoldSeats(f.ctx, sch.ID, nums)
		if err != nil || len(sales) != len(nums) {
			t.Fatalf("SoldSeats: %d sales for %d seats, %v", len(sales), len(nums), err)
		}
		for _, s := range sales {
			salesTotal += s.Amount
			salesCount++
			if price, ok := paid.Load(s.ReservationID); !ok || price != s.Amount {
				t.Errorf("sale %+v is not one the run saw succeed", s)
			}
		}
	}
	if historyCharges != charged.Load() {
		t.Errorf("ledger holds %d in charges, the run charged %d", historyCharges, charged.Load())
	}
	if salesCount != sold.Load() || salesTotal != historyPayments {
		t.Errorf("%d sales worth %d; the run sold %d, history has %d in payments",
			salesCount, salesTotal, sold.Load(), historyPayments)
	}
	if balances+salesTotal != historyCharges {
		t.Errorf("balances %d + payments %d = %d, but %d was charged",
			balances, salesTotal, balances+salesTotal, historyCharges)
	}
}

func testPurge(t *testing.T, l Ledger) {
	p, ok := l.(Purger)
	if !ok {
		t.Skip("this ledger keeps idempotency keys for ever")
	}
	f := newFixture(t, l)
	id := f.user(0)
	k := engine.Idempotency{Key: "old", Fingerprint: "charge:10"}
	for _, key := range []string{"old", "older"} {
		if _, err := l.Charge(f.ctx, id, 10, engine.MaxBalance, engine.Idempotency{Key: key, Fingerprint: "charge:10"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := p.PurgeIdempotencyKeys(f.ctx, 24*time.Hour); err != nil || n != 0 {
		t.Errorf("purge of keys older than a day = %d, %v; want 0", n, err)
	}
	if got, _ := l.Charge(f.ctx, id, 10, engine.MaxBalance, k); got != 10 {
		t.Errorf("a kept key answered %d, want the stored 10", got)
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := p.PurgeIdempotencyKeys(f.ctx, time.Millisecond); err != nil || n != 2 {
		t.Errorf("purge of every key = %d, %v; want 2", n, err)
	}
	// The key is forgotten, so the same request is new again.
	if got, err := l.Charge(f.ctx, id, 10, engine.MaxBalance, k); err != nil || got != 30 {
		t.Errorf("charge after purge = %d, %v; want 30", got, err)
	}
}

// testBoughtCounts: a user's seats bought on one concert, for the ticket limit
// after the shared state lost its data; another concert's sales do not count.
func testBoughtCounts(t *testing.T, l Ledger) {
	tl := l
	f := newFixture(t, l)
	a, b := f.schedule(10, 100), f.schedule(10, 100)
	u1, u2 := f.user(10_000), f.user(10_000)
	for i, s := range []struct {
		sch  engine.Schedule
		seat int
		user int64
	}{{a, 1, u1}, {a, 2, u1}, {a, 3, u2}, {b, 1, u1}} {
		if _, err := f.sell(s.sch, s.seat, int64(9000+i), s.user, engine.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := tl.BoughtCounts(f.ctx, a.ConcertID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[u1] != 2 || got[u2] != 1 {
		t.Fatalf("BoughtCounts = %v, want %d:2 %d:1", got, u1, u2)
	}
}

// testTicketLimitRace: one user pays for many seats of a concert with a ticket
// limit of 3 at once; exactly 3 sales go through and only they are charged.
func testTicketLimitRace(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	_, ss, err := l.CreateConcert(f.ctx, engine.NewConcert{
		Title: "Limited", SaleOpensAt: time.Now(),
		Queue:     engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000, MaxTicketsPerUser: 3},
		Schedules: []engine.NewSchedule{{Date: "2030-12-24", SeatCount: 20, Price: 100}, {Date: "2030-12-25", SeatCount: 20, Price: 100}},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := f.user(10_000)
	errs := AtOnce(12, func(i int) error {
		_, err := f.sell(ss[i%2], 1+i, int64(7000+i), u, engine.Idempotency{})
		return err
	})
	sold := 0
	for _, err := range errs {
		switch {
		case err == nil:
			sold++
		case errors.Is(err, engine.ErrTicketLimitReached):
		default:
			t.Fatalf("sell: %v", err)
		}
	}
	if sold != 3 {
		t.Fatalf("%d sales went through, want 3", sold)
	}
	if b, _ := f.balance(u); b != 10_000-3*100 {
		t.Fatalf("balance %d, want %d: a refused sale was charged", b, 10_000-3*100)
	}
}
