package redisstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// layoutFixture is a fixture whose schedule has the given sections, rebuilt as
// the engine leaves a schedule before its first hold; its rows are not loaded
// yet (loadRows, openTo).
func layoutFixture(t testing.TB, b backend, secs ...engine.Section) *fixture {
	t.Helper()
	f := newFixture(t, b)
	f.sched.Sections = secs
	f.sched.SeatCount = 0
	for _, s := range secs {
		f.sched.SeatCount += s.Rows * s.SeatsPerRow
	}
	f.sched.Price = secs[0].Price
	return f
}

func (f *fixture) loadRows() {
	f.t.Helper()
	if err := f.s.LoadRows(f.ctx, f.sched); err != nil {
		f.t.Fatal(err)
	}
}

// openTo loads the rows and lets uids hold: each active until an hour past t0,
// with a hold limit of max.
func (f *fixture) openTo(max int, uids ...int64) {
	f.t.Helper()
	f.loadRows()
	for _, uid := range uids {
		f.activate(uid, t0.Add(time.Hour))
	}
	f.max = max
}

// wantBest holds q seats anywhere for uid at t0 and fails unless they are want;
// what names the hold in the failure.
func (f *fixture) wantBest(uid int64, q int, want []int, what string) []engine.Reservation {
	f.t.Helper()
	rs, err := f.best(uid, q, 0, t0)
	if err != nil || !slices.Equal(seatsOf(rs), want) {
		f.t.Fatalf("%s = %v, %v; want %v", what, seatsOf(rs), err, want)
	}
	return rs
}

// cancel cancels uid's reservation rid at t0.
func (f *fixture) cancel(rid, uid int64) {
	f.t.Helper()
	if _, err := f.s.Cancel(f.ctx, f.c, rid, uid, t0); err != nil {
		f.t.Fatal(err)
	}
}

// best asks for q seats for uid at now in section sec (1-based, 0 = any).
func (f *fixture) best(uid int64, q, sec int, now time.Time) ([]engine.Reservation, error) {
	ids := make([]int64, q)
	for i := range ids {
		id, err := f.s.NextReservationID(f.ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		ids[i] = id
	}
	return f.s.HoldBest(f.ctx, engine.BestRequest{
		Token: f.token(uid), Schedule: f.sched, Section: sec, Quantity: q, ReservationIDs: ids,
		Now: now, Deadline: now.Add(time.Minute), MaxHolds: f.max,
	})
}

func seatsOf(rs []engine.Reservation) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Seat
	}
	return out
}

// bruteBest is the contract's rule written the slow, obvious way: every section
// in order (or only sec), every row front to back, every start in the row; the
// first row with any run wins, and in it the run with no lone seat cut off (if
// any), then the middle nearest the row's, then the leftmost. free[n] for seat n.
func bruteBest(secs []engine.Section, free []bool, q, sec int) []int {
	start := 1
	for k, s := range secs {
		size := s.Rows * s.SeatsPerRow
		if sec == 0 || sec == k+1 {
			for r := 0; r < s.Rows; r++ {
				from, n := start+r*s.SeatsPerRow, s.SeatsPerRow
				isFree := func(j int) bool { return j >= 1 && j <= n && free[from+j-1] }
				best, bestLone, bestDist := 0, false, 0
				for x := 1; x+q-1 <= n; x++ {
					ok := true
					for j := x; j < x+q; j++ {
						ok = ok && isFree(j)
					}
					if !ok {
						continue
					}
					// A lone seat: exactly one free seat before the next taken seat or the row's end.
					lone := (isFree(x-1) && !isFree(x-2)) || (isFree(x+q) && !isFree(x+q+1))
					dist := 2*x + q - n - 2
					if dist < 0 {
						dist = -dist
					}
					if best == 0 || (bestLone && !lone) || (lone == bestLone && dist < bestDist) {
						best, bestLone, bestDist = x, lone, dist
					}
				}
				if best > 0 {
					out := make([]int, q)
					for i := range out {
						out[i] = from + best - 1 + i
					}
					return out
				}
			}
		}
		start += size
	}
	return nil
}

