package engine_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/redisstore"
)

// attempt is one hold as a client sees it, and whether the engine answered it
// from its memory rather than from the shared state.
type attempt struct {
	created    bool
	id         int64
	err        error
	fromMemory bool
}

// tenSeats creates a concert with one 10-seat schedule and n users ACTIVE on it.
func (v *env) tenSeats(n int) (engine.Schedule, []engine.Token) {
	v.t.Helper()
	c, ss := v.concert(show{seats: []int{10}})
	return ss[0], v.admitted(n, c.ID)
}

func (v *env) try(e *engine.Engine, t engine.Token, scheduleID int64, seat int) attempt {
	before := e.Counters().HoldsRefusedHere
	r, created, err := e.Hold(v.ctx, t, scheduleID, seat)
	return attempt{created: created, id: r.ID, err: err, fromMemory: e.Counters().HoldsRefusedHere > before}
}

func (a attempt) want(t *testing.T, what string, err error, fromMemory bool) {
	t.Helper()
	if !errors.Is(a.err, err) || (err == nil) != (a.err == nil) || a.fromMemory != fromMemory {
		t.Fatalf("%s: err %v (from memory %v), want %v (from memory %v)", what, a.err, a.fromMemory, err, fromMemory)
	}
}

// A hold on a seat someone else holds or bought is refused from the instance's
// seat view once the shared state has said the asker's token is ACTIVE; every
// other answer still comes from the shared state.
func TestHoldRefusedFromMemory(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		sched, toks := v.tenSeats(3)
		sid := sched.ID
		a, b, d := toks[0], toks[1], toks[2]
		v.charge(a, 1_000_000)
		e2 := v.another()

		ra := v.try(v.e, a, sid, 1)
		ra.want(t, "A holds seat 1", nil, false)
		v.try(v.e, b, sid, 1).want(t, "B, not yet seen ACTIVE, on seat 1", engine.ErrSeatTaken, false)
		v.try(v.e, b, sid, 1).want(t, "B again on seat 1", engine.ErrSeatTaken, true)
		v.try(e2, b, sid, 1).want(t, "B on seat 1 through an instance that never saw B", engine.ErrSeatTaken, false)

		again := v.try(v.e, a, sid, 1)
		again.want(t, "A, the holder, on seat 1", nil, false)
		if again.created || again.id != ra.id {
			t.Fatalf("the holder got created=%v id %d, want their reservation %d again", again.created, again.id, ra.id)
		}
		v.try(v.e, b, sid, 2).want(t, "B on a free seat", nil, false)

		v.pause(a.ConcertID)
		waiting, _ := v.enter(v.e, v.users(1)[0], a.ConcertID)
		v.clk.Advance(150 * time.Millisecond) // a new view, which shows seat 1 held
		v.try(v.e, waiting, sid, 1).want(t, "a waiting token on a held seat", engine.ErrNotAdmitted, false)

		// Sold: A pays, and has no other hold, so A's token is DONE.
		v.pay(a, engine.Reservation{ID: ra.id, Price: sched.Price})
		v.try(v.e, b, sid, 1).want(t, "B on the sold seat", engine.ErrSeatTaken, true)
		v.try(v.e, a, sid, 1).want(t, "A, whose token is DONE since paying here", engine.ErrTokenExpired, false)

		// A cancel on another instance shows here once this view is older than 100 ms.
		v.clk.Advance(150 * time.Millisecond)
		v.try(v.e, d, sid, 2).want(t, "D on B's seat 2", engine.ErrSeatTaken, false)
		v.try(v.e, d, sid, 2).want(t, "D again on B's seat 2", engine.ErrSeatTaken, true)
		if _, err := e2.Cancel(v.ctx, b, holdOf(t, v, b, sid, 2)); err != nil {
			t.Fatal(err)
		}
		v.try(v.e, d, sid, 2).want(t, "D on seat 2 just after a cancel elsewhere", engine.ErrSeatTaken, true)
		v.clk.Advance(100 * time.Millisecond)
		v.try(v.e, d, sid, 2).want(t, "D on seat 2 a view later", nil, false)

		// A cancel through this instance shows at once.
		rd := holdOf(t, v, d, sid, 2)
		v.clk.Advance(100 * time.Millisecond) // the view was read before D's hold
		v.try(v.e, b, sid, 2).want(t, "B on D's seat 2", engine.ErrSeatTaken, true)
		if _, err := v.e.Cancel(v.ctx, d, rd); err != nil {
			t.Fatal(err)
		}
		v.try(v.e, b, sid, 2).want(t, "B on seat 2 just after D cancelled here", nil, false)

		// What the shared state said of a token is trusted for one second only.
		v.clk.Advance(time.Second)
		v.try(v.e, d, sid, 2).want(t, "D a second after its last word from Redis", engine.ErrSeatTaken, false)
		v.try(v.e, d, sid, 2).want(t, "D right after", engine.ErrSeatTaken, true)
	})
}

