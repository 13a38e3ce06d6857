package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// SeatMapView is a schedule's seat map at one instant. Views are shared and
// read-only: the same view may be served for up to seatMapMaxAge, so a rush on a
// 50,000-seat map costs one Redis read per schedule per interval, not per request.
type SeatMapView struct {
	ScheduleID int64
	Price      int64
	Sections   []Section    // the schedule's layout (shared, read-only)
	Seats      []SeatStatus // index = seat number - 1
	At         time.Time
	tags       []byte // HolderTag of each pending seat's holder, index = seat number
	free       []int  // available seats per section of the layout (nil: not counted)
}

// countFree counts the view's available seats in each section of layout.
func (v *SeatMapView) countFree(layout []Section) {
	v.free = make([]int, len(layout))
	n := 0
	for k, sec := range layout {
		for range sec.Rows * sec.SeatsPerRow {
			if n < len(v.Seats) && v.Seats[n] == SeatAvailable {
				v.free[k]++
			}
			n++
		}
	}
}

// freeSeats is the number of available seats in section k (1-based), or in
// every section when k is 0; ok is false when the view has no counts.
func (v *SeatMapView) freeSeats(k int) (n int, ok bool) {
	if v.free == nil || k < 0 || k > len(v.free) {
		return 0, false
	}
	if k > 0 {
		return v.free[k-1], true
	}
	for _, f := range v.free {
		n += f
	}
	return n, true
}

// seatMapMaxAge keeps a held or freed seat visible within well under the contract's
// one second. Holds read a new view from seatViewRenewAge on, in the background,
// so the view they refuse from is replaced before it is too old to use.
const (
	seatMapMaxAge    = 100 * time.Millisecond
	seatViewRenewAge = seatMapMaxAge * 3 / 4
)

func (v *SeatMapView) freshAt(now time.Time) bool {
	return v != nil && now.Sub(v.At) < seatMapMaxAge && !now.Before(v.At)
}

// SeatViews answers a schedule's seat map at now. liveSeatViews reads it from
// the shared state every time; seatViewCache decorates it.
type SeatViews interface {
	// View returns the schedule's seat map at now, for a seat-map request.
	View(ctx context.Context, s Schedule, now time.Time) (*SeatMapView, error)
	// ForHold returns a view a hold on the schedule may be refused from, or nil:
	// ask the shared state.
	ForHold(ctx context.Context, s Schedule, now time.Time) *SeatMapView
	// Forget drops what is kept of the schedule after a change this instance
	// made itself, so its own client sees the change on the next read.
	Forget(scheduleID int64)
}

// liveSeatViews reads every seat map from the shared state and keeps none, so a
// hold always asks the shared state.
type liveSeatViews struct {
	holds Holds
}

// View reads a schedule's seat map from the shared state at now.
func (l liveSeatViews) View(ctx context.Context, s Schedule, now time.Time) (*SeatMapView, error) {
	m, err := l.holds.SeatMap(ctx, s.ConcertID, s.ID, s.SeatCount, now)
	if err != nil {
		return nil, err
	}
	v := &SeatMapView{ScheduleID: s.ID, Price: s.Price, Sections: s.Sections, Seats: make([]SeatStatus, s.SeatCount), At: now, tags: m.Tags}
	for n := 1; n <= s.SeatCount; n++ {
		switch {
		case n < len(m.Sold) && m.Sold[n]:
			v.Seats[n-1] = SeatReserved
		case m.Held(n):
			v.Seats[n-1] = SeatPending
		default:
			v.Seats[n-1] = SeatAvailable
		}
	}
	v.countFree(s.Layout())
	return v, nil
}

func (liveSeatViews) ForHold(context.Context, Schedule, time.Time) *SeatMapView { return nil }

func (liveSeatViews) Forget(int64) {}

// seatViewCache serves each schedule's view for up to seatMapMaxAge: the readers
// that find it stale wait for one of them to read the next from next, and holds
// renew it ahead of its end in the background (ForHold).
type seatViewCache struct {
	next  SeatViews   // reads a view on a miss
	clock clock.Clock // the time a background renewal reads at
	views sync.Map    // schedule id -> *seatMapEntry
}

