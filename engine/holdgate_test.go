package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// countingGate is a shared state that counts the holds, best-available requests
// and statuses asked of it.
type countingGate struct {
	holds, bests, statuses, forgets atomic.Int64
	holdErr                         error
	status                          atomic.Pointer[TokenStatus] // nil: ACTIVE
	statusErr                       error
	statusAsked                     chan struct{} // told of each status asked, when set
	release                         chan struct{} // a status waits for it, when set
}

func (g *countingGate) Hold(_ context.Context, r HoldRequest) (HoldResult, error) {
	g.holds.Add(1)
	if g.holdErr != nil {
		return HoldResult{}, g.holdErr
	}
	return HoldResult{Reservation: Reservation{ID: 1, Seat: r.Seat, UserID: r.Token.UserID}, Created: true}, nil
}

func (g *countingGate) HoldBest(_ context.Context, r BestRequest) ([]Reservation, error) {
	g.bests.Add(1)
	if g.holdErr != nil {
		return nil, g.holdErr
	}
	rs := make([]Reservation, r.Quantity)
	for i := range rs {
		rs[i] = Reservation{ID: int64(i + 1), Seat: i + 1, UserID: r.Token.UserID}
	}
	return rs, nil
}

func (g *countingGate) Status(context.Context, Token, time.Time) (TokenStatus, error) {
	g.statuses.Add(1)
	if g.release != nil {
		<-g.release
	}
	if g.statusAsked != nil {
		defer func() { g.statusAsked <- struct{}{} }()
	}
	if s := g.status.Load(); s != nil {
		return *s, g.statusErr
	}
	return TokenStatus{State: TokenActive}, g.statusErr
}

func (g *countingGate) Forget(Token) { g.forgets.Add(1) }

// fixedViews gives every hold the same view of the schedule, or none.
type fixedViews struct{ v *SeatMapView }

func (f fixedViews) View(context.Context, Schedule, time.Time) (*SeatMapView, error) { return f.v, nil }
func (f fixedViews) ForHold(context.Context, Schedule, time.Time) *SeatMapView       { return f.v }
func (fixedViews) Forget(int64)                                                      {}

var gateAt = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// asker is the token that holds in these tests; user 1 holds seat 1 and user 7,
// the asker, seat 3; seat 2 is sold and the others are free.
var asker = Token{ConcertID: 1, UserID: 7, Gen: 1}

func gateView() *SeatMapView {
	v := &SeatMapView{ScheduleID: 1, Seats: make([]SeatStatus, 5), At: gateAt, tags: make([]byte, 6)}
	v.Seats[0], v.tags[1] = SeatPending, HolderTag(1)
	v.Seats[1] = SeatReserved
	v.Seats[2], v.tags[3] = SeatPending, HolderTag(asker.UserID)
	return v
}

func holdOn(t Token, seat int, now time.Time) HoldRequest {
	return HoldRequest{Token: t, Schedule: Schedule{ID: 1, ConcertID: 1, SeatCount: 5}, Seat: seat, Now: now}
}

// learnStep is one answer of the shared state the cache sees before the hold
// under test: a status, or a hold's outcome (err), or this instance forgetting
// the token.
type learnStep struct {
	status *TokenStatus
	hold   bool
	err    error
	forget bool
}

var (
	sawActive  = learnStep{status: &TokenStatus{State: TokenActive}}
	sawWaiting = learnStep{status: &TokenStatus{State: TokenWaiting, Rank: 3}}
)

func heldWith(err error) learnStep { return learnStep{hold: true, err: err} }

