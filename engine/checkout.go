package engine

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"
)

// Pay buys one held seat: PayMany with one reservation.
func (e *Engine) Pay(ctx context.Context, t Token, reservationID, amount int64, idemKey string) (Sale, error) {
	if reservationID <= 0 {
		return Sale{}, ErrReservationNotFound
	}
	sales, err := e.PayMany(ctx, t, []int64{reservationID}, amount, idemKey)
	if err != nil {
		return Sale{}, err
	}
	return sales[0], nil
}

// PayMany buys held seats with one payment of the sum of their prices, all or
// nothing. The order matters:
//  1. each hold moves to PAYING in the shared state, so none can expire under us
//     (in ascending id order, so two attempts on overlapping holds never wait on
//     each other in a circle); a refusal puts the ones already moved back;
//  2. one ledger transaction takes the money and records every sale (the ledger's
//     UNIQUE seat rows are the final judge);
//  3. the shared state marks the seats sold and ends the holds.
//
// A failure in 2 puts the holds back; an unknown outcome in 2 (timeout, lost
// connection) is settled by the ledger's fence before answering (settleUnknown);
// a failure in 3 leaves holds PAYING and the sweeper settles each from the ledger
// once the payment window ends: the ledger sold all of them or none. An attempt
// that finds another in flight waits for its outcome (beginPayment).
// The returned sales are in the order of ids and share PaymentID and Balance.
func (e *Engine) PayMany(ctx context.Context, t Token, ids []int64, amount int64, idemKey string) ([]Sale, error) {
	if err := e.checkPayIDs(ids); err != nil {
		return nil, err
	}
	if amount < 1 {
		return nil, ErrAmountMismatch
	}
	idem := Idempotency{Key: idemKey, Fingerprint: payFingerprint(ids, amount)}
	order := slices.Clone(ids)
	slices.Sort(order)
	held := make(map[int64]Reservation, len(ids))
	bctx := ctx
	if len(ids) > 1 {
		// Waiting for another attempt on a later hold must not eat the PAYING
		// window of the holds already begun: the ledger call needs the rest of it.
		var cancel context.CancelFunc
		bctx, cancel = context.WithTimeout(ctx, e.cfg.PaymentWindow/2)
		defer cancel()
	}
	for _, id := range order {
		r, err := e.beginPayment(bctx, t, id)
		if err != nil {
			e.abortAll(held)
			return e.explainRefusedPayment(ctx, t, ids, id, idem, err)
		}
		held[id] = r
	}
	rs := make([]Reservation, len(ids))
	sales := make([]Sale, len(ids))
	attempt := e.newAttempt()
	var total int64
	for i, id := range ids {
		r := held[id]
		rs[i] = r
		total += r.Price
		sales[i] = Sale{ReservationID: r.ID, ScheduleID: r.ScheduleID, Seat: r.Seat, UserID: t.UserID, Amount: r.Price, Attempt: attempt}
	}
	if amount != total {
		e.abortAll(held)
		return nil, ErrAmountMismatch
	}
	sold, err := e.sell(ctx, sales, idem)
	switch {
	case err == nil:
	case errors.Is(err, ErrAlreadyPaid):
		// An earlier attempt committed but never reached step 3: finish what the
		// ledger sold, give back the rest.
		e.settleFromLedger(t, rs)
		return nil, ErrAlreadyPaid
	case errors.Is(err, ErrSeatTaken):
		// The ledger sold a seat to another reservation (the shared state lost it):
		// make the shared state agree and drop the holds.
		e.abortAll(held)
		e.settleTaken(rs)
		return nil, ErrSeatTaken
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return e.settleUnknown(t, rs, attempt, err) // outcome unknown: the fence decides it
	default:
		e.abortAll(held)
		return nil, err
	}
	for _, r := range rs {
		e.complete(t, r)
	}
	return sold, nil
}