// takeSeats makes the seats unavailable: even ones sold, odd ones held by user 999.
func (f *fixture) takeSeats(seats []int) {
	f.t.Helper()
	var sold []int
	for _, n := range seats {
		if n%2 == 0 {
			sold = append(sold, n)
			continue
		}
		f.activate(999, t0.Add(time.Hour))
		f.max = 1 << 20
		f.mustHold(999, n, t0)
		f.max = 4
	}
	if len(sold) > 0 {
		if err := f.s.MarkSold(f.ctx, f.c, f.sched.ID, sold); err != nil {
			f.t.Fatal(err)
		}
	}
}

// requireRowCounts checks the rows hash against a count made from the sold
// bitmap and the holders: every script that moves a seat must keep it right.
func (f *fixture) requireRowCounts() {
	f.t.Helper()
	k := f.s.keys
	m := f.seatMap(t0.Add(-time.Hour)) // every hold still live: Held is "has a holder"
	got, err := f.rdb.HGetAll(f.ctx, k.rows(f.c, f.sched.ID)).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	want := map[string]string{"L": layoutArg(f.sched)}
	seat, row := 1, 1
	for k, s := range f.sched.Layout() {
		secFree := 0
		for r := 0; r < s.Rows; r++ {
			free := 0
			for range s.SeatsPerRow {
				if !(seat < len(m.Sold) && m.Sold[seat]) && !m.Held(seat) {
					free++
				}
				seat++
			}
			want[strconv.Itoa(row)] = strconv.Itoa(free)
			secFree += free
			row++
		}
		want["s"+strconv.Itoa(k+1)] = strconv.Itoa(secFree)
	}
	for key, w := range want {
		if got[key] != w {
			f.t.Fatalf("rows[%s] = %q, want %q", key, got[key], w)
		}
	}
}

func TestBestRule(t *testing.T) {
	row10 := []engine.Section{{Name: "A", Price: 100, Rows: 3, SeatsPerRow: 10}}
	cases := []struct {
		name  string
		secs  []engine.Section
		taken []int
		q     int
		sec   int
		want  []int // nil: SEATS_UNAVAILABLE
	}{
		{"empty row: the middle", row10, nil, 2, 0, []int{5, 6}},
		{"odd run in even row: middle, then left", row10, nil, 3, 0, []int{4, 5, 6}},
		{"one seat: left of the middle", row10, nil, 1, 0, []int{5}},
		{"whole row", row10, nil, 10, 0, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"front row full: the next", row10, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2, 0, []int{15, 16}},
		{"front row fragmented: the next", row10, []int{2, 4, 6, 8, 10}, 2, 0, []int{15, 16}},
		{"middle taken: nearest the middle, no lone seat", row10, []int{5, 6}, 2, 0, []int{3, 4}},
		// Free 1-4 and 7-10: 3-4 would leave seat... none lone (1,2 free = two); 7-8 leaves 9,10.
		{"middle taken, three", row10, []int{5, 6}, 3, 0, []int{2, 3, 4}},
		// Free 2..10 (seat 1 taken): 5-6 leaves 2-4 and 7-10, no lone seat.
		{"first seat taken", row10, []int{1}, 2, 0, []int{5, 6}},
		// Free 1..3 only (4..10 taken): 2-3 leaves seat 1 alone; 1-2 leaves seat 3 alone: both lone, nearest middle wins.
		{"only lone choices", row10, []int{4, 5, 6, 7, 8, 9, 10}, 2, 0, []int{2, 3}},
		// Free 1..4 and 7..10 with q=3: 2-4 leaves 1 alone, 1-3 leaves 4 alone, 8-10 leaves 7, 7-9 leaves 10: all lone;
		// nearest the middle (5.5): 2-4 (middle 3) and 7-9 (middle 8) tie at 2.5: the left one.
		{"all lone, tie goes left", row10, []int{5, 6}, 3, 0, []int{2, 3, 4}},
		// Free 3..7: 4-5 leaves 3 alone and 5-6 leaves 7 alone, though their middles
		// are nearest; 3-4 and 6-7 leave three free, and 6-7 is nearer the middle.
		{"avoid the lone seat over the middle", row10, []int{1, 2, 8, 9, 10}, 2, 0, []int{6, 7}},
		{"too long for any row", row10, nil, 11, 0, nil},
		{"sold out", row10, seq(1, 30), 1, 0, nil},
		{"named section", []engine.Section{
			{Name: "VIP", Price: 300, Rows: 1, SeatsPerRow: 4}, {Name: "R", Price: 100, Rows: 2, SeatsPerRow: 6}},
			nil, 2, 2, []int{7, 8}},
		{"first section full: the next one", []engine.Section{
			{Name: "VIP", Price: 300, Rows: 1, SeatsPerRow: 4}, {Name: "R", Price: 100, Rows: 2, SeatsPerRow: 6}},
			[]int{1, 2, 3, 4}, 2, 0, []int{7, 8}},
		{"section narrower than the run: skipped", []engine.Section{
			{Name: "Box", Price: 300, Rows: 5, SeatsPerRow: 2}, {Name: "R", Price: 100, Rows: 1, SeatsPerRow: 5}},
			nil, 3, 0, []int{11, 12, 13}}, // 12-14 would leave 11 and 15 alone; 11-13 and 13-15 tie: left
		{"named section full", []engine.Section{
			{Name: "VIP", Price: 300, Rows: 1, SeatsPerRow: 4}, {Name: "R", Price: 100, Rows: 2, SeatsPerRow: 6}},
			[]int{1, 2, 3, 4}, 2, 1, nil},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := layoutFixture(t, b, tc.secs...)
				f.takeSeats(tc.taken)
				f.openTo(max(tc.q, 4), 1)
				rs, err := f.best(1, tc.q, tc.sec, t0)
				if tc.want == nil {
					wantErr(t, err, engine.ErrSeatsUnavailable)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := seatsOf(rs); !slices.Equal(got, tc.want) {
					t.Fatalf("seats %v, want %v", got, tc.want)
				}
				for _, r := range rs {
					if r.Price != f.sched.SeatPrice(r.Seat) || r.State != engine.ReservationPending || r.UserID != 1 {
						t.Fatalf("reservation %+v", r)
					}
					// The same records as hold.lua's: readable, and cancellable.
					if got, err := f.s.Reservation(f.ctx, f.c, r.ID, t0); err != nil || got != r {
						t.Fatalf("Reservation(%d) = %+v, %v; want %+v", r.ID, got, err, r)
					}
				}
				f.requireHolderInvariant()
				f.requireRowCounts()
				f.cancel(rs[0].ID, 1)
				f.requireRowCounts()
			})
		}
	})
}