// Each case shows the cache what the shared state said of the asker at gateAt,
// then holds a seat at gateAt + after: refused from memory, or asked of next.
func TestActiveWordCacheRefusesOnlyWhatCannotBeWon(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name        string
		learn       []learnStep
		seat        int
		after       time.Duration
		token       func(Token) Token
		noView      bool
		maxAge      time.Duration // 0: a second
		wantRefused bool
	}{
		{name: "seen ACTIVE, seat held by another", learn: []learnStep{sawActive}, seat: 1, wantRefused: true},
		{name: "seen ACTIVE, seat sold", learn: []learnStep{sawActive}, seat: 2, wantRefused: true},
		{name: "seen ACTIVE, the asker's own seat", learn: []learnStep{sawActive}, seat: 3},
		{name: "seen ACTIVE, a free seat", learn: []learnStep{sawActive}, seat: 4},
		{name: "never seen", seat: 1},
		{name: "seen WAITING", learn: []learnStep{sawWaiting}, seat: 1},
		{name: "a status that failed", learn: []learnStep{{status: &TokenStatus{State: TokenActive}, err: ErrUnavailable}}, seat: 1},
		{name: "a hold made", learn: []learnStep{heldWith(nil)}, seat: 1, wantRefused: true},
		{name: "a hold refused for the seat", learn: []learnStep{heldWith(ErrSeatTaken)}, seat: 1, wantRefused: true},
		{name: "a hold refused for the limit", learn: []learnStep{heldWith(ErrHoldLimitReached)}, seat: 1, wantRefused: true},
		{name: "a hold that failed keeps the word", learn: []learnStep{sawActive, heldWith(ErrUnavailable)}, seat: 1, wantRefused: true},
		{name: "NOT_ADMITTED since", learn: []learnStep{sawActive, heldWith(ErrNotAdmitted)}, seat: 1},
		{name: "TOKEN_EXPIRED since", learn: []learnStep{sawActive, heldWith(ErrTokenExpired)}, seat: 1},
		{name: "forgotten since (paid)", learn: []learnStep{sawActive, {forget: true}}, seat: 1},
		{name: "just under the age", learn: []learnStep{sawActive}, seat: 1, after: time.Second - 1, wantRefused: true},
		{name: "at the age", learn: []learnStep{sawActive}, seat: 1, after: time.Second},
		{name: "a shorter age", learn: []learnStep{sawActive}, seat: 1, after: 300 * time.Millisecond, maxAge: 300 * time.Millisecond},
		{name: "no longer than a second", learn: []learnStep{sawActive}, seat: 1, after: time.Second, maxAge: time.Minute},
		{name: "the clock went back", learn: []learnStep{sawActive}, seat: 1, after: -time.Millisecond},
		{name: "no view of the schedule", learn: []learnStep{sawActive}, seat: 1, noView: true},
		{name: "the user's next token", learn: []learnStep{sawActive}, seat: 1, token: func(t Token) Token { t.Gen++; return t }},
		{name: "the same token issued at another second", learn: []learnStep{sawActive}, seat: 1, wantRefused: true,
			token: func(t Token) Token { t.IssuedAt = t.IssuedAt.Add(time.Second); return t }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := &countingGate{}
			views := fixedViews{gateView()}
			if tc.noView {
				views.v = nil
			}
			maxAge := cmpOr(tc.maxAge, time.Second)
			c := newActiveWordCache(next, views, maxAge, clock.NewSimulated(gateAt))
			for _, l := range tc.learn {
				switch {
				case l.status != nil:
					next.status.Store(l.status)
					next.statusErr = l.err
					if _, err := c.Status(ctx, asker, gateAt); err != l.err {
						t.Fatalf("status: %v, want %v", err, l.err)
					}
				case l.hold:
					next.holdErr = l.err
					if _, err := c.Hold(ctx, holdOn(asker, 5, gateAt)); err != l.err {
						t.Fatalf("learning hold: %v, want %v", err, l.err)
					}
				case l.forget:
					c.Forget(asker)
				}
			}
			next.holdErr, next.statusErr = nil, nil
			holdsBefore := next.holds.Load()
			tok := asker
			if tc.token != nil {
				tok = tc.token(tok)
			}
			r, err := c.Hold(ctx, holdOn(tok, tc.seat, gateAt.Add(tc.after)))
			asked := next.holds.Load() - holdsBefore
			if tc.wantRefused {
				if !isCode(err, CodeSeatTaken) || asked != 0 || c.refusedHere.Load() != 1 {
					t.Fatalf("got %+v, %v (next asked %d, refused here %d), want SEAT_TAKEN from memory", r, err, asked, c.refusedHere.Load())
				}
			} else if err != nil || asked != 1 || !r.Created || c.refusedHere.Load() != 0 {
				t.Fatalf("got %+v, %v (next asked %d, refused here %d), want next's hold", r, err, asked, c.refusedHere.Load())
			}
		})
	}
}

