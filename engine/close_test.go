package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/store/memstore"
	"github.com/concertd/concertd/store/redisstore"
	"github.com/concertd/concertd/store/storetest"
)

func closeSale(t *testing.T, v *env, e *engine.Engine, concertID int64) {
	t.Helper()
	yes := true
	s, err := e.PatchQueue(v.ctx, concertID, engine.QueuePatch{Closed: &yes})
	if err != nil || !s.Closed {
		t.Fatalf("close: %+v, %v", s, err)
	}
}

// Closing a sale: no new entries or holds, waiting tokens expired, pending holds
// and every key of the concert gone; what was paid stays paid.
func TestCloseSale(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{})
		toks := v.admitted(2, c.ID)
		buyer, holder := toks[0], toks[1]
		v.charge(buyer, 1_000_000)
		paid := v.hold(buyer, ss[0].ID, 1)
		v.hold(buyer, ss[0].ID, 2)
		v.pay(buyer, paid)
		pending := v.hold(holder, ss[0].ID, 3)
		v.pause(c.ID)
		waiter, _ := v.enter(v.e, v.users(1)[0], c.ID)
		other, _ := v.concert(show{}) // another concert is left alone
		otherTok := v.admitted(1, other.ID)[0]

		closeSale(t, v, v.e, c.ID)
		closeSale(t, v, v.e, c.ID) // again: nothing changes
		no := false
		if _, err := v.e.PatchQueue(v.ctx, c.ID, engine.QueuePatch{Closed: &no}); !errors.Is(err, engine.ErrBadRequest) {
			t.Fatalf("reopen: %v, want BAD_REQUEST", err)
		}

		if keys := v.keys(v.key(c.ID, "*")); len(keys) != 0 {
			t.Fatalf("keys left after closing: %v", keys)
		}
		if _, err := v.e.IssueToken(v.ctx, v.users(1)[0], c.ID); !errors.Is(err, engine.ErrSaleClosed) {
			t.Fatalf("enter: %v, want SALE_CLOSED", err)
		}
		if _, _, err := v.e.Hold(v.ctx, holder, ss[0].ID, 4); !errors.Is(err, engine.ErrSaleClosed) {
			t.Fatalf("hold: %v, want SALE_CLOSED", err)
		}
		if _, err := v.e.Status(v.ctx, waiter); !errors.Is(err, engine.ErrTokenExpired) {
			t.Fatalf("waiting token: %v, want TOKEN_EXPIRED", err)
		}
		if _, err := v.e.Pay(v.ctx, holder, pending.ID, pending.Price, ""); err == nil {
			t.Fatal("a released hold was paid after the sale closed")
		}
		if got := v.reservation(buyer, paid.ID); got.State != engine.ReservationPaid {
			t.Fatalf("paid reservation reads %s, want PAID", got.State)
		}
		if b := v.balance(buyer); b.Balance != 1_000_000-paid.Price {
			t.Fatalf("balance %d, want %d", b.Balance, 1_000_000-paid.Price)
		}
		if st := v.stats(c.ID); st.Sold != 1 || st.Held != 0 || st.Waiting != 0 || st.Active != 0 {
			t.Fatalf("stats of a closed concert %+v; want 1 sold and nothing else", st)
		}
		if _, err := v.e.Status(v.ctx, otherTok); err != nil {
			t.Fatalf("a token of an open concert: %v", err)
		}
		// Another instance learns it from the ledger on its next catalog load.
		e2 := v.another()
		if _, err := e2.IssueToken(v.ctx, v.users(1)[0], c.ID); !errors.Is(err, engine.ErrSaleClosed) {
			t.Fatalf("enter on another instance: %v, want SALE_CLOSED", err)
		}
		if keys := v.keys(v.key(c.ID, "*")); len(keys) != 0 {
			t.Fatalf("keys after another instance's refusal: %v", keys)
		}
	})
}

