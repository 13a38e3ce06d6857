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

// TicketLedger is the ledger's side of maxTicketsPerUser.
type TicketLedger interface {
	// BoughtCounts returns, per user, how many seats of the concert's schedules
	// the user bought (users with none are absent).
	BoughtCounts(ctx context.Context, concertID int64) (map[int64]int, error)
}

// TicketCounts is the shared state's copy of the bought counts, which hold.lua
// and best.lua add to a user's live holds; each payment's completion adds one.
type TicketCounts interface {
	// LoadBought writes the ledger's counts once per empty state (a new concert,
	// or a Redis that lost its data); a no-op when they are loaded.
	LoadBought(ctx context.Context, concertID int64, counts map[int64]int) error
}