func seq(a, b int) []int {
	var out []int
	for n := a; n <= b; n++ {
		out = append(out, n)
	}
	return out
}

// TestBestAgainstBruteForce runs best.lua over random layouts and random taken
// seats and compares its choice with bruteBest's.
func TestBestAgainstBruteForce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		rounds := 150
		if testing.Short() {
			rounds = 30
		}
		for i := range rounds {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			var secs []engine.Section
			for k := range 1 + rng.IntN(3) {
				secs = append(secs, engine.Section{Name: fmt.Sprint("S", k), Price: int64(100 * (k + 1)),
					Rows: 1 + rng.IntN(4), SeatsPerRow: 1 + rng.IntN(12)})
			}
			f := layoutFixture(t, b, secs...)
			density := rng.Float64()
			var taken []int
			for n := 1; n <= f.sched.SeatCount; n++ {
				if rng.Float64() < density {
					taken = append(taken, n)
				}
			}
			f.takeSeats(taken)
			f.loadRows()
			// Half the time a lapsed hold (past its deadline) must read as free.
			lapsedAt := t0
			if i%2 == 1 {
				lapsedAt = t0.Add(2 * time.Minute)
			}
			free := make([]bool, f.sched.SeatCount+1)
			for n := 1; n <= f.sched.SeatCount; n++ {
				free[n] = !slices.Contains(taken, n) || (n%2 == 1 && lapsedAt.After(t0))
			}
			q := 1 + rng.IntN(4)
			sec := rng.IntN(len(secs) + 1)
			f.activate(1, lapsedAt.Add(time.Hour))
			want := bruteBest(secs, free, q, sec)
			rs, err := f.best(1, q, sec, lapsedAt)
			if want == nil {
				if !errors.Is(err, engine.ErrSeatsUnavailable) {
					t.Fatalf("round %d: %v taken %v q=%d sec=%d: got %v %v, want SEATS_UNAVAILABLE", i, secs, taken, q, sec, seatsOf(rs), err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if got := seatsOf(rs); !slices.Equal(got, want) {
				t.Fatalf("round %d: %v taken %v q=%d sec=%d: got %v, want %v", i, secs, taken, q, sec, got, want)
			}
			f.requireHolderInvariant()
		}
	})
}

