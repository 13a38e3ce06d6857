package engine

import (
	"context"
	"sync/atomic"
	"time"
)

// sweepTarget names a schedule whose holds may have expired.
type sweepTarget struct{ concertID, scheduleID int64 }

// HintExpiry tells the sweeper that a hold of a schedule just expired (the Redis
// keyspace listener calls it). A hint is only a hint: it never blocks and may be
// dropped, because the periodic sweep finds every expired hold anyway.
func (e *Engine) HintExpiry(concertID, scheduleID int64) {
	select {
	case e.sweepHint <- sweepTarget{concertID, scheduleID}:
	default:
	}
}

// Run drives this instance's background work until ctx ends: admission steps,
// the expired-hold sweep, and catalog refresh. Every part is safe to run on N
// instances at once. onErr receives failures (which are retried on the next tick).
func (e *Engine) Run(ctx context.Context, onErr func(what string, err error)) {
	if onErr == nil {
		onErr = func(string, error) {}
	}
	admit := time.NewTicker(e.cfg.AdmitInterval)
	sweep := time.NewTicker(e.cfg.SweepInterval)
	refresh := time.NewTicker(time.Second)
	defer admit.Stop()
	defer sweep.Stop()
	defer refresh.Stop()
	step := func(what string, f func(context.Context) error) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := f(c); err != nil && ctx.Err() == nil {
			onErr(what, err)
		}
	}
	step("catalog", e.catalog.load)
	go func() {
		if err := e.WarmUsers(ctx); err != nil && ctx.Err() == nil {
			onErr("users", err)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-admit.C:
			step("admit", e.AdmitOnce)
		case <-sweep.C:
			step("sweep", e.SweepOnce)
		case h := <-e.sweepHint:
			step("sweep", func(c context.Context) error {
				return e.sweepSchedule(c, h.concertID, h.scheduleID, &e.counts.expiredByHint)
			})
		case <-refresh.C:
			step("catalog", e.catalog.load)
			step("recover", e.checkConfigured)
			step("close", e.purgeClosed)
		}
	}
}

// SweepOnce settles every expired hold of every schedule: it asks the ledger
// first, so a seat whose payment committed is marked sold, never freed.
func (e *Engine) SweepOnce(ctx context.Context) error {
	_, schedules := e.catalog.all()
	open := e.openConcertIDs()
	var first error
	for _, s := range schedules {
		if !open[s.ConcertID] {
			continue
		}
		first = firstErr(first, e.sweepSchedule(ctx, s.ConcertID, s.ID, &e.counts.expiredBySweep))
	}
	return first
}

const (
	sweepBatch  = 500
	sweepRounds = 20
)

// sweepSchedule settles one schedule's expired holds; expired counts the holds it
// found unsold, by the path that found them (keyspace hint or periodic sweep).
func (e *Engine) sweepSchedule(ctx context.Context, concertID, scheduleID int64, expired *atomic.Int64) error {
	now := e.clock.Now()
	// A bounded number of rounds: a hold that Release leaves alone (it changed
	// meanwhile) must not keep this loop busy; the next tick sees it again.
	for range sweepRounds {
		found, err := e.expiries.Expired(ctx, concertID, scheduleID, now, sweepBatch)
		if err != nil || len(found) == 0 {
			return err
		}
		seats := make([]int, len(found))
		for i, h := range found {
			seats[i] = h.Seat
		}
		sales, err := e.sales.SoldSeats(ctx, scheduleID, seats)
		if err != nil {
			return err
		}
		sold := make(map[int]Sale, len(sales))
		for _, s := range sales {
			sold[s.Seat] = s
		}
		for _, h := range found {
			if s, ok := sold[h.Seat]; ok {
				r := Reservation{ID: s.ReservationID, ConcertID: concertID, ScheduleID: scheduleID, Seat: s.Seat, UserID: s.UserID, Price: s.Amount}
				if _, err := e.payments.CompletePayment(ctx, r, now); err != nil {
					return err
				}
				e.counts.settledFromLedger.Add(1)
				continue
			}
			if h.Paying {
				// The payment never reached the ledger: give the hold back to its
				// owner for the rest of its own deadline, so the retry can pay.
				// Release below then frees it only if that deadline passed too.
				r := Reservation{ID: h.ReservationID, ConcertID: concertID, ScheduleID: scheduleID, Seat: h.Seat, UserID: h.UserID}
				if err := e.payments.AbortPayment(ctx, r, now); err != nil {
					return err
				}
			}
			if err := e.expiries.Release(ctx, h, now); err != nil {
				return err
			}
			expired.Add(1)
		}
		e.forgetSeatMap(scheduleID)
		if len(found) < sweepBatch {
			return nil
		}
	}
	return nil
}

// checkConfigured notices a shared state that lost its data (Redis restarted
// empty) and forgets which concerts this instance believed configured there, so
// the next request or admission step restores their queues from the ledger. A
// closed concert's shared state is gone for good, and is not asked about.
func (e *Engine) checkConfigured(ctx context.Context) error {
	var first error
	open := e.openConcertIDs()
	e.configured.Range(func(k, _ any) bool {
		if !open[k.(int64)] {
			return true
		}
		ok, err := e.queue.Configured(ctx, k.(int64))
		if err != nil {
			first = err
			return false
		}
		if !ok {
			e.configured.Delete(k)
		}
		return true
	})
	return first
}

// Counters are this instance's running totals of background work, for metrics.
type Counters struct {
	ExpiredByHint     int64 // expired holds found through a keyspace expiry hint
	ExpiredBySweep    int64 // expired holds found by the periodic sweep
	SettledFromLedger int64 // PAYING holds the ledger said were sold (repaired step 3)
	PollsFromCache    int64 // polls answered from this instance's memory (pollCache)
	HoldsRefusedHere  int64 // holds refused from this instance's memory (activeWordCache)
	ActiveChecksAhead int64 // tokens seen ACTIVE again by a background check (activeWordCache)
}

type counters struct {
	expiredByHint, expiredBySweep, settledFromLedger atomic.Int64
}

// Counters returns this instance's totals so far.
func (e *Engine) Counters() Counters {
	return Counters{
		ExpiredByHint:     e.counts.expiredByHint.Load(),
		ExpiredBySweep:    e.counts.expiredBySweep.Load(),
		SettledFromLedger: e.counts.settledFromLedger.Load(),
		PollsFromCache:    e.pollsFromCache(),
		HoldsRefusedHere:  e.holdsRefusedHere(),
		ActiveChecksAhead: e.activeChecksAhead(),
	}
}

func (e *Engine) holdsRefusedHere() int64 {
	if g, ok := e.holdGate.(*activeWordCache); ok {
		return g.refusedHere.Load()
	}
	return 0
}

func (e *Engine) activeChecksAhead() int64 {
	if g, ok := e.holdGate.(*activeWordCache); ok {
		return g.checksAhead.Load()
	}
	return 0
}

func (e *Engine) pollsFromCache() int64 {
	if p, ok := e.polls.(*pollCache); ok {
		return p.hits.Load()
	}
	return 0
}
