package engine

import (
	"context"
	"math/rand/v2"
	"time"
)

// An attempt that finds another attempt of the same payment in flight polls for
// its outcome, starting at payWaitFirst and backing off to payWaitMost.
const (
	payWaitFirst = 20 * time.Millisecond
	payWaitMost  = 200 * time.Millisecond
)

// beginPayment moves the hold to PAYING for this attempt. When another attempt of
// the same reservation holds it (PAYING, and the ledger has no sale yet) it waits
// for that attempt's outcome until ctx ends, or one payment window when ctx has no
// deadline: the other's sale makes this ALREADY_PAID; its failure puts the hold
// back to PENDING and this attempt tries itself. A wait that runs out is
// ErrPaymentInProgress: this attempt took nothing and never will.
func (e *Engine) beginPayment(ctx context.Context, t Token, id int64) (Reservation, error) {
	wctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, e.cfg.PaymentWindow)
		defer cancel()
	}
	wait := payWaitFirst
	for {
		now := e.clock.Now()
		r, err := e.payments.BeginPayment(ctx, t, id, now, now.Add(e.cfg.PaymentWindow))
		if !isCode(err, CodeAlreadyPaid) {
			return r, err
		}
		// The script checked that the reservation is this user's.
		_, sold, lerr := e.sales.SaleByReservation(ctx, id)
		if lerr != nil {
			return Reservation{}, lerr
		}
		if sold {
			return Reservation{}, ErrAlreadyPaid
		}
		timer := time.NewTimer(wait)
		select {
		case <-wctx.Done():
			timer.Stop()
			return Reservation{}, ErrPaymentInProgress
		case <-timer.C:
		}
		wait = min(2*wait, payWaitMost)
	}
}

// refusalNeedsLedger lists the refusals of BeginPayment that the ledger may
// overrule: the shared state can have lost or aged out a record the ledger knows
// was paid (its PAYING window may have lapsed during an outage while the sale
// committed), so none of them is answered before the ledger is asked.
func refusalNeedsLedger(err error) bool {
	for _, c := range [...]Code{CodeAlreadyPaid, CodeReservationNotFound, CodeReservationExpired, CodeTokenExpired, CodeNotAdmitted} {
		if isCode(err, c) {
			return true
		}
	}
	return false
}

// newAttempt names one payment attempt for the ledger's fence; 0 without one.
func (e *Engine) newAttempt() int64 {
	if e.fence == nil {
		return 0
	}
	return rand.Int64N(1<<62) + 1
}

// settleUnknown makes the unknown outcome of a Sell (timeout, lost connection)
// known before answering: the fence either finds the attempt committed (the answer
// is the sales) or makes sure it never commits (the holds go back to PENDING and
// the answer, 503, is final). Only when the ledger cannot be reached even for that
// do the holds stay PAYING for the sweeper, which asks the ledger once the
// payment window ends; the pool's statement_timeout, shorter than the window,
// means the attempt's statement is over by then. The ledger sells all of rs or
// none, so the first one's fate is every one's.
func (e *Engine) settleUnknown(t Token, rs []Reservation, attempt int64, cause error) ([]Sale, error) {
	if e.fence == nil || attempt == 0 {
		return nil, cause
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.PaymentWindow/2)
	defer cancel()
	first, committed, err := e.fence.VoidAttempt(ctx, attempt, rs[0].ID)
	if err != nil {
		return nil, cause
	}
	if !committed {
		for _, r := range rs {
			e.abort(r)
		}
		return nil, cause
	}
	// One payment: every sale shares the first one's payment, balance and time.
	sales := make([]Sale, len(rs))
	for i, r := range rs {
		sales[i] = Sale{PaymentID: first.PaymentID, ReservationID: r.ID, ScheduleID: r.ScheduleID, Seat: r.Seat,
			UserID: t.UserID, Amount: r.Price, Balance: first.Balance, At: first.At}
	}
	for _, r := range rs {
		e.complete(t, r)
	}
	return sales, nil
}