// TestBestRacePairs: many buyers ask for pairs at once; no seat is given twice,
// every pair is two adjacent seats of one row, and the counts stay right.
func TestBestRacePairs(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := layoutFixture(t, b,
			engine.Section{Name: "VIP", Price: 300, Rows: 3, SeatsPerRow: 7},
			engine.Section{Name: "R", Price: 100, Rows: 10, SeatsPerRow: 9})
		f.loadRows()
		const users = 80
		for uid := int64(1); uid <= users; uid++ {
			f.activate(uid, t0.Add(time.Hour))
		}
		var mu sync.Mutex
		var got [][]engine.Reservation
		var unavailable atomic.Int64
		atOnce(users, func(i int) {
			uid := int64(i + 1)
			rs, err := f.best(uid, 2, 0, t0)
			switch {
			case err == nil:
				mu.Lock()
				got = append(got, rs)
				mu.Unlock()
			case errors.Is(err, engine.ErrSeatsUnavailable):
				unavailable.Add(1)
			default:
				t.Errorf("user %d: %v", uid, err)
			}
		})
		owner := map[int]int64{}
		for _, rs := range got {
			if len(rs) != 2 {
				t.Fatalf("got %d seats", len(rs))
			}
			a, _ := f.sched.Place(rs[0].Seat)
			c, _ := f.sched.Place(rs[1].Seat)
			if rs[1].Seat != rs[0].Seat+1 || a.Section != c.Section || a.Row != c.Row {
				t.Fatalf("seats %d and %d are not side by side in a row (%+v, %+v)", rs[0].Seat, rs[1].Seat, a, c)
			}
			for _, r := range rs {
				if o, dup := owner[r.Seat]; dup {
					t.Fatalf("seat %d given to %d and %d", r.Seat, o, r.UserID)
				}
				owner[r.Seat] = r.UserID
			}
		}
		// 3 rows of 7 fit 3 pairs each, 10 rows of 9 fit 4: 49 pairs in all.
		if len(got) != 49 || unavailable.Load() != users-49 {
			t.Fatalf("%d pairs held, %d refused; want 49 and %d", len(got), unavailable.Load(), users-49)
		}
		f.requireHolderInvariant()
		f.requireRowCounts()
	})
}

// TestBestLimits: the hold limit and the ticket limit (held plus bought) are
// kept by best.lua and hold.lua alike, also when one user asks many times at once.
func TestBestLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := layoutFixture(t, b, engine.Section{Name: "A", Price: 100, Rows: 10, SeatsPerRow: 10})
		f.openTo(10, 1)
		if err := f.rdb.HSet(f.ctx, f.s.keys.cfg(f.c), "maxTickets", 5).Err(); err != nil {
			t.Fatal(err)
		}
		if err := f.rdb.HSet(f.ctx, f.s.keys.bought(f.c), 1, 2).Err(); err != nil {
			t.Fatal(err)
		}
		// Two bought: at most three more, whatever mix of holds and best runs at once.
		var held atomic.Int64
		atOnce(30, func(i int) {
			if i%2 == 0 {
				rs, err := f.best(1, 1+i%3, 0, t0)
				if err == nil {
					held.Add(int64(len(rs)))
				} else if !errors.Is(err, engine.ErrTicketLimitReached) && !errors.Is(err, engine.ErrSeatsUnavailable) {
					t.Errorf("best: %v", err)
				}
				return
			}
			r, err := f.hold(1, 1+i, t0)
			if err == nil && r.Created {
				held.Add(1)
			} else if err != nil && !errors.Is(err, engine.ErrTicketLimitReached) {
				// (err == nil, not created: a best run above already gave user 1 this seat.)
				t.Errorf("hold: %v", err)
			}
		})
		if n := f.liveHolds(1); held.Load() > 3 || n != held.Load() {
			t.Fatalf("held %d (user holds %d), want at most 3", held.Load(), n)
		}
		f.max = 2
		if _, err := f.best(1, 3, 0, t0); !errors.Is(err, engine.ErrHoldLimitReached) {
			t.Fatalf("3 seats past a hold limit of 2: %v", err)
		}
		f.requireRowCounts()
	})
}