// bestView is a schedule of two sections of 4 seats: seats 2 and 3 of section A
// and seat 6 of B are free, the rest held or sold.
func bestView() *SeatMapView {
	layout := []Section{{Name: "A", Rows: 1, SeatsPerRow: 4}, {Name: "B", Rows: 1, SeatsPerRow: 4}}
	v := &SeatMapView{ScheduleID: 1, Sections: layout, Seats: make([]SeatStatus, 8), At: gateAt, tags: make([]byte, 9)}
	for n := 1; n <= 8; n++ {
		v.Seats[n-1] = SeatPending
	}
	v.Seats[1], v.Seats[2], v.Seats[5] = SeatAvailable, SeatAvailable, SeatAvailable
	v.Seats[7] = SeatReserved
	v.countFree(layout)
	return v
}

// A best-available request is refused from memory only on a fresh ACTIVE word
// and when the view has fewer available seats than asked where they are asked
// for; every other request goes to next.
func TestActiveWordCacheRefusesBestWhenTooFewAreLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name        string
		learn       learnStep
		section, q  int
		view        *SeatMapView
		wantRefused bool
	}{
		{name: "4 asked, 3 left", learn: sawActive, q: 4, view: bestView(), wantRefused: true},
		{name: "3 asked, 3 left", learn: sawActive, q: 3, view: bestView()},
		{name: "3 asked in A, 2 left there", learn: sawActive, section: 1, q: 3, view: bestView(), wantRefused: true},
		{name: "2 asked in A, 2 left there", learn: sawActive, section: 1, q: 2, view: bestView()},
		{name: "2 asked in B, 1 left there", learn: sawActive, section: 2, q: 2, view: bestView(), wantRefused: true},
		{name: "a section the view has not", learn: sawActive, section: 3, q: 1, view: bestView()},
		{name: "never seen ACTIVE", q: 4, view: bestView()},
		{name: "seen WAITING", learn: sawWaiting, q: 4, view: bestView()},
		{name: "seen ACTIVE by a best-available refusal", learn: heldWith(ErrSeatsUnavailable), q: 4, view: bestView(), wantRefused: true},
		{name: "seen ACTIVE by a ticket limit", learn: heldWith(ErrTicketLimitReached), q: 4, view: bestView(), wantRefused: true},
		{name: "TOKEN_EXPIRED since", learn: heldWith(ErrTokenExpired), q: 4, view: bestView()},
		{name: "no view", learn: sawActive, q: 4},
		{name: "a view without counts", learn: sawActive, q: 4, view: gateView()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := &countingGate{}
			c := newActiveWordCache(next, fixedViews{tc.view}, time.Second, clock.NewSimulated(gateAt))
			switch l := tc.learn; {
			case l.status != nil:
				next.status.Store(l.status)
				if _, err := c.Status(ctx, asker, gateAt); err != nil {
					t.Fatal(err)
				}
			case l.hold:
				next.holdErr = l.err
				if _, err := c.HoldBest(ctx, BestRequest{Token: asker, Quantity: 1, Now: gateAt}); err != l.err {
					t.Fatalf("learning request: %v, want %v", err, l.err)
				}
				next.holdErr = nil
			}
			before := next.bests.Load()
			rs, err := c.HoldBest(ctx, BestRequest{Token: asker, Section: tc.section, Quantity: tc.q, Now: gateAt})
			asked := next.bests.Load() - before
			if tc.wantRefused {
				if !isCode(err, CodeSeatsUnavailable) || asked != 0 || c.refusedHere.Load() != 1 {
					t.Fatalf("got %v, %v (next asked %d, refused here %d), want SEATS_UNAVAILABLE from memory", rs, err, asked, c.refusedHere.Load())
				}
			} else if err != nil || asked != 1 || len(rs) != tc.q || c.refusedHere.Load() != 0 {
				t.Fatalf("got %v, %v (next asked %d, refused here %d), want next's seats", rs, err, asked, c.refusedHere.Load())
			}
		})
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Statuses always go through: the cache only keeps their word. A cache of age 0
// keeps none, and every hold goes through.
func TestActiveWordCachePassesStatusesThrough(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		maxAge       time.Duration
		wantRefused  int64
		wantStatuses int64
		wantHolds    int64
	}{
		{name: "on", maxAge: time.Second, wantRefused: 2, wantStatuses: 2, wantHolds: 0},
		{name: "off", maxAge: 0, wantRefused: 0, wantStatuses: 2, wantHolds: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := &countingGate{}
			c := newActiveWordCache(next, fixedViews{gateView()}, tc.maxAge, clock.NewSimulated(gateAt))
			for i := range 2 {
				now := gateAt.Add(time.Duration(i) * time.Millisecond)
				if s, err := c.Status(ctx, asker, now); err != nil || s.State != TokenActive {
					t.Fatalf("status %d: %+v, %v", i, s, err)
				}
				if _, err := c.Hold(ctx, holdOn(asker, 1, now)); tc.wantHolds == 0 && !isCode(err, CodeSeatTaken) {
					t.Fatalf("hold %d: %v, want SEAT_TAKEN", i, err)
				}
			}
			c.Forget(asker)
			if next.statuses.Load() != tc.wantStatuses || next.holds.Load() != tc.wantHolds || c.refusedHere.Load() != tc.wantRefused || next.forgets.Load() != 0 {
				t.Fatalf("next asked %d statuses, %d holds, forgot %d; %d refused here; want %d, %d, 0; %d",
					next.statuses.Load(), next.holds.Load(), next.forgets.Load(), c.refusedHere.Load(), tc.wantStatuses, tc.wantHolds, tc.wantRefused)
			}
		})
	}
}

