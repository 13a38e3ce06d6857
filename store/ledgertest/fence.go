package ledgertest

import (
	"errors"
	"sync"
	"testing"

	"github.com/concertd/concertd/engine"
)

// testPaymentFence: an attempt voided before its Sell never commits; one that
// committed is reported with its sale; and when the two race, each attempt ends
// exactly one way and the money agrees with how it ended.
func testPaymentFence(t *testing.T, l Ledger) {
	fence, ok := l.(engine.PaymentFence)
	if !ok {
		t.Fatalf("%T has no VoidAttempt: every ledger of this repository settles unknown payments", l)
	}
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
