package engine

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Pay buys a held seat. The order matters:
//  1. the hold moves to PAYING in the shared state, so it cannot expire under us;
//  2. one ledger transaction takes the money and records the sale (the ledger's
//     UNIQUE seat row is the final judge);
//  3. the shared state marks the seat sold and ends the hold.
//
// A failure in 2 puts the hold back; an unknown outcome in 2 (timeout, lost
// connection) is settled by the ledger's fence before answering (settleUnknown);
// a failure in 3 leaves the hold PAYING and the sweeper settles it from the ledger
// once the payment window ends. An attempt that finds another in flight waits for
// its outcome (beginPayment).
func (e *Engine) Pay(ctx context.Context, t Token, reservationID, amount int64, idemKey string) (Sale, error) {
	if reservationID <= 0 {
		return Sale{}, ErrReservationNotFound
	}
	if amount < 1 {
		return Sale{}, ErrAmountMismatch
	}
	idem := Idempotency{Key: idemKey, Fingerprint: "pay:" + strconv.FormatInt(reservationID, 10) + ":" + strconv.FormatInt(amount, 10)}
	r, err := e.beginPayment(ctx, t, reservationID)
	if err != nil {
		return e.explainRefusedPayment(ctx, t, reservationID, idem, err)
	}
	if amount != r.Price {
		e.abort(r)
		return Sale{}, ErrAmountMismatch
	}
	attempt := e.newAttempt()
	sale, err := e.sales.Sell(ctx, Sale{
		ReservationID: r.ID, ScheduleID: r.ScheduleID, Seat: r.Seat, UserID: t.UserID, Amount: r.Price,
		Attempt: attempt,
	}, idem)
	switch {
	case err == nil:
	case errors.Is(err, ErrAlreadyPaid):
		// An earlier attempt committed but never reached step 3: finish it now.
		e.complete(t, r)
		return Sale{}, ErrAlreadyPaid
	case errors.Is(err, ErrSeatTaken):
		// The ledger sold this seat to another reservation (the shared state lost
		// it): make the shared state agree and drop this hold.
		e.abort(r)
		e.settle(r.ConcertID, r.ScheduleID, []int{r.Seat})
		return Sale{}, ErrSeatTaken
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return e.settleUnknown(t, r, attempt, err) // outcome unknown: the fence decides it
	default:
		e.abort(r)
		return Sale{}, err
	}
	e.complete(t, r)
	return sale, nil
}

// explainRefusedPayment turns a refused BeginPayment into the answer a retrying
// client needs. The ledger is asked only here, off the success path: a retry of a
// completed idempotent payment gets the first answer; a reservation the ledger
// sold to this user is ALREADY_PAID whatever the shared state or the token says.
func (e *Engine) explainRefusedPayment(ctx context.Context, t Token, id int64, idem Idempotency, err error) (Sale, error) {
	if !refusalNeedsLedger(err) {
		return Sale{}, err
	}
	if idem.Key != "" {
		sale, ok, lerr := e.sales.IdempotentSale(ctx, t.UserID, idem)
		if lerr != nil || ok {
			return sale, lerr
		}
	}
	if _, perr := e.paidReservation(ctx, t, id); perr == nil {
		return Sale{}, ErrAlreadyPaid
	}
	if isCode(err, CodeAlreadyPaid) {
		return Sale{}, ErrPaymentInProgress
	}
	return Sale{}, err
}

// background returns a short context detached from the request, for the clean-up
// steps that must run even when the client has gone.
func background() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Second)
}

func (e *Engine) abort(r Reservation) {
	ctx, cancel := background()
	defer cancel()
	_ = e.payments.AbortPayment(ctx, r, e.clock.Now())
}

func (e *Engine) complete(t Token, r Reservation) {
	ctx, cancel := background()
	defer cancel()
	_, _ = e.payments.CompletePayment(ctx, r, e.clock.Now())
	e.forgetSeatMap(r.ScheduleID)
	e.activeTokens.forget(keyOf(t)) // the token may be DONE now
}

func (e *Engine) settle(concertID, scheduleID int64, seats []int) {
	ctx, cancel := background()
	defer cancel()
	_ = e.payments.MarkSold(ctx, concertID, scheduleID, seats)
	e.forgetSeatMap(scheduleID)
}
