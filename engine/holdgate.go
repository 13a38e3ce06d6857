package engine

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// HoldGate is the shared state's word on a hold, and on a token being ACTIVE, as
// the hold and seat-map paths ask for it. sharedHoldGate asks the shared state
// every time; activeWordCache decorates it.
type HoldGate interface {
	// Hold asks for the hold; the store draws its reservation id.
	Hold(ctx context.Context, r HoldRequest) (HoldResult, error)
	// HoldBest asks for the best run of seats (see BestSeats).
	HoldBest(ctx context.Context, r BestRequest) ([]Reservation, error)
	// Status is the token's state in the shared queue at now.
	Status(ctx context.Context, t Token, now time.Time) (TokenStatus, error)
	// Forget drops what is kept of t, which may have ended (a payment made it DONE).
	Forget(t Token)
}

// sharedHoldGate asks the shared state for every hold and every token's state,
// and keeps nothing.
type sharedHoldGate struct {
	holds Holds
	best  BestSeats // nil: no best-available allocation
	queue Queue
	idle  time.Duration
}

func (g sharedHoldGate) Hold(ctx context.Context, r HoldRequest) (HoldResult, error) {
	return g.holds.Hold(ctx, r)
}

func (g sharedHoldGate) HoldBest(ctx context.Context, r BestRequest) ([]Reservation, error) {
	if g.best == nil {
		return nil, errNoBest
	}
	return g.best.HoldBest(ctx, r)
}

func (g sharedHoldGate) Status(ctx context.Context, t Token, now time.Time) (TokenStatus, error) {
	return g.queue.Status(ctx, t, now, g.idle)
}

func (sharedHoldGate) Forget(Token) {}

// activeWordCache keeps, for at most maxAge, the shared state's word that a
// token is ACTIVE (from a status or a hold's outcome), and with it refuses from
// this instance's memory the holds that can have no answer but SEAT_TAKEN (see
// takenInView). Every other hold, and every status, goes to next.
type activeWordCache struct {
	next  HoldGate
	views SeatViews   // the schedule's views a hold is refused from
	clock clock.Clock // the time a background check asks at
	words recentMap[*activeFact]

	refusedHere atomic.Int64 // holds refused from memory
	checksAhead atomic.Int64 // tokens seen ACTIVE again by checkActiveAhead
}

// newActiveWordCache decorates next with words kept for up to maxAge (at most
// maxHoldCacheAge); maxAge <= 0 keeps none, and then every hold goes to next.
func newActiveWordCache(next HoldGate, views SeatViews, maxAge time.Duration, clk clock.Clock) *activeWordCache {
	c := &activeWordCache{next: next, views: views, clock: clk}
	c.words.maxAge = max(min(maxAge, maxHoldCacheAge), 0)
	return c
}

// activeFact is the shared state's word that a token is ACTIVE.
type activeFact struct {
	checking atomic.Bool // a check ahead of this word's end is under way
}

// Hold refuses from memory when the answer cannot be anything but SEAT_TAKEN,
// else asks next and keeps what the answer says of the token.
func (c *activeWordCache) Hold(ctx context.Context, r HoldRequest) (HoldResult, error) {
	if err := c.takenInView(ctx, r.Token, r.Schedule, r.Seat, r.Now); err != nil {
		return HoldResult{}, err
	}
	res, err := c.next.Hold(ctx, r)
	c.learnHoldOutcome(r.Token, err, r.Now)
	return res, err
}

// HoldBest refuses from memory when the schedule's view has fewer available
// seats than asked in the sections asked, where no run can be (under a rush,
// nearly every late request once the seats are gone), else asks next and keeps
// what the answer says of the token. It answers only as takenInView does: on a
// fresh word that the token is ACTIVE, from a view at most seatMapMaxAge old.
func (c *activeWordCache) HoldBest(ctx context.Context, r BestRequest) ([]Reservation, error) {
	if c.activeWord(r.Token, r.Now) {
		if v := c.views.ForHold(ctx, r.Schedule, r.Now); v != nil {
			if free, ok := v.freeSeats(r.Section); ok && free < r.Quantity {
				c.refusedHere.Add(1)
				return nil, Errorf(CodeSeatsUnavailable, "no %d seats side by side are left", r.Quantity)
			}
		}
	}
	rs, err := c.next.HoldBest(ctx, r)
	c.learnHoldOutcome(r.Token, err, r.Now)
	return rs, err
}