// TestBestRowsFollowEveryScript: hold, best, cancel, release, payment and
// mark_sold each keep the row counts right.
func TestBestRowsFollowEveryScript(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := layoutFixture(t, b, engine.Section{Name: "A", Price: 100, Rows: 4, SeatsPerRow: 5},
			engine.Section{Name: "B", Price: 50, Rows: 2, SeatsPerRow: 3})
		f.openTo(20, 1, 2)
		r1 := f.mustHold(1, 3, t0)
		f.requireRowCounts()
		rs, err := f.best(2, 3, 2, t0)
		if err != nil {
			t.Fatal(err)
		}
		f.requireRowCounts()
		f.cancel(rs[1].ID, 2)
		f.requireRowCounts()
		// Pay for seat 3.
		r, err := f.s.BeginPayment(f.ctx, f.token(1), r1.ID, t0, t0.Add(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.CompletePayment(f.ctx, r, t0); err != nil {
			t.Fatal(err)
		}
		f.requireRowCounts()
		if n, _ := f.rdb.HGet(f.ctx, f.s.keys.bought(f.c), "1").Int(); n != 1 {
			t.Fatalf("bought = %d, want 1", n)
		}
		// A retry of the same completion counts nothing more.
		if _, err := f.s.CompletePayment(f.ctx, r, t0); err != nil {
			t.Fatal(err)
		}
		if n, _ := f.rdb.HGet(f.ctx, f.s.keys.bought(f.c), "1").Int(); n != 1 {
			t.Fatalf("bought after a retry = %d, want 1", n)
		}
		// Expiry: the remaining best holds lapse and the sweeper releases them.
		later := t0.Add(2 * time.Minute)
		exp, err := f.s.Expired(f.ctx, f.c, f.sched.ID, later, 100)
		if err != nil || len(exp) != 2 {
			t.Fatalf("expired %v, %v; want 2", exp, err)
		}
		for _, h := range exp {
			if err := f.s.Release(f.ctx, h, later); err != nil {
				t.Fatal(err)
			}
		}
		f.requireRowCounts()
		if err := f.s.MarkSold(f.ctx, f.c, f.sched.ID, []int{1, 3, 21, 22}); err != nil {
			t.Fatal(err)
		}
		f.requireRowCounts()
		// Loading again changes nothing; after a loss, loading counts afresh.
		f.loadRows()
		f.requireRowCounts()
		if err := f.rdb.Del(f.ctx, f.s.keys.rows(f.c, f.sched.ID)).Err(); err != nil {
			t.Fatal(err)
		}
		ids, err := f.s.reservationIDs(f.ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.holdBest(f.ctx, engine.BestRequest{
			Token: f.token(1), Schedule: f.sched, Quantity: 1, ReservationIDs: ids,
			Now: t0, Deadline: t0.Add(time.Minute), MaxHolds: f.max,
		}); !errors.Is(err, errNotRebuilt) {
			t.Fatalf("best without rows: %v, want errNotRebuilt", err)
		}
		f.loadRows()
		f.requireRowCounts()
	})
}

func BenchmarkBest50k(b *testing.B) {
	f := layoutFixture(b, realBackend(b),
		engine.Section{Name: "VIP", Price: 300, Rows: 50, SeatsPerRow: 100},
		engine.Section{Name: "R", Price: 100, Rows: 450, SeatsPerRow: 100})
	f.loadRows()
	f.max = 1 << 30
	const users = 1000
	for uid := int64(1); uid <= users; uid++ {
		f.activate(uid, t0.Add(time.Hour))
	}
	b.ResetTimer()
	var i atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := i.Add(1)
			// Spread over the schedule's front half: plenty of seats left.
			_, err := f.best(1+n%users, 2, 0, t0)
			if err != nil && !errors.Is(err, engine.ErrSeatsUnavailable) {
				b.Fatal(err)
			}
		}
	})
}

