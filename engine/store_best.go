package engine

import (
	"context"
	"time"
)

// BestRequest asks to hold Quantity seats side by side, chosen by the store.
type BestRequest struct {
	Token          Token
	Schedule       Schedule
	Section        int // 1-based index into Schedule.Layout(); 0: every section in order
	Quantity       int
	ReservationIDs []int64 // nil: the store draws Quantity fresh ids, one per seat
	Now            time.Time
	Deadline       time.Time // Now + hold TTL
	MaxHolds       int
}

// BestSeats is the best-available allocation in the shared state (see
// scripts/best.lua for the rule); it serves POST /api/reservations/best.
type BestSeats interface {
	// HoldBest atomically checks the token is ACTIVE, the user's hold and ticket
	// limits, finds the best run and holds every seat of it until Deadline, one
	// reservation per seat, in seat order. Errors: ErrNotAdmitted, ErrTokenExpired,
	// ErrHoldLimitReached, ErrTicketLimitReached, ErrSeatsUnavailable.
	HoldBest(ctx context.Context, r BestRequest) ([]Reservation, error)
}