// Status asks next, and keeps its word when it says t is ACTIVE.
func (c *activeWordCache) Status(ctx context.Context, t Token, now time.Time) (TokenStatus, error) {
	s, err := c.next.Status(ctx, t, now)
	if err == nil && s.State == TokenActive {
		c.sawActive(t, now)
	}
	return s, err
}

// Forget drops the word kept for t.
func (c *activeWordCache) Forget(t Token) { c.words.forget(keyOf(t)) }

// takenInView refuses a hold from this instance's memory when the answer cannot
// be anything but SEAT_TAKEN: under a rush most holds are refused, nearly all of
// them on seats someone else already holds, and each would otherwise cost a
// script run in Redis. It answers only when
//
//   - the shared state said within the last maxAge (HoldCacheAge, at most a
//     second) that the token is ACTIVE, so a waiting or expired token still hears
//     NOT_ADMITTED or TOKEN_EXPIRED; a token that ended within that second hears
//     SEAT_TAKEN instead, a refusal either way. Once that word is 3/4 of the age
//     old, the shared state is asked again in the background (checkActiveAhead);
//   - the schedule's seat view (views.ForHold; seatViewCache keeps it at most
//     seatMapMaxAge old) shows the seat sold, or
//     held by someone whose holder tag differs from the asker's: the holder, who
//     must hear 200 with their own reservation, always asks the shared state.
//
// A seat freed since the view was read (expiry, or a cancel on another instance;
// a cancel here drops the view) is refused for at most seatMapMaxAge more, as the
// seat map itself shows it taken. Holds that win are always decided in the shared
// state, so no seat is ever given out from here.
func (c *activeWordCache) takenInView(ctx context.Context, t Token, s Schedule, seat int, now time.Time) error {
	if !c.activeWord(t, now) {
		return nil
	}
	v := c.views.ForHold(ctx, s, now)
	if v == nil {
		return nil
	}
	switch v.Seats[seat-1] {
	case SeatReserved:
		c.refusedHere.Add(1)
		return Errorf(CodeSeatTaken, "seat %d is sold", seat)
	case SeatPending:
		if seat < len(v.tags) && v.tags[seat] != HolderTag(t.UserID) {
			c.refusedHere.Add(1)
			return Errorf(CodeSeatTaken, "seat %d is held", seat)
		}
	}
	return nil
}

// activeWord tells whether the shared state said within maxAge of now that t is
// ACTIVE; once that word is 3/4 of the age old, the shared state is asked again
// in the background (checkActiveAhead).
func (c *activeWordCache) activeWord(t Token, now time.Time) bool {
	n := now.UnixNano()
	fact, at, ok := c.words.getAt(keyOf(t), n)
	if !ok {
		return false
	}
	if n-at >= int64(c.words.maxAge*3/4) && fact.checking.CompareAndSwap(false, true) {
		go c.checkActiveAhead(t)
	}
	return true
}

// sawActive keeps the shared state's word, given at now, that t is ACTIVE.
func (c *activeWordCache) sawActive(t Token, now time.Time) {
	c.words.put(keyOf(t), now.UnixNano(), &activeFact{})
}

// checkActiveAhead asks the shared state again, in the background, for a token
// whose word is about to run out. A token that keeps holding would otherwise send
// one hold a second to Redis just to be seen ACTIVE again, and under load that
// hold waits longest.
func (c *activeWordCache) checkActiveAhead(t Token) {
	ctx, cancel := background()
	defer cancel()
	now := c.clock.Now()
	s, err := c.next.Status(ctx, t, now)
	switch {
	case err != nil: // the word runs out on its own
	case s.State == TokenActive:
		c.checksAhead.Add(1)
		c.sawActive(t, now)
	default:
		c.words.forget(keyOf(t))
	}
}

// learnHoldOutcome keeps what a hold decided in the shared state at now says of
// the token: a hold made, or refused for the seats or a limit, passed the ACTIVE
// check; NOT_ADMITTED and TOKEN_EXPIRED say the token is not ACTIVE.
func (c *activeWordCache) learnHoldOutcome(t Token, err error, now time.Time) {
	switch {
	case err == nil || isCode(err, CodeSeatTaken) || isCode(err, CodeSeatsUnavailable) ||
		isCode(err, CodeHoldLimitReached) || isCode(err, CodeTicketLimitReached):
		c.sawActive(t, now)
	case isCode(err, CodeNotAdmitted) || isCode(err, CodeTokenExpired):
		c.words.forget(keyOf(t))
	}
}
