package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// countingViews is a shared state that counts the seat maps read from it. Each
// read is a new view at the time asked, so a test can tell one read from another.
// A read waits for release when that is set, and says it began on started.
type countingViews struct {
	reads   atomic.Int64
	err     error
	started chan struct{}
	release chan struct{}
}

func (v *countingViews) View(_ context.Context, s Schedule, now time.Time) (*SeatMapView, error) {
	v.reads.Add(1)
	if v.started != nil {
		v.started <- struct{}{}
	}
	if v.release != nil {
		<-v.release
	}
	if v.err != nil {
		return nil, v.err
	}
	return &SeatMapView{ScheduleID: s.ID, Seats: make([]SeatStatus, s.SeatCount), At: now}, nil
}

// The cache asks next only for View, whatever it is asked.
func (*countingViews) ForHold(context.Context, Schedule, time.Time) *SeatMapView {
	panic("the cache asked next for a hold's view")
}

func (*countingViews) Forget(int64) { panic("the cache passed a forget through") }

var viewsAt = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func viewSchedule(id int64) Schedule { return Schedule{ID: id, ConcertID: 1, SeatCount: 10} }

// A seat map asked twice: the second from memory while the first view is fresh,
// else from next.
func TestSeatViewCacheView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		after     time.Duration // when the second request comes
		other     bool          // the second asks for another schedule
		forget    bool          // this instance changed the schedule in between
		err       error
		wantReads int64
	}{
		{name: "a moment later: from memory", after: time.Millisecond, wantReads: 1},
		{name: "just under the age: from memory", after: seatMapMaxAge - 1, wantReads: 1},
		{name: "at the age: read again", after: seatMapMaxAge, wantReads: 2},
		{name: "the clock went back: read again", after: -time.Millisecond, wantReads: 2},
		{name: "another schedule: read", after: time.Millisecond, other: true, wantReads: 2},
		{name: "changed here since: read again", after: time.Millisecond, forget: true, wantReads: 2},
		{name: "a failed read is not kept", after: time.Millisecond, err: ErrUnavailable, wantReads: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := &countingViews{err: tc.err}
			c := newSeatViewCache(next, clock.NewSimulated(viewsAt))
			first, err := c.View(ctx, viewSchedule(1), viewsAt)
			if err != tc.err {
				t.Fatalf("first view: %v, want %v", err, tc.err)
			}
			second := viewSchedule(1)
			if tc.other {
				second = viewSchedule(2)
			}
			if tc.forget {
				c.Forget(1)
			}
			got, err := c.View(ctx, second, viewsAt.Add(tc.after))
			if err != tc.err {
				t.Fatalf("second view: %v, want %v", err, tc.err)
			}
			if n := next.reads.Load(); n != tc.wantReads {
				t.Fatalf("%d reads from the shared state, want %d", n, tc.wantReads)
			}
			if fromMemory := err == nil && got == first; fromMemory != (tc.wantReads == 1) {
				t.Fatalf("second view from memory: %v, want %v", fromMemory, tc.wantReads == 1)
			}
		})
	}
}

// Many requests for a stale view at once read it once: the others wait for it.
func TestSeatViewCacheReadsOnceForMany(t *testing.T) {
	t.Parallel()
	next := &countingViews{}
	c := newSeatViewCache(next, clock.NewSimulated(viewsAt))
	var wg sync.WaitGroup
	views := make([]*SeatMapView, 16)
	for i := range views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.View(context.Background(), viewSchedule(1), viewsAt)
			if err != nil {
				t.Error(err)
			}
			views[i] = v
		}()
	}
	wg.Wait()
	if n := next.reads.Load(); n != 1 {
		t.Fatalf("%d reads for 16 requests at once, want 1", n)
	}
	for _, v := range views[1:] {
		if v != views[0] {
			t.Fatal("requests at once got different views")
		}
	}
}

