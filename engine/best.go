package engine

import (
	"context"
	"errors"
)

// HoldBest holds the best quantity seats side by side for the token's user, in
// the named section or the first one that has such a run (API.md "POST
// /api/reservations/best"). An unknown section name is INVALID_SEAT: the buyer
// asked for seats the schedule does not have.
func (e *Engine) HoldBest(ctx context.Context, t Token, scheduleID int64, quantity int, section string) ([]Reservation, error) {
	s, err := e.scheduleFor(ctx, t, scheduleID)
	if err != nil {
		return nil, err
	}
	if quantity < 1 || quantity > e.cfg.MaxHoldsPerUser {
		return nil, Errorf(CodeBadRequest, "quantity must be 1 to %d", e.cfg.MaxHoldsPerUser)
	}
	sec := 0
	if section != "" {
		i := s.SectionIndex(section)
		if i < 0 {
			return nil, Errorf(CodeInvalidSeat, "schedule %d has no section %q", s.ID, section)
		}
		sec = i + 1
	}
	if e.best == nil {
		return nil, Unavailable("shared state", errors.New("the seat store has no best-available allocation"))
	}
	if err := e.ensureRebuilt(ctx, s); err != nil {
		return nil, err
	}
	rs, err := e.holdBest(ctx, t, s, sec, quantity)
	if errors.Is(err, ErrNotRebuilt) {
		// The shared state lost its data, or its row counts were never loaded:
		// load the sold seats, then count the rows, and try once more.
		if err = e.rebuild(ctx, s); err == nil {
			if err = e.best.LoadRows(ctx, s); err == nil {
				rs, err = e.holdBest(ctx, t, s, sec, quantity)
			}
		}
	}
	if err != nil {
		return nil, lostAgain(err)
	}
	e.forgetSeatMap(s.ID)
	return rs, nil
}

// holdBest takes fresh ids and runs one attempt; ids are taken per attempt, as
// hold does, since a rebuild may have discarded ids the ledger already used.
func (e *Engine) holdBest(ctx context.Context, t Token, s Schedule, sec, quantity int) ([]Reservation, error) {
	ids := make([]int64, quantity)
	for i := range ids {
		id, err := e.seats.NextReservationID(ctx)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	now := e.clock.Now()
	return e.best.HoldBest(ctx, BestRequest{
		Token: t, Schedule: s, Section: sec, Quantity: quantity, ReservationIDs: ids,
		Now: now, Deadline: now.Add(e.cfg.HoldTTL), MaxHolds: e.cfg.MaxHoldsPerUser,
	})
}

// loadBought copies the ledger's bought counts of a concert into the shared state
// if they are not there, alongside the sold seats, so the ticket limit counts
// what was bought before the shared state lost its data. Stores that keep no
// counts (a test's) skip it.
func (e *Engine) loadBought(ctx context.Context, concertID int64) error {
	tl, ok1 := e.ledger.(TicketLedger)
	tc, ok2 := e.seats.(TicketCounts)
	if !ok1 || !ok2 {
		return nil
	}
	counts, err := tl.BoughtCounts(ctx, concertID)
	if err != nil {
		return err
	}
	return tc.LoadBought(ctx, concertID, counts)
}