func newSeatViewCache(next SeatViews, clk clock.Clock) *seatViewCache {
	return &seatViewCache{next: next, clock: clk}
}

type seatMapEntry struct {
	mu   sync.Mutex // one reader refreshes the view; see View and ForHold
	view atomic.Pointer[SeatMapView]
}

// replace stores v, read after old was loaded, unless the view was forgotten in
// the meantime: a change this instance made during the read may be missing from v.
func (en *seatMapEntry) replace(old, v *SeatMapView) { en.view.CompareAndSwap(old, v) }

func (c *seatViewCache) entry(scheduleID int64) *seatMapEntry {
	if e, ok := c.views.Load(scheduleID); ok {
		return e.(*seatMapEntry)
	}
	e, _ := c.views.LoadOrStore(scheduleID, &seatMapEntry{})
	return e.(*seatMapEntry)
}

// View returns the kept view while it is fresh at now. The others wait for the
// reader that reads the next one rather than all read Redis.
func (c *seatViewCache) View(ctx context.Context, s Schedule, now time.Time) (*SeatMapView, error) {
	entry := c.entry(s.ID)
	if v := entry.view.Load(); v.freshAt(now) {
		return v, nil
	}
	entry.mu.Lock()
	defer entry.mu.Unlock()
	return c.refresh(ctx, entry, s, now)
}

// refresh returns a view fresh at now, the caller holding entry.mu: the one
// another reader stored while the caller waited, or one read now.
func (c *seatViewCache) refresh(ctx context.Context, entry *seatMapEntry, s Schedule, now time.Time) (*SeatMapView, error) {
	old := entry.view.Load()
	if old.freshAt(now) {
		return old, nil
	}
	v, err := c.next.View(ctx, s, now)
	if err != nil {
		return nil, err
	}
	entry.replace(old, v)
	return v, nil
}

// ForHold returns a fresh view of the schedule, reading one if none is and no
// other request is reading it already; nil means ask the shared state. A view
// past seatViewRenewAge is still used while one request reads the next in the
// background: were the view let lapse first, every hold would go to Redis for as
// long as the read took.
func (c *seatViewCache) ForHold(ctx context.Context, s Schedule, now time.Time) *SeatMapView {
	entry := c.entry(s.ID)
	old := entry.view.Load()
	if old.freshAt(now) {
		if now.Sub(old.At) >= seatViewRenewAge && entry.mu.TryLock() {
			go c.renew(entry, old, s)
		}
		return old
	}
	if !entry.mu.TryLock() {
		return nil
	}
	defer entry.mu.Unlock()
	v, err := c.refresh(ctx, entry, s, now)
	if err != nil {
		return nil // the hold, asking the shared state, meets the cause itself
	}
	return v
}

// renew reads the next view in the background; the caller holds entry.mu.
func (c *seatViewCache) renew(entry *seatMapEntry, old *SeatMapView, s Schedule) {
	defer entry.mu.Unlock()
	ctx, cancel := background()
	defer cancel()
	if v, err := c.next.View(ctx, s, c.clock.Now()); err == nil {
		entry.replace(old, v)
	}
}

// Forget leaves an empty view, which is never fresh and is a new pointer each
// time, so a read that began before the change cannot replace it (see replace).
func (c *seatViewCache) Forget(scheduleID int64) {
	c.entry(scheduleID).view.Store(&SeatMapView{})
}

// SeatMap returns every seat of a schedule with its status, for an ACTIVE token.
// The token is checked before the schedule is looked up, so only an admitted
// user's unknown schedule ids can reach the catalog.
func (e *Engine) SeatMap(ctx context.Context, t Token, scheduleID int64) (*SeatMapView, error) {
	if scheduleID <= 0 {
		return nil, ErrScheduleNotFound
	}
	now := e.clock.Now()
	if err := e.requireActive(ctx, t, now); err != nil {
		return nil, err
	}
	s, err := e.scheduleFor(ctx, t, scheduleID)
	if err != nil {
		return nil, err
	}
	return e.seatViews.View(ctx, s, now)
}

// forgetSeatMap drops this instance's view of a schedule after a change it made
// itself, so its own client sees the change on the next read.
func (e *Engine) forgetSeatMap(scheduleID int64) { e.seatViews.Forget(scheduleID) }