// TestBestRowWithoutARun: a row whose free seats are all apart is marked and
// passed over; once one of its seats is freed (here a cancel joins 4, 5 and 6) it
// is read again and wins, as the front row.
func TestBestRowWithoutARun(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := layoutFixture(t, b, engine.Section{Name: "A", Price: 100, Rows: 3, SeatsPerRow: 10})
		f.openTo(20, 1, 2)
		var five engine.Reservation
		for _, seat := range []int{1, 3, 5, 7, 9} {
			r := f.mustHold(1, seat, t0)
			if seat == 5 {
				five = r
			}
		}
		for _, want := range [][]int{{15, 16}, {13, 14}} { // row 1 (2, 4, 6, 8, 10 free) has no pair
			f.wantBest(2, 2, want, "best pair")
		}
		if m, err := f.rdb.HGet(f.ctx, f.s.keys.rows(f.c, f.sched.ID), "m1").Result(); err != nil || m != "1" {
			t.Fatalf("row 1's longest run = %q, %v; want it marked 1", m, err)
		}
		f.cancel(five.ID, 1)
		f.wantBest(2, 2, []int{5, 6}, "best pair after seat 5 was freed")
		f.requireRowCounts()
	})
}

// front reads f1: section 1's row per quantity before which no run of it is left.
func (f *fixture) front() string {
	f.t.Helper()
	v, err := f.rdb.HGet(f.ctx, f.s.keys.rows(f.c, f.sched.ID), "f1").Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// TestBestSkipsTheFullFront: once the front rows are full, f1 points past them;
// a cancel in a front row moves it back, and that row's seats are offered again.
func TestBestSkipsTheFullFront(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := layoutFixture(t, b, engine.Section{Name: "A", Price: 100, Rows: 3, SeatsPerRow: 4})
		f.openTo(20, 2)
		var first []engine.Reservation
		for _, want := range [][]int{{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}} {
			rs := f.wantBest(2, 2, want, "best pair")
			if first == nil {
				first = rs
			}
		}
		if got := f.front(); got != "1,3" {
			t.Fatalf("f1 = %s with rows 1 and 2 full, want 1,3 (no pair before row 3)", got)
		}
		f.cancel(first[0].ID, 2)
		f.cancel(first[1].ID, 2)
		if got := f.front(); got != "1,1" {
			t.Fatalf("f1 = %s after seats 1 and 2 were freed, want 1,1", got)
		}
		f.wantBest(2, 2, []int{1, 2}, "best pair after the cancels")
		f.requireRowCounts()
	})
}

// TestBestPointerPerQuantity: rows left with only lone seats are passed over by
// pairs for good (f1's pair row moves past the section) but still serve single
// seats, front row first; a cancel brings pairs back to the front row.
func TestBestPointerPerQuantity(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := layoutFixture(t, b, engine.Section{Name: "A", Price: 100, Rows: 3, SeatsPerRow: 3})
		f.openTo(20, 2)
		first := f.wantBest(2, 2, []int{1, 2}, "pair in row 1")
		f.wantBest(2, 2, []int{4, 5}, "pair in row 2")
		f.wantBest(2, 2, []int{7, 8}, "pair in row 3")
		if _, err := f.best(2, 2, 0, t0); !errors.Is(err, engine.ErrSeatsUnavailable) {
			t.Fatalf("a fourth pair: %v, want SEATS_UNAVAILABLE", err)
		}
		if got := f.front(); got != "1,4" {
			t.Fatalf("f1 = %s with only lone seats left, want 1,4 (no pair in rows 1-3)", got)
		}
		f.wantBest(2, 1, []int{3}, "single seat, front row")
		f.wantBest(2, 1, []int{6}, "single seat, next row")
		if got := f.front(); got != "2,4" {
			t.Fatalf("f1 = %s after row 1's lone seat went, want 2,4", got)
		}
		f.cancel(first[0].ID, 2)
		if got := f.front(); got != "1,1" {
			t.Fatalf("f1 = %s after seat 1 was freed, want 1,1", got)
		}
		f.cancel(first[1].ID, 2)
		f.wantBest(2, 2, []int{1, 2}, "pair after the cancels")
		f.requireRowCounts()
	})
}

