package engine

import (
	"context"
	"time"
)

// requireActive checks that the token is ACTIVE in the shared queue.
func (e *Engine) requireActive(ctx context.Context, t Token, now time.Time) error {
	s, err := e.holdGate.Status(ctx, t, now)
	if err != nil {
		return err
	}
	switch s.State {
	case TokenActive:
		return nil
	case TokenWaiting:
		return ErrNotAdmitted
	default:
		return ErrTokenExpired
	}
}

// scheduleFor finds a schedule and checks it belongs to the token's concert.
func (e *Engine) scheduleFor(ctx context.Context, t Token, scheduleID int64) (Schedule, error) {
	if scheduleID <= 0 {
		return Schedule{}, ErrScheduleNotFound
	}
	s, err := e.catalog.schedule(ctx, scheduleID)
	if err != nil {
		return Schedule{}, err
	}
	if s.ConcertID != t.ConcertID {
		return Schedule{}, ErrWrongConcert
	}
	if _, err := e.concertOpen(ctx, s.ConcertID); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

// Hold holds a seat for the token's user until now + HoldTTL. Created is false
// when the user already held that seat and this is the same reservation.
func (e *Engine) Hold(ctx context.Context, t Token, scheduleID int64, seat int) (Reservation, bool, error) {
	s, err := e.scheduleFor(ctx, t, scheduleID)
	if err != nil {
		return Reservation{}, false, err
	}
	if seat < 1 || seat > s.SeatCount {
		return Reservation{}, false, ErrInvalidSeat
	}
	r, err := e.hold(ctx, t, s, seat, e.clock.Now())
	if err != nil {
		return Reservation{}, false, err
	}
	return clientView(r.Reservation), r.Created, nil
}

// hold asks the hold gate for the hold: the shared state, unless this instance
// can refuse it from memory; the store draws its reservation id.
func (e *Engine) hold(ctx context.Context, t Token, s Schedule, seat int, now time.Time) (HoldResult, error) {
	return e.holdGate.Hold(ctx, HoldRequest{
		Token:    t,
		Schedule: s,
		Seat:     seat,
		Now:      now,
		Deadline: now.Add(e.cfg.HoldTTL),
		MaxHolds: e.cfg.MaxHoldsPerUser,
	})
}

// Reservation returns one of the token user's reservations; another user's is
// ErrReservationNotFound, so ids reveal nothing.
func (e *Engine) Reservation(ctx context.Context, t Token, id int64) (Reservation, error) {
	if id <= 0 {
		return Reservation{}, ErrReservationNotFound
	}
	r, err := e.holds.Reservation(ctx, t.ConcertID, id, e.clock.Now())
	if isCode(err, CodeReservationNotFound) {
		return e.paidReservation(ctx, t, id)
	}
	if err != nil {
		return Reservation{}, err
	}
	if r.UserID != t.UserID {
		return Reservation{}, ErrReservationNotFound
	}
	return clientView(r), nil
}

// paidReservation answers from the ledger for a reservation the shared state no
// longer knows (its record aged out, or Redis lost it).
func (e *Engine) paidReservation(ctx context.Context, t Token, id int64) (Reservation, error) {
	sale, ok, err := e.sales.SaleByReservation(ctx, id)
	if err != nil {
		return Reservation{}, err
	}
	if !ok || sale.UserID != t.UserID {
		return Reservation{}, ErrReservationNotFound
	}
	s, err := e.catalog.schedule(ctx, sale.ScheduleID)
	if err != nil {
		return Reservation{}, err
	}
	return Reservation{
		ID: id, ConcertID: s.ConcertID, ScheduleID: sale.ScheduleID, Seat: sale.Seat,
		UserID: sale.UserID, Price: sale.Amount, State: ReservationPaid, ExpiresAt: sale.At,
	}, nil
}

// Cancel gives a pending hold back; the seat is free at once.
func (e *Engine) Cancel(ctx context.Context, t Token, id int64) (Reservation, error) {
	if id <= 0 {
		return Reservation{}, ErrReservationNotFound
	}
	r, err := e.holds.Cancel(ctx, t.ConcertID, id, t.UserID, e.clock.Now())
	if isCode(err, CodeReservationNotFound) {
		if _, perr := e.paidReservation(ctx, t, id); perr == nil {
			return Reservation{}, ErrAlreadyPaid
		}
	}
	if err != nil {
		return Reservation{}, err
	}
	e.forgetSeatMap(r.ScheduleID)
	return clientView(r), nil
}

// clientView hides the internal PAYING state: to a client a hold being paid is
// still PENDING.
func clientView(r Reservation) Reservation {
	if r.State == ReservationPaying {
		r.State = ReservationPending
	}
	return r
}