// A concert closes by itself the day after its last schedule's date.
func TestCloseSaleByDate(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, ss := v.concert(show{seats: []int{10, 10}}) // dates t0 + 1 month and + 1 month 1 day
		tok := v.admitted(1, c.ID)[0]
		last, _ := time.Parse(time.DateOnly, ss[1].Date)
		v.clk.Set(last.Add(23 * time.Hour))
		if _, err := v.e.IssueToken(v.ctx, v.users(1)[0], c.ID); err != nil {
			t.Fatalf("enter on the last day: %v", err)
		}
		v.clk.Set(last.AddDate(0, 0, 1))
		if _, err := v.e.IssueToken(v.ctx, v.users(1)[0], c.ID); !errors.Is(err, engine.ErrSaleClosed) {
			t.Fatalf("enter the day after: %v, want SALE_CLOSED", err)
		}
		if _, err := v.e.Status(v.ctx, tok); !errors.Is(err, engine.ErrTokenExpired) {
			t.Fatalf("token the day after: %v, want TOKEN_EXPIRED", err)
		}
	})
}

// countingStore counts the store calls of the background loops.
type countingStore struct {
	*redisstore.Store
	admits, expired atomic.Int64
}

func (s *countingStore) Admit(ctx context.Context, concertID int64, now time.Time, p engine.AdmitParams) (engine.AdmitResult, error) {
	s.admits.Add(1)
	return s.Store.Admit(ctx, concertID, now, p)
}

func (s *countingStore) Expired(ctx context.Context, concertID, scheduleID int64, now time.Time, limit int) ([]engine.ExpiredHold, error) {
	s.expired.Add(1)
	return s.Store.Expired(ctx, concertID, scheduleID, now, limit)
}

// Background work grows with open concerts only: 1,000 closed concerts cost the
// admission and sweep loops nothing, two open ones cost two each per tick.
func TestClosedConcertsCostNothing(t *testing.T) {
	t.Parallel()
	mr, rdb := storetest.Miniredis(t)
	l := memstore.New()
	st := &countingStore{Store: redisstore.New(rdb, "concertd", l)}
	cfg := engine.Config{Secret: secret, AdmitInterval: 5 * time.Millisecond, SweepInterval: 5 * time.Millisecond}
	v := &env{t: t, ctx: context.Background()}
	ss := st.Roles(l)
	ss.Queue, ss.Expiries = st, st // counted
	e := engine.New(cfg, clock.Real{}, ss)
	const closed = 1000
	yes := true
	for range closed {
		c, _, err := e.CreateConcert(v.ctx, engine.NewConcert{Title: "Gone", Queue: engine.QueueSettings{AdmitPerSecond: 10, MaxActive: 10},
			Schedules: []engine.NewSchedule{{Date: "2099-01-01", SeatCount: 10, Price: 1000}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.PatchQueue(v.ctx, c.ID, engine.QueuePatch{Closed: &yes}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(mr.Keys()); n != 1 { // P:closed
		t.Fatalf("%d Redis keys after closing every concert, want only the closed set: %v", n, mr.Keys()[:min(n, 5)])
	}
	run := func(d time.Duration) (admits, expired int64) {
		a0, x0 := st.admits.Load(), st.expired.Load()
		ctx, cancel := context.WithTimeout(v.ctx, d)
		defer cancel()
		e.Run(ctx, nil)
		return st.admits.Load() - a0, st.expired.Load() - x0
	}
	if a, x := run(300 * time.Millisecond); a != 0 || x != 0 {
		t.Fatalf("with %d closed concerts and none open: %d admission and %d sweep calls, want 0", closed, a, x)
	}
	for range 2 {
		if _, _, err := e.CreateConcert(v.ctx, engine.NewConcert{Title: "Open", Queue: engine.QueueSettings{AdmitPerSecond: 10, MaxActive: 10},
			Schedules: []engine.NewSchedule{{Date: "2099-01-01", SeatCount: 10, Price: 1000}}}); err != nil {
			t.Fatal(err)
		}
	}
	const d = 300 * time.Millisecond
	a, x := run(d)
	most := 2 * int64(d/cfg.AdmitInterval+1)
	if a == 0 || x == 0 || a > most || x > most {
		t.Fatalf("with 2 open concerts: %d admission and %d sweep calls in %v, want 1 to %d each", a, x, d, most)
	}
}