// A word 3/4 of its age old is renewed by one status asked of next in the
// background, however many holds see it; if the token is ACTIVE no longer, the
// word is dropped and the next hold goes through.
func TestActiveWordCacheChecksAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		now       TokenState
		wantAhead int64
		wantKept  bool
	}{
		{name: "still ACTIVE", now: TokenActive, wantAhead: 1, wantKept: true},
		{name: "DONE since", now: TokenDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := &countingGate{statusAsked: make(chan struct{}, 4)}
			late := gateAt.Add(800 * time.Millisecond)
			c := newActiveWordCache(next, fixedViews{gateView()}, time.Second, clock.NewSimulated(late))
			if _, err := c.Status(ctx, asker, gateAt); err != nil {
				t.Fatal(err)
			}
			<-next.statusAsked
			next.status.Store(&TokenStatus{State: tc.now})
			next.release = make(chan struct{}) // the check waits until the holds are done
			for range 3 {
				if _, err := c.Hold(ctx, holdOn(asker, 1, late)); !isCode(err, CodeSeatTaken) {
					t.Fatalf("a hold with a word 0.8 s old: %v, want SEAT_TAKEN from memory", err)
				}
			}
			close(next.release)
			<-next.statusAsked
			// The check keeps the new word (or drops the old) once its status is back.
			waitFor(t, func() bool {
				_, at, ok := c.words.getAt(keyOf(asker), late.UnixNano())
				return ok == tc.wantKept && (!ok || at == late.UnixNano())
			})
			select {
			case <-next.statusAsked:
				t.Fatal("a second check ahead of the same word")
			case <-time.After(100 * time.Millisecond):
			}
			if n := next.statuses.Load(); n != 2 {
				t.Fatalf("%d statuses asked, want the first and one check ahead", n)
			}
			if n := c.checksAhead.Load(); n != tc.wantAhead {
				t.Fatalf("%d checks ahead counted, want %d", n, tc.wantAhead)
			}
			_, err := c.Hold(ctx, holdOn(asker, 1, gateAt.Add(1500*time.Millisecond)))
			if refused := isCode(err, CodeSeatTaken) && next.holds.Load() == 0; refused != tc.wantKept {
				t.Fatalf("a hold 1.5 s after the first word: %v, from memory %v, want %v", err, refused, tc.wantKept)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// sharedHoldGate asks the Holds and Queue roles every time and keeps nothing.
func TestSharedHoldGateAsksEveryTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, q := &mapHolds{}, &countingQueue{}
	g := sharedHoldGate{holds: h, queue: q, idle: time.Minute}
	for range 2 {
		if _, err := g.Status(ctx, asker, gateAt); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Hold(ctx, holdOn(asker, 1, gateAt)); err != nil {
			t.Fatal(err)
		}
	}
	g.Forget(asker)
	if q.asked.Load() != 2 || q.idle.Load() != int64(time.Minute) || h.holds.Load() != 2 {
		t.Fatalf("the queue was asked %d times (idle %v), the holds %d times; want 2 (a minute), 2",
			q.asked.Load(), time.Duration(q.idle.Load()), h.holds.Load())
	}
	if _, err := g.HoldBest(ctx, BestRequest{Token: asker, Quantity: 2}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("best-available without an allocation: %v, want UNAVAILABLE", err)
	}
	best := &countingGate{}
	g.best = best
	for range 2 {
		if rs, err := g.HoldBest(ctx, BestRequest{Token: asker, Quantity: 2}); err != nil || len(rs) != 2 {
			t.Fatalf("best-available: %v, %v", rs, err)
		}
	}
	if best.bests.Load() != 2 {
		t.Fatalf("best-available asked %d times, want 2", best.bests.Load())
	}
}

type countingQueue struct {
	Queue
	asked, idle atomic.Int64
}

func (q *countingQueue) Status(_ context.Context, _ Token, _ time.Time, idle time.Duration) (TokenStatus, error) {
	q.asked.Add(1)
	q.idle.Store(int64(idle))
	return TokenStatus{State: TokenActive}, nil
}

// New decorates the seat views always and the hold gate unless HoldCacheAge is
// CacheOff; the hold gate refuses from the engine's own seat views.
func TestNewWiresTheDecorators(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		age     time.Duration
		wantAge time.Duration // 0: no cache
	}{
		{name: "default", age: 0, wantAge: time.Second},
		{name: "shorter", age: 200 * time.Millisecond, wantAge: 200 * time.Millisecond},
		{name: "off", age: CacheOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := New(Config{Secret: []byte("s"), HoldCacheAge: tc.age}, clock.NewSimulated(gateAt), Stores{Holds: &benchHolds{}, Queue: &countingQueue{}})
			views, ok := e.seatViews.(*seatViewCache)
			if !ok {
				t.Fatalf("seat views are %T, want *seatViewCache", e.seatViews)
			}
			if _, ok := views.next.(liveSeatViews); !ok {
				t.Fatalf("the seat view cache decorates %T, want liveSeatViews", views.next)
			}
			g, cached := e.holdGate.(*activeWordCache)
			if cached != (tc.wantAge > 0) {
				t.Fatalf("hold gate is %T", e.holdGate)
			}
			if !cached {
				if _, ok := e.holdGate.(sharedHoldGate); !ok {
					t.Fatalf("hold gate is %T, want sharedHoldGate", e.holdGate)
				}
				return
			}
			if _, ok := g.next.(sharedHoldGate); !ok || g.views != e.seatViews || g.words.maxAge != tc.wantAge {
				t.Fatalf("the cache decorates %T over %T, age %v; want sharedHoldGate, the engine's views, %v", g.next, g.views, g.words.maxAge, tc.wantAge)
			}
		})
	}
}