// A view read while this instance changed the schedule may miss the change: it is
// not kept, and the next request reads again.
func TestSeatViewCacheForgetWinsOverARead(t *testing.T) {
	t.Parallel()
	next := &countingViews{started: make(chan struct{}), release: make(chan struct{})}
	c := newSeatViewCache(next, clock.NewSimulated(viewsAt))
	done := make(chan error)
	go func() {
		_, err := c.View(context.Background(), viewSchedule(1), viewsAt)
		done <- err
	}()
	<-next.started
	c.Forget(1)
	close(next.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	go func() { <-next.started }()
	if _, err := c.View(context.Background(), viewSchedule(1), viewsAt.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n := next.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2: the read that raced the change was kept", n)
	}
}

// A hold asks for a view without waiting: a fresh one from memory, renewed in the
// background once past seatViewRenewAge; none when another request is reading it.
func TestSeatViewCacheForHold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		kept      time.Duration // the age of the view kept; < 0: none
		busy      bool          // another request is reading the view
		err       error
		wantView  bool
		wantReads int64 // including the background renewal
	}{
		{name: "none kept: read now", kept: -1, wantView: true, wantReads: 1},
		{name: "fresh: from memory", kept: seatViewRenewAge - 1, wantView: true, wantReads: 0},
		{name: "past the renewal age: from memory, renewed behind", kept: seatViewRenewAge, wantView: true, wantReads: 1},
		{name: "too old: read now", kept: seatMapMaxAge, wantView: true, wantReads: 1},
		{name: "too old while another reads: none", kept: seatMapMaxAge, busy: true, wantReads: 0},
		{name: "past the renewal age while another reads: from memory", kept: seatViewRenewAge, busy: true, wantView: true, wantReads: 0},
		{name: "a failed read: none", kept: -1, err: ErrUnavailable, wantReads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := &countingViews{err: tc.err}
			clk := clock.NewSimulated(viewsAt)
			c := newSeatViewCache(next, clk)
			now := viewsAt
			var kept *SeatMapView
			if tc.kept >= 0 {
				kept = &SeatMapView{ScheduleID: 1, Seats: make([]SeatStatus, 10), At: viewsAt.Add(-tc.kept)}
				c.entry(1).view.Store(kept)
			}
			if tc.busy {
				c.entry(1).mu.Lock()
			}
			v := c.ForHold(ctx, viewSchedule(1), now)
			if (v != nil) != tc.wantView {
				t.Fatalf("view %v, want one: %v", v != nil, tc.wantView)
			}
			if v != nil && tc.kept >= 0 && tc.kept < seatMapMaxAge && v != kept {
				t.Fatal("a fresh view was not the one kept")
			}
			if tc.busy {
				c.entry(1).mu.Unlock()
			}
			// A renewal in the background holds the entry's lock until it is done:
			// the reads are counted once the lock is free.
			c.entry(1).mu.Lock()
			n := next.reads.Load()
			c.entry(1).mu.Unlock()
			if n != tc.wantReads {
				t.Fatalf("%d reads from the shared state, want %d", n, tc.wantReads)
			}
			if tc.wantReads == 1 && tc.err == nil {
				if got := c.entry(1).view.Load(); got == kept || !got.At.Equal(clk.Now()) {
					t.Fatalf("the view kept is %+v, want the one read at %v", got, clk.Now())
				}
			}
		})
	}
}

// liveSeatViews reads every view from the Holds role and keeps none: a hold
// asks the shared state.
func TestLiveSeatViewsReadEveryTime(t *testing.T) {
	t.Parallel()
	h := &mapHolds{m: SeatMap{Sold: []bool{false, false, true}, Tags: []byte{0, 0, 0, 9, 0}}}
	l := liveSeatViews{holds: h}
	s := Schedule{ID: 1, ConcertID: 1, SeatCount: 5, Price: 100}
	for i := range 2 {
		v, err := l.View(context.Background(), s, viewsAt)
		if err != nil {
			t.Fatal(err)
		}
		want := []SeatStatus{SeatAvailable, SeatReserved, SeatPending, SeatAvailable, SeatAvailable}
		for n, st := range want {
			if v.Seats[n] != st {
				t.Fatalf("read %d: seat %d is %v, want %v", i, n+1, v.Seats[n], st)
			}
		}
	}
	if l.ForHold(context.Background(), s, viewsAt) != nil {
		t.Fatal("liveSeatViews gave a hold a view")
	}
	l.Forget(1)
	if n := h.reads.Load(); n != 2 {
		t.Fatalf("%d seat map reads, want 2", n)
	}
}

// mapHolds is a shared state that answers every seat map with m, makes every
// hold, and counts both.
type mapHolds struct {
	Holds
	m            SeatMap
	reads, holds atomic.Int64
}

func (h *mapHolds) Hold(context.Context, HoldRequest) (HoldResult, error) {
	h.holds.Add(1)
	return HoldResult{Created: true}, nil
}

func (h *mapHolds) SeatMap(context.Context, int64, int64, int, time.Time) (SeatMap, error) {
	h.reads.Add(1)
	return h.m, nil
}
