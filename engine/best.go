package engine

import (
	"context"
	"errors"
)

// errNoBest answers a best-available request to a shared state that has none.
var errNoBest = Unavailable("shared state", errors.New("the seat store has no best-available allocation"))

// HoldBest holds the best quantity seats side by side for the token's user, in
// the named section or the first one that has such a run (API.md "POST
// /api/reservations/best"). An unknown section name is INVALID_SEAT: the buyer
// asked for seats the schedule does not have. The seats held show in this
// instance's seat view within seatMapMaxAge, as a picked seat's hold does: were
// the view dropped after each, under a rush every request that refuses from it
// would read the whole map again.
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
		return nil, errNoBest
	}
	now := e.clock.Now()
	rs, err := e.holdGate.HoldBest(ctx, BestRequest{
		Token: t, Schedule: s, Section: sec, Quantity: quantity,
		Now: now, Deadline: now.Add(e.cfg.HoldTTL), MaxHolds: e.cfg.MaxHoldsPerUser,
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}
