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
	ReservationIDs []int64 // Quantity fresh ids, one per seat
	Now            time.Time
	Deadline       time.Time // Now + hold TTL
	MaxHolds       int
}

// BestSeats is the best-available allocation in the shared state (see
// scripts/best.lua for the rule). A Seats store that also implements it serves
// POST /api/reservations/best.
type BestSeats interface {
	// LoadRows loads a schedule's layout and counts each row's free seats from
	// what the shared state holds now, once per empty state; a no-op after that.
	LoadRows(ctx context.Context, s Schedule) error
	// HoldBest atomically checks the token is ACTIVE, the user's hold and ticket
	// limits, finds the best run and holds every seat of it until Deadline, one
	// reservation per seat, in seat order. Errors: ErrNotAdmitted, ErrTokenExpired,
	// ErrHoldLimitReached, ErrTicketLimitReached, ErrSeatsUnavailable; ErrNotRebuilt
	// when the sold seats or the row counts are not loaded.
	HoldBest(ctx context.Context, r BestRequest) ([]Reservation, error)
}
