package engine

import (
	"context"
	"sync"
	"time"
)

// The end of a sale. A concert's sale ends when an operator closes it (PATCH …/queue
// {"closed": true}, kept in the ledger with the queue settings) or by itself the day
// after its last schedule's date (UTC). A closed concert:
//   - refuses new entries and holds (SALE_CLOSED); its tokens read TOKEN_EXPIRED;
//   - is skipped by every loop of every instance (admission, sweep, recovery);
//   - has its shared state deleted, pending holds with it, by the first instance
//     that learns of the closure (the one that took the PATCH at once, the others
//     on their next catalog load, every second), and once more a purgeAgain later,
//     after any payment in flight at the closure has written its last key;
//   - keeps what the ledger holds: sales, payments and balances; a paid reservation
//     still reads PAID from the ledger.

// purgeAgain is how long after its first purge an instance deletes a closed
// concert's keys a second time: past a payment window and the ledger's statement
// timeout, so a payment in flight at the closure has finished writing.
const purgeAgain = 30 * time.Second

// saleEnds computes, for each concert, the instant its sale ends by itself: the
// start of the day after its last schedule's date.
func saleEnds(schedules map[int64]Schedule) map[int64]time.Time {
	ends := make(map[int64]time.Time)
	for _, s := range schedules {
		d, err := time.Parse(time.DateOnly, s.Date)
		if err != nil {
			continue
		}
		end := d.AddDate(0, 0, 1)
		if end.After(ends[s.ConcertID]) {
			ends[s.ConcertID] = end
		}
	}
	return ends
}

// saleClosed reports whether c's sale has ended.
func (e *Engine) saleClosed(c Concert) bool {
	if c.Queue.Closed {
		return true
	}
	e.catalog.mu.RLock()
	end, ok := e.catalog.ends[c.ID]
	e.catalog.mu.RUnlock()
	return ok && !e.clock.Now().Before(end)
}

// concertOpen returns the concert if its sale is open, else ErrSaleClosed.
func (e *Engine) concertOpen(ctx context.Context, concertID int64) (Concert, error) {
	c, err := e.catalog.concert(ctx, concertID)
	if err != nil {
		return Concert{}, err
	}
	if e.saleClosed(c) {
		return Concert{}, ErrSaleClosed
	}
	return c, nil
}

// openConcerts lists the concerts whose sale is open: the only ones the loops visit.
func (e *Engine) openConcerts() []Concert {
	concerts, _ := e.catalog.all()
	open := concerts[:0]
	for _, c := range concerts {
		if !e.saleClosed(c) {
			open = append(open, c)
		}
	}
	return open
}

// closing remembers, per instance, when it purged each closed concert.
type closing struct {
	mu     sync.Mutex
	purged map[int64]time.Time // first purge; the zero time once both are done
	asked  bool                // the store was asked which closed concerts are purged
}

// purgeClosed deletes the shared state of closed concerts this instance has not
// purged yet (Run calls it every second). Concerts the store already recorded as
// purged when this instance first looked cost nothing more.
func (e *Engine) purgeClosed(ctx context.Context) error {
	if e.closer == nil {
		return nil
	}
	concerts, _ := e.catalog.all()
	now := time.Now()
	cl := &e.closing
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.purged == nil {
		cl.purged = map[int64]time.Time{}
	}
	var todo []int64
	for _, c := range concerts {
		at, seen := cl.purged[c.ID]
		switch {
		case !seen && e.saleClosed(c):
			todo = append(todo, c.ID)
		case seen && !at.IsZero() && now.Sub(at) >= purgeAgain:
			if err := e.closer.PurgeConcert(ctx, c.ID); err != nil {
				return err
			}
			cl.purged[c.ID] = time.Time{}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if !cl.asked {
		// At start: concerts closed long ago were purged by whoever closed them.
		done, err := e.closer.Purged(ctx, todo)
		if err != nil {
			return err
		}
		cl.asked = true
		left := todo[:0]
		for _, id := range todo {
			if done[id] {
				cl.purged[id] = time.Time{}
			} else {
				left = append(left, id)
			}
		}
		todo = left
	}
	for _, id := range todo {
		if err := e.closer.PurgeConcert(ctx, id); err != nil {
			return err
		}
		e.configured.Delete(id)
		cl.purged[id] = now
	}
	return nil
}

// closeSale is the PATCH's part: the ledger first (so every instance learns it),
// then this instance's catalog, then the shared state at once.
func (e *Engine) closeSale(ctx context.Context, c Concert, s QueueSettings) (QueueSettings, error) {
	s.Closed = true
	if err := e.concerts.SaveQueueSettings(ctx, c.ID, s); err != nil {
		return QueueSettings{}, err
	}
	e.catalog.setSettings(c.ID, s)
	if err := e.purgeClosed(ctx); err != nil {
		return QueueSettings{}, err
	}
	return s, nil
}

// closedStats counts a closed concert from the ledger: nothing waits, is active or
// held any more; what was sold stays sold.
func (e *Engine) closedStats(ctx context.Context, concertID int64) (Stats, error) {
	var st Stats
	_, schedules := e.catalog.all()
	for _, s := range schedules {
		if s.ConcertID != concertID {
			continue
		}
		sold, err := e.sales.AllSoldSeats(ctx, s.ID)
		if err != nil {
			return Stats{}, err
		}
		st.Sold += int64(len(sold))
		st.SeatsTotal += int64(s.SeatCount)
	}
	return st, nil
}

// openConcertIDs is openConcerts as a set.
func (e *Engine) openConcertIDs() map[int64]bool {
	open := map[int64]bool{}
	for _, c := range e.openConcerts() {
		open[c.ID] = true
	}
	return open
}

// patchClosed answers a PATCH on a closed concert: closing again is a no-op; any
// other change is SALE_CLOSED, and reopening is refused.
func (e *Engine) patchClosed(ctx context.Context, c Concert, p QueuePatch) (QueueSettings, error) {
	if p.Closed != nil && !*p.Closed {
		return QueueSettings{}, Errorf(CodeBadRequest, "a closed sale does not reopen")
	}
	if p.AdmitPerSecond != nil || p.MaxActive != nil || p.Paused != nil {
		return QueueSettings{}, ErrSaleClosed
	}
	if !c.Queue.Closed {
		// Closed by its date: record the operator's word too.
		return e.closeSale(ctx, c, c.Queue)
	}
	return c.Queue, nil
}