// holdOf finds the reservation t holds on a seat by asking for the seat again.
func holdOf(t *testing.T, v *env, tok engine.Token, sid int64, seat int) int64 {
	t.Helper()
	r, created, err := v.e.Hold(v.ctx, tok, sid, seat)
	if err != nil || created {
		t.Fatalf("user %d should hold seat %d: created=%v err=%v", tok.UserID, seat, created, err)
	}
	return r.ID
}

// A hold past its deadline frees the seat within the view's 100 ms, the same
// lag the seat map has, well inside the contract's one second.
func TestHoldFromMemoryAfterExpiry(t *testing.T) {
	const ttl = time.Minute
	eachBackend(t, engine.Config{HoldTTL: ttl}, func(t *testing.T, v *env) {
		sched, toks := v.tenSeats(2)
		sid := sched.ID
		a, b := toks[0], toks[1]
		r := v.hold(a, sid, 5)
		v.try(v.e, b, sid, 6).want(t, "B on a free seat", nil, false)
		v.clk.Set(r.ExpiresAt.Add(-50 * time.Millisecond))
		v.try(v.e, b, sid, 6).want(t, "B, seen ACTIVE a minute ago, on A's seat", nil, false) // B's own seat: 200
		v.try(v.e, b, sid, 5).want(t, "B on A's seat just before it lapses", engine.ErrSeatTaken, true)
		v.clk.Advance(60 * time.Millisecond)
		v.try(v.e, b, sid, 5).want(t, "B on A's lapsed seat, an old view", engine.ErrSeatTaken, true)
		v.clk.Advance(50 * time.Millisecond)
		v.try(v.e, b, sid, 5).want(t, "B on A's lapsed seat, a new view", nil, false)
	})
}

// HOLD_CACHE_AGE below zero: every hold asks the shared state.
func TestHoldFromMemoryOff(t *testing.T) {
	eachBackend(t, engine.Config{HoldCacheAge: engine.CacheOff}, func(t *testing.T, v *env) {
		sched, toks := v.tenSeats(2)
		sid := sched.ID
		v.hold(toks[0], sid, 1)
		for range 3 {
			v.try(v.e, toks[1], sid, 1).want(t, "B on A's seat", engine.ErrSeatTaken, false)
		}
	})
}

