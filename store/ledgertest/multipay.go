package ledgertest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// pair is the sales of seats a and b of sch for reservations ra and rb.
func pair(sch engine.Schedule, uid int64, a, b int, ra, rb int64) []engine.Sale {
	return []engine.Sale{
		{ReservationID: ra, ScheduleID: sch.ID, Seat: a, UserID: uid, Amount: sch.Price},
		{ReservationID: rb, ScheduleID: sch.ID, Seat: b, UserID: uid, Amount: sch.Price},
	}
}

// testSellMany: one payment of the sum, a sale row per seat, one history row.
func testSellMany(t *testing.T, l Ledger) {
	m := role[engine.MultiSeller](t, l)
	f := newFixture(t, l)
	sch := f.schedule(10, 700)
	other := f.schedule(10, 300)
	uid := f.user(5000)
	sales := []engine.Sale{
		{ReservationID: 12, ScheduleID: sch.ID, Seat: 4, UserID: uid, Amount: 700},
		{ReservationID: 11, ScheduleID: other.ID, Seat: 9, UserID: uid, Amount: 300},
		{ReservationID: 13, ScheduleID: sch.ID, Seat: 3, UserID: uid, Amount: 700},
	}
	got, err := m.SellMany(f.ctx, sales, engine.Idempotency{})
	if err != nil {
		t.Fatalf("SellMany: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("SellMany returned %d sales, want 3", len(got))
	}
	for i, s := range got {
		if s.PaymentID == 0 || s.PaymentID != got[0].PaymentID || s.Balance != 5000-1700 || s.ReservationID != sales[i].ReservationID ||
			s.Seat != sales[i].Seat || s.Amount != sales[i].Amount || s.At.IsZero() {
			t.Errorf("sale %d = %+v; want %+v with one payment and balance %d", i, s, sales[i], 5000-1700)
		}
		stored, ok, err := l.SaleByReservation(f.ctx, s.ReservationID)
		if err != nil || !ok || stored.PaymentID != s.PaymentID || stored.Seat != s.Seat || stored.ScheduleID != s.ScheduleID {
			t.Errorf("SaleByReservation(%d) = %+v, %v, %v; want %+v", s.ReservationID, stored, ok, err, s)
		}
	}
	f.wantBalance(uid, 5000-1700, 1, 1)
	if _, h := f.balance(uid); h[0].Type != "payment" || h[0].Amount != -1700 {
		t.Errorf("newest history row %+v, want a payment of -1700", h[0])
	}
	if seats, err := l.AllSoldSeats(f.ctx, sch.ID); err != nil || len(seats) != 2 || seats[0] != 3 || seats[1] != 4 {
		t.Errorf("AllSoldSeats = %v, %v; want [3 4]", seats, err)
	}
}

// testSellManyRefusals: any seat that cannot be sold refuses the whole payment,
// with that seat's error, and nothing is charged or sold.
func testSellManyRefusals(t *testing.T, l Ledger) {
	m := role[engine.MultiSeller](t, l)
	f := newFixture(t, l)
	sch := f.schedule(10, 1000)
	uid := f.user(10_000)
	rival := f.user(10_000)
	if _, err := f.sell(sch, 5, 500, rival, engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sell(sch, 6, 600, uid, engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	poor := f.user(1500)
	tests := []struct {
		name  string
		sales []engine.Sale
		want  error
	}{
		{"seat sold to another", pair(sch, uid, 1, 5, 1, 2), engine.ErrSeatTaken},
		{"reservation already paid", pair(sch, uid, 2, 6, 3, 600), engine.ErrAlreadyPaid},
		{"seat outside the schedule", pair(sch, uid, 3, 11, 4, 5), engine.ErrInvalidSeat},
		{"balance short of the sum", pair(sch, poor, 7, 8, 6, 7), engine.ErrInsufficientBalance},
		{"unknown schedule", []engine.Sale{pair(sch, uid, 9, 10, 8, 9)[0], {ReservationID: 10, ScheduleID: sch.ID + 99, Seat: 1, UserID: uid, Amount: 1000}}, engine.ErrScheduleNotFound},
	}
	for _, tc := range tests {
		if _, err := m.SellMany(f.ctx, tc.sales, engine.Idempotency{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: SellMany = %v, want %v", tc.name, err, tc.want)
		}
	}
	f.wantBalance(uid, 10_000-1000, 1, 1)
	f.wantBalance(poor, 1500, 1, 0)
	if seats, err := l.AllSoldSeats(f.ctx, sch.ID); err != nil || len(seats) != 2 {
		t.Errorf("AllSoldSeats = %v, %v; want only [5 6]", seats, err)
	}
	// The seats of the refused payments are still sellable, together.
	if _, err := m.SellMany(f.ctx, pair(sch, uid, 1, 2, 1, 3), engine.Idempotency{}); err != nil {
		t.Errorf("SellMany after the refusals: %v", err)
	}
}

// testIdempotentSellMany: the same key and request get the first answer; the same
// key for another request is refused; nothing is charged twice.
func testIdempotentSellMany(t *testing.T, l Ledger) {
	m := role[engine.MultiSeller](t, l)
	f := newFixture(t, l)
	sch := f.schedule(10, 1000)
	uid := f.user(10_000)
	idem := engine.Idempotency{Key: "k-many", Fingerprint: "pay:1,2:2000"}
	first, err := m.SellMany(f.ctx, pair(sch, uid, 1, 2, 1, 2), idem)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.SellMany(f.ctx, pair(sch, uid, 1, 2, 1, 2), idem)
	if err != nil || len(again) != 2 || again[0] != first[0] || again[1] != first[1] {
		t.Fatalf("retry = %+v, %v; want %+v", again, err, first)
	}
	stored, ok, err := m.IdempotentSales(f.ctx, uid, idem)
	if err != nil || !ok || len(stored) != 2 || stored[0] != first[0] || stored[1] != first[1] {
		t.Fatalf("IdempotentSales = %+v, %v, %v; want %+v", stored, ok, err, first)
	}
	if _, err := m.SellMany(f.ctx, pair(sch, uid, 3, 4, 3, 4), engine.Idempotency{Key: "k-many", Fingerprint: "pay:3,4:2000"}); !errors.Is(err, engine.ErrIdempotencyKeyReused) {
		t.Fatalf("key reused for other seats: %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	if _, _, err := l.IdempotentSale(f.ctx, uid, idem); !errors.Is(err, engine.ErrIdempotencyKeyReused) {
		t.Fatalf("IdempotentSale of a SellMany key: %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	if _, ok, err := m.IdempotentSales(f.ctx, uid, engine.Idempotency{Key: "unknown", Fingerprint: "x"}); ok || err != nil {
		t.Fatalf("IdempotentSales of an unknown key = %v, %v", ok, err)
	}
	f.wantBalance(uid, 8000, 1, 1)
}

// testConcurrentSellManyOnePair: many payments of the same two seats at once, each
// with its own reservations: exactly one is sold, and the money agrees.
func testConcurrentSellManyOnePair(t *testing.T, l Ledger) {
	m := role[engine.MultiSeller](t, l)
	f := newFixture(t, l)
	sch := f.schedule(10, 1000)
	const n = 20
	users := make([]int64, n)
	for i := range users {
		users[i] = f.user(5000)
	}
	errs := AtOnce(n, func(i int) error {
		// Half name the seats in the other order: the sale rows still go in one order.
		a, b := 1, 2
		if i%2 == 1 {
			a, b = 2, 1
		}
		_, err := m.SellMany(f.ctx, pair(sch, users[i], a, b, int64(100+2*i), int64(101+2*i)), engine.Idempotency{})
		return err
	})
	c := Count(t, errs, engine.ErrSeatTaken)
	if c[nil] != 1 || c[engine.ErrSeatTaken] != n-1 {
		t.Fatalf("outcomes %v; want one sale and %d SEAT_TAKEN", c, n-1)
	}
	var total int64
	for _, u := range users {
		b, _ := f.balance(u)
		total += b
	}
	if total != n*5000-2000 {
		t.Fatalf("balances sum to %d, want %d", total, n*5000-2000)
	}
}

// testSellManyTicketLimit: every seat of a payment counts against the limit.
func testSellManyTicketLimit(t *testing.T, l Ledger) {
	m := role[engine.MultiSeller](t, l)
	f := newFixture(t, l)
	_, ss, err := l.CreateConcert(f.ctx, engine.NewConcert{
		Title: "Limited", SaleOpensAt: time.Now(),
		Queue:     engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000, MaxTicketsPerUser: 3},
		Schedules: []engine.NewSchedule{{Date: "2030-12-24", SeatCount: 20, Price: 100}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sch := ss[0]
	uid := f.user(10_000)
	if _, err := f.sell(sch, 1, 1, uid, engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	three := append(pair(sch, uid, 2, 3, 2, 3), engine.Sale{ReservationID: 4, ScheduleID: sch.ID, Seat: 4, UserID: uid, Amount: 100})
	if _, err := m.SellMany(f.ctx, three, engine.Idempotency{}); !errors.Is(err, engine.ErrTicketLimitReached) {
		t.Fatalf("1 bought + 3: %v, want TICKET_LIMIT_REACHED", err)
	}
	f.wantBalance(uid, 10_000-100, 1, 1)
	if _, err := m.SellMany(f.ctx, three[:2], engine.Idempotency{}); err != nil {
		t.Fatalf("1 bought + 2: %v", err)
	}
	if counts, err := l.BoughtCounts(f.ctx, sch.ConcertID); err != nil || counts[uid] != 3 {
		t.Fatalf("BoughtCounts = %v, %v; want 3", counts, err)
	}
}

// testSellManyFence: a voided attempt never commits any of its seats; a committed
// one is found under its first reservation.
func testSellManyFence(t *testing.T, l Ledger) {
	m := role[engine.MultiSeller](t, l)
	fence := role[engine.PaymentFence](t, l)
	f := newFixture(t, l)
	sch := f.schedule(10, 1000)
	uid := f.user(10_000)
	if _, committed, err := fence.VoidAttempt(f.ctx, 9001, 1); err != nil || committed {
		t.Fatalf("VoidAttempt = %v, %v", committed, err)
	}
	voided := pair(sch, uid, 1, 2, 1, 2)
	for i := range voided {
		voided[i].Attempt = 9001
	}
	if _, err := m.SellMany(f.ctx, voided, engine.Idempotency{}); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("SellMany of a voided attempt: %v, want UNAVAILABLE", err)
	}
	f.wantBalance(uid, 10_000, 1, 0)
	ok := pair(sch, uid, 3, 4, 3, 4)
	for i := range ok {
		ok[i].Attempt = 9002
	}
	sold, err := m.SellMany(f.ctx, ok, engine.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	got, committed, err := fence.VoidAttempt(f.ctx, 9002, 3)
	if err != nil || !committed || got.PaymentID != sold[0].PaymentID || got.Seat != 3 {
		t.Fatalf("VoidAttempt of a committed attempt = %+v, %v, %v; want %+v", got, committed, err, sold[0])
	}
}

// testPaymentFence: an attempt voided before its Sell never commits; one that
// committed is reported with its sale; and when the two race, each attempt ends
// exactly one way and the money agrees with how it ended.
func testPaymentFence(t *testing.T, l Ledger) {
	fence := role[engine.PaymentFence](t, l)
	f := newFixture(t, l)
	sch := f.schedule(200, 1000)
	const n = 100
	uid := f.user(n * 1000)

	// Voided first: the Sell fails and charges nothing, and voiding again agrees.
	if _, committed, err := fence.VoidAttempt(f.ctx, 7001, 1); err != nil || committed {
		t.Fatalf("VoidAttempt of an unknown attempt = %v, %v; want voided", committed, err)
	}
	_, err := l.Sell(f.ctx, engine.Sale{ReservationID: 1, ScheduleID: sch.ID, Seat: 1, UserID: uid, Amount: 1000, Attempt: 7001}, engine.Idempotency{})
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("Sell of a voided attempt: %v, want UNAVAILABLE", err)
	}
	if _, committed, err := fence.VoidAttempt(f.ctx, 7001, 1); err != nil || committed {
		t.Fatalf("VoidAttempt again = %v, %v; want voided", committed, err)
	}
	f.wantBalance(uid, n*1000, 1, 0)

	// Committed first: the fence reports the sale.
	sold, err := l.Sell(f.ctx, engine.Sale{ReservationID: 2, ScheduleID: sch.ID, Seat: 2, UserID: uid, Amount: 1000, Attempt: 7002}, engine.Idempotency{})
	if err != nil {
		t.Fatalf("Sell: %v", err)
	}
	got, committed, err := fence.VoidAttempt(f.ctx, 7002, 2)
	if err != nil || !committed || got.PaymentID != sold.PaymentID || got.Seat != 2 {
		t.Fatalf("VoidAttempt of a committed attempt = %+v, %v, %v; want the sale %+v", got, committed, err, sold)
	}

	// Racing: attempts 3..n+2, each sold and voided at once.
	var wg sync.WaitGroup
	sellErr := make([]error, n)
	voidSaid := make([]bool, n)
	voidErr := make([]error, n)
	for i := range n {
		res := int64(i + 3)
		wg.Go(func() {
			_, sellErr[i] = l.Sell(f.ctx, engine.Sale{ReservationID: res, ScheduleID: sch.ID, Seat: i + 3, UserID: uid, Amount: 1000, Attempt: 8000 + res}, engine.Idempotency{})
		})
		wg.Go(func() { _, voidSaid[i], voidErr[i] = fence.VoidAttempt(f.ctx, 8000+res, res) })
	}
	wg.Wait()
	committed_ := 0
	for i := range n {
		if voidErr[i] != nil {
			t.Fatalf("VoidAttempt %d: %v", i, voidErr[i])
		}
		if (sellErr[i] == nil) != voidSaid[i] {
			t.Fatalf("attempt %d: Sell said %v, the fence said committed=%v", i, sellErr[i], voidSaid[i])
		}
		if voidSaid[i] {
			committed_++
		}
	}
	f.wantBalance(uid, int64(n-1-committed_)*1000, 1, 1+committed_)
}