// TestLoadBought: the ledger's counts are loaded once; a later load (another
// schedule's rebuild) leaves the counts that payments have moved since alone.
func TestLoadBought(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		if err := f.s.LoadBought(f.ctx, f.c, map[int64]int{1: 2, 2: 1}); err != nil {
			t.Fatal(err)
		}
		if err := f.rdb.HIncrBy(f.ctx, f.s.keys.bought(f.c), "1", 1).Err(); err != nil {
			t.Fatal(err)
		}
		if err := f.s.LoadBought(f.ctx, f.c, map[int64]int{1: 2, 2: 1}); err != nil {
			t.Fatal(err)
		}
		got, err := f.rdb.HGetAll(f.ctx, f.s.keys.bought(f.c)).Result()
		if err != nil || got["1"] != "3" || got["2"] != "1" {
			t.Fatalf("bought = %v, %v; want 1:3 2:1", got, err)
		}
	})
}

// TestBestBatchDecidesInOrder runs one best.lua call for requests that depend on
// each other: each must be decided as if it ran alone after the ones before it,
// including a lapsed hold taken by the first, which no later one may take again.
func TestBestBatchDecidesInOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := layoutFixture(t, b, engine.Section{Name: "A", Price: 100, Rows: 2, SeatsPerRow: 4})
		f.openTo(3, 1, 2, 5)
		f.wait(3)
		f.mustHold(5, 1, t0) // both lapse a minute later: free for the batch below
		f.mustHold(5, 2, t0)
		now := t0.Add(2 * time.Minute)

		cases := []struct {
			uid   int64
			q     int
			seats []int
			err   error
		}{
			{uid: 1, q: 2, seats: []int{1, 2}}, // row 1 whole again: the lapsed seats go
			{uid: 2, q: 2, seats: []int{3, 4}}, // and only once
			{uid: 3, q: 1, err: engine.ErrNotAdmitted},
			{uid: 2, q: 1, seats: []int{5}},                 // row 2: a left end, not a lone seat's maker
			{uid: 2, q: 1, err: engine.ErrHoldLimitReached}, // f.max is 3
			{uid: 1, q: 1, seats: []int{6}},
			{uid: 5, q: 2, seats: []int{7, 8}}, // its lapsed holds count no more
			{uid: 5, q: 1, err: engine.ErrSeatsUnavailable},
		}
		batch := make([]*bestCall, len(cases))
		for i, c := range cases {
			ids, err := f.s.reservationIDs(f.ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			batch[i] = &bestCall{req: engine.BestRequest{
				Token: f.token(c.uid), Schedule: f.sched, Quantity: c.q, ReservationIDs: ids,
				Now: now, Deadline: now.Add(time.Minute), MaxHolds: f.max,
			}}
		}
		f.s.runBests(f.sched.ID, batch)

		for i, c := range cases {
			got := batch[i]
			if c.err != nil {
				if !errors.Is(got.err, c.err) {
					t.Errorf("case %d (user %d, %d seats): %v, %v; want %v", i, c.uid, c.q, seatsOf(got.res), got.err, c.err)
				}
				continue
			}
			if got.err != nil || !slices.Equal(seatsOf(got.res), c.seats) {
				t.Errorf("case %d (user %d, %d seats): %v, %v; want %v", i, c.uid, c.q, seatsOf(got.res), got.err, c.seats)
				continue
			}
			for j, r := range got.res {
				if r.ID != got.req.ReservationIDs[j] || r.UserID != c.uid || f.state(r.ID, now) != engine.ReservationPending {
					t.Errorf("case %d: reservation %+v is not the user's PENDING hold %d", i, r, got.req.ReservationIDs[j])
				}
			}
		}
		m := f.seatMap(now)
		for seat := 1; seat <= 8; seat++ {
			if !m.Held(seat) {
				t.Errorf("seat %d is free, want held", seat)
			}
		}
		f.requireRowCounts()
	})
}

// TestRowsAreAHashTable: a schedule of a few hundred rows has fewer fields than
// Redis's listpack limit, and as a listpack every row count read would walk the
// whole hash; rows.lua keeps it a hash table. (miniredis has no encodings.)
func TestRowsAreAHashTable(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := layoutFixture(t, b, engine.Section{Name: "A", Price: 100, Rows: 20, SeatsPerRow: 10})
		f.loadRows()
		if !b.real {
			return
		}
		enc, err := f.rdb.ObjectEncoding(f.ctx, f.s.keys.rows(f.c, f.sched.ID)).Result()
		if err != nil || enc != "hashtable" {
			t.Fatalf("rows encoding = %q, %v; want hashtable", enc, err)
		}
	})
}