// Owners and rivals hammer the same seats through two instances while the clock
// moves: every owner gets their own reservation back, every rival SEAT_TAKEN, and
// no seat gains a second holder, whatever part the instances' memory plays.
func TestHoldFromMemoryOwnersAlwaysAnswered(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		const owners, rivals, rounds = 40, 40, 30
		c, ss := v.concert(show{seats: []int{owners}})
		sid := ss[0].ID
		toks := v.admitted(owners+rivals, c.ID)
		engines := []*engine.Engine{v.e, v.another()}
		ids := make([]int64, owners)
		for i := range owners {
			ids[i] = v.hold(toks[i], sid, i+1).ID
		}
		var wg sync.WaitGroup
		var fromMemory atomic.Int64
		for g, tok := range toks {
			wg.Go(func() {
				for r := range rounds {
					e := engines[(g+r)%2]
					seat := 1 + rand.IntN(owners)
					if g < owners && r%2 == 0 {
						seat = g + 1 // an owner's own seat, every other round
					}
					a := v.try(e, tok, sid, seat)
					if a.fromMemory {
						fromMemory.Add(1)
					}
					mine := g < owners && seat == g+1
					switch {
					case mine && (a.err != nil || a.created || a.id != ids[g]):
						t.Errorf("owner %d on seat %d: created=%v id %d err %v, want reservation %d", tok.UserID, seat, a.created, a.id, a.err, ids[g])
					case !mine && !errors.Is(a.err, engine.ErrSeatTaken) && !errors.Is(a.err, engine.ErrHoldLimitReached):
						t.Errorf("user %d on another's seat %d: created=%v err %v", tok.UserID, seat, a.created, a.err)
					}
					if r%10 == 9 {
						v.clk.Advance(40 * time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		if fromMemory.Load() == 0 {
			t.Fatal("no hold was refused from memory: the test exercised nothing new")
		}
		if st := v.stats(c.ID); st.Held != owners {
			t.Fatalf("held %d, want %d", st.Held, owners)
		}
		t.Logf("%d of %d holds refused from memory", fromMemory.Load(), (owners+rivals)*rounds)
	})
}

// Holds read the next view in the background once theirs is 75 ms old, so a seat
// freed elsewhere is offered again before the old view runs out, and no hold has
// to wait for the read or go to Redis while it runs.
func TestHoldSeatViewRenewedAhead(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		sched, toks := v.tenSeats(2)
		sid := sched.ID
		b, d := toks[0], toks[1]
		e2 := v.another()
		rb := v.hold(b, sid, 3)
		v.try(v.e, d, sid, 4).want(t, "D on a free seat", nil, false)
		v.try(v.e, d, sid, 3).want(t, "D on B's seat", engine.ErrSeatTaken, true)
		if _, err := e2.Cancel(v.ctx, b, rb.ID); err != nil {
			t.Fatal(err)
		}
		v.clk.Advance(80 * time.Millisecond)
		v.try(v.e, d, sid, 3).want(t, "D on seat 3, cancelled elsewhere, an 80 ms old view", engine.ErrSeatTaken, true)
		// The clock stands still: only a view read since can offer the seat.
		eventually(t, "a view read ahead, offering seat 3", func() bool {
			a := v.try(v.e, d, sid, 3)
			if a.err == nil {
				a.want(t, "D on seat 3 once the next view is in", nil, false)
				return true
			}
			a.want(t, "D on seat 3 while the next view is read", engine.ErrSeatTaken, true)
			return false
		})
	})
}

// A token whose word from Redis is 3/4 of HOLD_CACHE_AGE old is asked about again
// in the background, so a user who keeps trying is never sent to Redis just to be
// seen ACTIVE again; a token found ended there is forgotten.
func TestHoldActiveTokenCheckedAhead(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		sched, toks := v.tenSeats(3)
		sid := sched.ID
		a, b, d := toks[0], toks[1], toks[2]
		v.charge(d, 1_000_000)
		v.hold(a, sid, 1)
		v.try(v.e, b, sid, 2).want(t, "B on a free seat", nil, false)
		v.try(v.e, d, sid, 3).want(t, "D on a free seat", nil, false)
		// D pays through another instance: D's token is DONE, which this one does not know.
		e2 := v.another()
		if _, err := e2.Pay(v.ctx, d, holdOf(t, v, d, sid, 3), sched.Price, ""); err != nil {
			t.Fatal(err)
		}

		v.clk.Advance(800 * time.Millisecond)
		v.try(v.e, b, sid, 1).want(t, "B on A's seat, B's word 0.8 s old", engine.ErrSeatTaken, true)
		v.try(v.e, d, sid, 1).want(t, "D, DONE elsewhere 0.8 s ago, on A's seat", engine.ErrSeatTaken, true)
		eventually(t, "B's check ahead", func() bool { return v.e.Counters().ActiveChecksAhead == 1 })
		eventually(t, "D forgotten", func() bool {
			a := v.try(v.e, d, sid, 1)
			if a.err != nil && !a.fromMemory {
				a.want(t, "D once its check ahead found it DONE", engine.ErrTokenExpired, false)
				return true
			}
			return false
		})

		v.clk.Advance(300 * time.Millisecond) // B's first word is 1.1 s old, the one from the check 0.3 s
		v.try(v.e, b, sid, 1).want(t, "B on A's seat after the check ahead", engine.ErrSeatTaken, true)
		if n := v.e.Counters().ActiveChecksAhead; n != 1 {
			t.Fatalf("%d checks ahead, want B's one", n)
		}
	})
}