// checkPayIDs refuses a list of reservations no payment can take: empty, longer
// than a user may hold, or naming one twice.
func (e *Engine) checkPayIDs(ids []int64) error {
	if len(ids) == 0 || len(ids) > e.cfg.MaxHoldsPerUser {
		return Errorf(CodeBadRequest, "reservationIds must list 1 to %d reservations", e.cfg.MaxHoldsPerUser)
	}
	for i, id := range ids {
		if id <= 0 {
			return ErrReservationNotFound
		}
		if slices.Contains(ids[:i], id) {
			return Errorf(CodeBadRequest, "reservationIds lists %d twice", id)
		}
	}
	return nil
}

// payFingerprint names what a payment asked for; one reservation keeps the
// fingerprint it always had.
func payFingerprint(ids []int64, amount int64) string {
	b := []byte("pay:")
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, ':')
	return string(strconv.AppendInt(b, amount, 10))
}

// sell is the ledger transaction of step 2: Sell for one seat, SellMany for more.
func (e *Engine) sell(ctx context.Context, sales []Sale, idem Idempotency) ([]Sale, error) {
	if len(sales) == 1 {
		s, err := e.sales.Sell(ctx, sales[0], idem)
		if err != nil {
			return nil, err
		}
		return []Sale{s}, nil
	}
	if e.multi == nil {
		return nil, Unavailable("ledger", errors.New("this ledger cannot pay several holds at once"))
	}
	return e.multi.SellMany(ctx, sales, idem)
}

// idempotentSales returns the stored answer of an earlier payment with this key.
func (e *Engine) idempotentSales(ctx context.Context, userID int64, n int, idem Idempotency) ([]Sale, bool, error) {
	if n == 1 {
		s, ok, err := e.sales.IdempotentSale(ctx, userID, idem)
		if err != nil || !ok {
			return nil, ok, err
		}
		return []Sale{s}, true, nil
	}
	if e.multi == nil {
		return nil, false, nil
	}
	return e.multi.IdempotentSales(ctx, userID, idem)
}

// explainRefusedPayment turns a refused BeginPayment of reservation id (one of
// ids) into the answer a retrying client needs. The ledger is asked only here,
// off the success path: a retry of a completed idempotent payment gets the first
// answer; a reservation the ledger sold to this user is ALREADY_PAID whatever the
// shared state or the token says.
func (e *Engine) explainRefusedPayment(ctx context.Context, t Token, ids []int64, id int64, idem Idempotency, err error) ([]Sale, error) {
	if !refusalNeedsLedger(err) {
		return nil, err
	}
	if idem.Key != "" {
		sales, ok, lerr := e.idempotentSales(ctx, t.UserID, len(ids), idem)
		if lerr != nil || ok {
			return sales, lerr
		}
	}
	if _, perr := e.paidReservation(ctx, t, id); perr == nil {
		return nil, ErrAlreadyPaid
	}
	if isCode(err, CodeAlreadyPaid) {
		return nil, ErrPaymentInProgress
	}
	return nil, err
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
	e.holdGate.Forget(t) // the token may be DONE now
}

func (e *Engine) abortAll(held map[int64]Reservation) {
	for _, r := range held {
		e.abort(r)
	}
}

// settleFromLedger ends each PAYING hold as the ledger says: sold, or back to PENDING.
func (e *Engine) settleFromLedger(t Token, rs []Reservation) {
	ctx, cancel := background()
	defer cancel()
	for _, r := range rs {
		if _, sold, err := e.sales.SaleByReservation(ctx, r.ID); err == nil && sold {
			e.complete(t, r)
			continue
		}
		e.abort(r)
	}
}

// settleTaken marks sold in the shared state the seats the ledger sold to others.
func (e *Engine) settleTaken(rs []Reservation) {
	ctx, cancel := background()
	defer cancel()
	for _, r := range rs {
		sales, err := e.sales.SoldSeats(ctx, r.ScheduleID, []int{r.Seat})
		if err == nil && len(sales) > 0 && sales[0].ReservationID != r.ID {
			e.settle(r.ConcertID, r.ScheduleID, []int{r.Seat})
		}
	}
}

func (e *Engine) settle(concertID, scheduleID int64, seats []int) {
	ctx, cancel := background()
	defer cancel()
	_ = e.payments.MarkSold(ctx, concertID, scheduleID, seats)
	e.forgetSeatMap(scheduleID)
}