// eventually waits up to two seconds of real time for a background step.
func eventually(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gatedSeats holds a seat map read back, after Redis answered, until let go.
type gatedSeats struct {
	*redisstore.Store
	read, release chan struct{}
}

func (g gatedSeats) SeatMap(ctx context.Context, concertID, scheduleID int64, seatCount int, now time.Time) (engine.SeatMap, error) {
	m, err := g.Store.SeatMap(ctx, concertID, scheduleID, seatCount, now)
	g.read <- struct{}{}
	<-g.release
	return m, err
}

// A view read from Redis before this instance's own cancel, and returned after it,
// must not become the view: the cancelled seat would then be refused from memory
// after the cancel had answered.
func TestSeatViewReadBeforeCancelIsNotKept(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		sched, toks := v.tenSeats(2)
		sid := sched.ID
		a, b := toks[0], toks[1]
		gate := gatedSeats{Store: v.store, read: make(chan struct{}), release: make(chan struct{})}
		st := v.store.Roles(v.ledger)
		st.Holds = gate
		e := engine.New(v.cfg, v.clk, st)
		ra := v.hold(a, sid, 1)
		v.try(e, b, sid, 2).want(t, "B on a free seat", nil, false) // B is seen ACTIVE; no view read

		done := make(chan error, 1)
		go func() {
			_, err := e.SeatMap(v.ctx, b, sid)
			done <- err
		}()
		<-gate.read // the read has seat 1 held
		if _, err := e.Cancel(v.ctx, a, ra.ID); err != nil {
			t.Fatal(err)
		}
		close(gate.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		go func() { // later reads (the hold's own) pass the gate unheld
			for range gate.read {
			}
		}()
		v.try(e, b, sid, 1).want(t, "B on seat 1, cancelled here after the read began", nil, false)
	})
}

// tryBest is a best-available request as a client sees it (see attempt).
func (v *env) tryBest(e *engine.Engine, t engine.Token, scheduleID int64, q int) attempt {
	before := e.Counters().HoldsRefusedHere
	rs, err := e.HoldBest(v.ctx, t, scheduleID, q, "")
	return attempt{created: len(rs) == q, err: err, fromMemory: e.Counters().HoldsRefusedHere > before}
}

// A best-available request for more seats than the instance's seat view shows
// available is refused from memory once the shared state has said the asker's
// token is ACTIVE; one that may be served still goes to the shared state.
func TestBestRefusedFromMemory(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		sched, toks := v.tenSeats(3)
		sid := sched.ID
		a, b, d := toks[0], toks[1], toks[2]
		v.tryBest(v.e, a, sid, 4).want(t, "A takes 4 of 10", nil, false) // the middle: 3 left each side
		v.tryBest(v.e, b, sid, 3).want(t, "B takes 3 more", nil, false)
		v.clk.Advance(150 * time.Millisecond) // a new view, which shows 3 seats left
		v.tryBest(v.e, d, sid, 4).want(t, "D, not yet seen ACTIVE, asks for 4", engine.ErrSeatsUnavailable, false)
		v.tryBest(v.e, d, sid, 4).want(t, "D asks for 4 again", engine.ErrSeatsUnavailable, true)
		v.tryBest(v.another(), d, sid, 4).want(t, "D through an instance that never saw D", engine.ErrSeatsUnavailable, false)
		v.tryBest(v.e, d, sid, 3).want(t, "D asks for the 3 seats left", nil, false)
	})
}
