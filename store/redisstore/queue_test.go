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

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

func TestQueuePositions(t *testing.T) {
	for _, n := range []int64{1, 2, 25} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			eachQueueBackend(t, func(t *testing.T, q *qfix) {
				for uid := int64(1); uid <= n; uid++ {
					r := q.enter(uid, t0.Add(time.Duration(uid)*time.Millisecond))
					if r.Reused || r.Gen != uid || r.Status.State != engine.TokenWaiting || r.Status.Rank+1 != uid {
						t.Fatalf("enter %d: %+v, want new WAITING at position %d", uid, r, uid)
					}
				}
				for uid := int64(1); uid <= n; uid++ {
					q.wantState(uid, t0.Add(time.Second), engine.TokenWaiting, uid-1)
				}
			})
		})
	}
}

func TestEnterConcurrentRanks(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		const workers, per = 50, 10
		ranks, gens := make([]int64, workers*per), make([]int64, workers*per)
		errs := make(chan error, workers)
		atOnce(workers, func(w int) {
			for i := range per {
				uid := int64(w*per + i + 1)
				r, err := q.s.Enter(q.ctx, q.c, uid, t0, qIdle, -1)
				if err != nil {
					errs <- err
					return
				}
				ranks[uid-1], gens[uid-1] = r.Status.Rank, r.Gen
			}
		})
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantPermutation(t, ranks, 0)
		// Arrival scores are exact: 2^52+1, 2^52+2, ... with no digit lost in Lua.
		zs, err := q.rdb.ZRangeWithScores(q.ctx, q.s.keys.wait(q.c), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, z := range zs {
			if z.Score != float64(maxPreQueueScore+i+1) {
				t.Fatalf("score %d is %v, want 2^52+%d", i, z.Score, i+1)
			}
		}
		// Each rank at entry is final: nobody can enter ahead of an arrival.
		q.gens = map[int64]int64{}
		for uid := int64(1); uid <= workers*per; uid++ {
			q.gens[uid] = gens[uid-1]
			q.wantState(uid, t0.Add(time.Second), engine.TokenWaiting, ranks[uid-1])
		}
	})
}

// wantPermutation fails unless ranks are exactly from..from+len-1 in some order.
func wantPermutation(t *testing.T, ranks []int64, from int64) {
	t.Helper()
	got := slices.Sorted(slices.Values(ranks))
	for i, r := range got {
		if r != from+int64(i) {
			t.Fatalf("ranks are not %d..%d: sorted %v", from, from+int64(len(ranks))-1, got)
		}
	}
}

func TestEnterReuse(t *testing.T) {
	at := t0.Add(time.Minute)
	cases := []struct {
		name       string
		setup      func(q *qfix) // user 1 entered at t0; the second Enter is at `at` unless idle
		second     time.Time
		wantReused bool
		wantState  engine.TokenState
	}{
		{name: "waiting", second: at, wantReused: true, wantState: engine.TokenWaiting},
		{name: "active", setup: func(q *qfix) { q.admit(t0.Add(time.Second)) },
			second: at, wantReused: true, wantState: engine.TokenActive},
		{name: "idle", second: t0.Add(qIdle), wantState: engine.TokenWaiting},
		{name: "expired by status", setup: func(q *qfix) {
			q.wantState(1, t0.Add(qIdle), engine.TokenExpired, 0)
		}, second: t0.Add(qIdle), wantState: engine.TokenWaiting},
		{name: "lease ran out", setup: func(q *qfix) { q.admit(t0.Add(time.Second)) },
			second: t0.Add(time.Second + qParams.ActiveTTL), wantState: engine.TokenWaiting},
		{name: "done", setup: func(q *qfix) {
			q.admit(t0.Add(time.Second))
			// What pay_complete.lua does when the user paid for everything.
			q.markDone(1)
			q.rdb.ZRem(q.ctx, q.s.keys.active(q.c), "1")
		}, second: at, wantState: engine.TokenWaiting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachQueueBackend(t, func(t *testing.T, q *qfix) {
				// The bucket starts empty at the first step after opening.
				q.admit(t0)
				first := q.enter(1, t0)
				if tc.setup != nil {
					tc.setup(q)
				}
				r := q.enter(1, tc.second)
				// A new gen comes from the arrival counter: never one a token had before.
				if r.Reused != tc.wantReused || (r.Gen == first.Gen) != tc.wantReused || r.Gen < first.Gen || r.Status.State != tc.wantState {
					t.Fatalf("second enter %+v after %+v, want reused=%v %s", r, first, tc.wantReused, tc.wantState)
				}
				if tc.wantReused && !r.IssuedAt.Equal(first.IssuedAt) {
					t.Fatalf("reused token issued at %v, first at %v", r.IssuedAt, first.IssuedAt)
				}
				if !tc.wantReused && !r.IssuedAt.Equal(tc.second) {
					t.Fatalf("new token issued at %v, want %v", r.IssuedAt, tc.second)
				}
				if tc.wantReused {
					return
				}
				if st := q.status(1, first.Gen, tc.second); st.State != engine.TokenExpired {
					t.Fatalf("old gen reads %+v, want EXPIRED", st)
				}
				// The new token waits afresh: no lease carries over from the old one.
				if st := q.status(1, r.Gen, tc.second); st.State != engine.TokenWaiting || st.Rank != 0 {
					t.Fatalf("new gen reads %+v, want WAITING rank 0", st)
				}
				// A lease left over from the old token would take the new one's record
				// with it at the next admission step (admit.lua forgets lapsed leases).
				q.admit(tc.second)
				if st := q.status(1, r.Gen, tc.second); st.State == engine.TokenExpired {
					t.Fatalf("new gen reads %+v after an admission step", st)
				}
				if n, err := q.rdb.ZCard(q.ctx, q.s.keys.active(q.c)).Result(); err != nil || n > 1 {
					t.Fatalf("%d leases (%v), want at most the new token's", n, err)
				}
			})
		})
	}
}

func TestEnterReusedPollIsHeartbeat(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.enter(1, t0)
		q.enter(1, t0.Add(qIdle-time.Second)) // reused: counts as a poll
		q.wantState(1, t0.Add(qIdle+time.Second), engine.TokenWaiting, 0)
	})
}

// TestStatusHeartbeatAtMostOncePerSecond: polls less than a second after the last
// recorded one write nothing; the next one moves the heartbeat forward.
func TestStatusHeartbeatAtMostOncePerSecond(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.enter(1, t0)
		record := func() string {
			rec, err := q.rdb.HGet(q.ctx, q.s.keys.tokens(q.c), "1").Result()
			if err != nil {
				t.Fatal(err)
			}
			return rec
		}
		gen := q.gen(1)
		for _, tc := range []struct {
			at   time.Duration
			want int64 // ms after t0 the record says the waiter last polled
		}{{0, 0}, {999 * time.Millisecond, 0}, {time.Second, 1000}, {1500 * time.Millisecond, 1000}, {2100 * time.Millisecond, 2100}} {
			q.wantState(1, t0.Add(tc.at), engine.TokenWaiting, 0)
			if want := fmt.Sprintf("%d:%d:%d", gen, t0.Unix(), tc.want); record() != want {
				t.Fatalf("after a poll at +%v: record %q, want %q", tc.at, record(), want)
			}
		}
	})
}

// TestLaggingClockKeepsTheToken: an instance whose clock is behind the one that
// issued the token (or last recorded a poll) neither breaks nor shortens it.
func TestLaggingClockKeepsTheToken(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		first := q.enter(1, t0.Add(10*time.Second))
		again := q.enter(1, t0.Add(5*time.Second)) // another instance, 5 s behind
		if !again.Reused || again.Gen != first.Gen {
			t.Fatalf("enter from a lagging clock: %+v, want the same token %+v", again, first)
		}
		q.wantState(1, t0.Add(4*time.Second), engine.TokenWaiting, 0)
		// The heartbeat still says +10 s: idle from there, not from the lagging polls.
		q.wantState(1, t0.Add(10*time.Second+qIdle-time.Second), engine.TokenWaiting, 0)
	})
}

func TestStatusIdleExpiry(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.enterMany(1, 5, t0)
		for _, uid := range []int64{1, 3, 5} {
			q.wantState(uid, t0.Add(time.Minute), engine.TokenWaiting, uid-1)
		}
		late := t0.Add(qIdle + 10*time.Second) // 2 and 4 last polled at entry
		q.wantState(2, late, engine.TokenExpired, 0)
		// 2 is gone at once, so 3 moved up before any admission step.
		q.wantState(3, late, engine.TokenWaiting, 1)
		if st := q.stats(late); st.Waiting != 4 {
			t.Fatalf("stats %+v, want 4 waiting", st)
		}
		q.patch(engine.QueuePatch{Paused: qptr(true)})
		if r := q.admit(late); r.IdleDropped != 1 || r.Admitted != 0 {
			t.Fatalf("admit %+v, want 1 idle dropped (user 4)", r)
		}
		q.wantState(4, late, engine.TokenExpired, 0)
		q.wantState(1, late, engine.TokenWaiting, 0)
		q.wantState(3, late, engine.TokenWaiting, 1)
		q.wantState(5, late, engine.TokenWaiting, 2)
		// Idle waiters expire whatever position they hold.
		q.wantState(1, late.Add(qIdle), engine.TokenExpired, 0)
	})
}

func TestAdmitDropsIdle(t *testing.T) {
	// Users 1, 3, 5, 7, 9, 10 stop polling; 2, 4, 6, 8 keep at it. 3 tokens are due.
	cases := []struct {
		name         string
		maxIdleScan  int
		wantAdmitted []int64
		wantDropped  int
		wantRank8    int64
	}{
		{name: "scan finds all", maxIdleScan: 100, wantAdmitted: []int64{2, 4, 6}, wantDropped: 6, wantRank8: 0},
		// The scan's window (ranks 0-1) drops 1; 3 and 5 are dropped as they come up,
		// 7 stays until found.
		{name: "scan finds some", maxIdleScan: 2, wantAdmitted: []int64{2, 4, 6}, wantDropped: 3, wantRank8: 1},
		// Without a scan, idle waiters at the head use up the step but are never admitted.
		{name: "no scan", maxIdleScan: 0, wantAdmitted: []int64{2}, wantDropped: 2, wantRank8: 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachQueueBackend(t, func(t *testing.T, q *qfix) {
				q.configure(t0, engine.QueueSettings{AdmitPerSecond: 3, MaxActive: 1000})
				q.admit(t0) // bucket starts empty at t0
				q.enterMany(1, 10, t0)
				poll := t0.Add(time.Minute)
				for _, uid := range []int64{2, 4, 6, 8} {
					q.wantState(uid, poll, engine.TokenWaiting, uid-1)
				}
				now := t0.Add(qIdle + time.Second)
				p := qParams
				p.MaxIdleScan = tc.maxIdleScan
				r := q.admitWith(now, p)
				if r.Admitted != len(tc.wantAdmitted) || r.IdleDropped != tc.wantDropped {
					t.Fatalf("admit %+v, want %d admitted, %d dropped", r, len(tc.wantAdmitted), tc.wantDropped)
				}
				for _, uid := range tc.wantAdmitted {
					q.wantState(uid, now, engine.TokenActive, 0)
				}
				q.wantState(8, now, engine.TokenWaiting, tc.wantRank8)
				for _, uid := range []int64{1, 3, 5, 7, 9, 10} {
					q.wantState(uid, now, engine.TokenExpired, 0)
				}
			})
		})
	}
}

// TestAdmitIdleScanWalksTheQueue: with admission paused, only the idle scan drops
// waiters: a window per step, moving on past what it kept and starting over at the end.
func TestAdmitIdleScanWalksTheQueue(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.enterMany(1, 10, t0)
		for _, uid := range []int64{2, 4, 6, 8} {
			q.wantState(uid, t0.Add(time.Minute), engine.TokenWaiting, uid-1)
		}
		q.patch(engine.QueuePatch{Paused: qptr(true)})
		now := t0.Add(qIdle + time.Second)
		p := qParams
		p.MaxIdleScan = 3
		// Windows: [1 2 3] [4 5 6] [7 8 9] [10] (end: start over) [2 4 6].
		for step, want := range []int{2, 1, 2, 1, 0} {
			if r := q.admitWith(now, p); r.IdleDropped != want || r.Admitted != 0 {
				t.Fatalf("step %d: %+v, want %d dropped", step+1, r, want)
			}
		}
		if st := q.stats(now); st.Waiting != 4 {
			t.Fatalf("stats %+v, want 4 waiting", st)
		}
		for i, uid := range []int64{2, 4, 6, 8} {
			q.wantState(uid, now, engine.TokenWaiting, int64(i))
		}
		for _, uid := range []int64{1, 3, 5, 7, 9, 10} {
			q.wantState(uid, now, engine.TokenExpired, 0)
		}
		// Dropped waiters leave no token record behind.
		if n, err := q.rdb.HLen(q.ctx, q.s.keys.tokens(q.c)).Result(); err != nil || n != 4 {
			t.Fatalf("%d token records (%v), want 4", n, err)
		}
	})
}

// TestAdmitIdleScanPaced: with a scan period, the scan checks (line length at the
// start of its pass) x (time since it last ran) / period waiters a step, at most
// MaxIdleScan, whichever instance steps; the first step only starts its clock.
func TestAdmitIdleScanPaced(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		p := qParams
		p.IdleScanPeriod = 10 * time.Second
		// Admission steps run before anyone enters: this one starts the scan's clock
		// on an empty line.
		if r := q.admitWith(t0, p); r.IdleDropped != 0 || r.Admitted != 0 {
			t.Fatalf("first step %+v", r)
		}
		q.enterMany(1, 100, t0)
		q.patch(engine.QueuePatch{Paused: qptr(true)})
		now := t0.Add(qIdle + time.Second) // every waiter is idle
		steps := []struct {
			after    time.Duration // since now
			maxScan  int
			dropped  int
			newcomer bool // users 101-110 join the line first, idle from the start
		}{
			{0, 10, 10, false},                  // the line grew since the pass began: 100 x 121 s / 10 s, 10 at most
			{0, 1000, 0, false},                 // no time has passed
			{time.Second, 1000, 10, false},      // 100 x 1 s / 10 s
			{3 * time.Second, 1000, 20, false},  // 100 (the pass's length, not the 80 left) x 2 s / 10 s
			{8 * time.Second, 20, 20, false},    // 50 due, 20 at most
			{20 * time.Second, 1000, 40, false}, // the rest, and the pass ends
			{21 * time.Second, 1000, 1, true},   // a new pass measures the line again: 10 x 1 s / 10 s
			{31 * time.Second, 1000, 9, false},  // the rest
		}
		for i, s := range steps {
			if s.newcomer {
				for uid := int64(101); uid <= 110; uid++ {
					q.enter(uid, t0)
				}
			}
			p.MaxIdleScan = s.maxScan
			if r := q.admitWith(now.Add(s.after), p); r.IdleDropped != s.dropped {
				t.Fatalf("step %d: dropped %d, want %d", i+1, r.IdleDropped, s.dropped)
			}
		}
		if st := q.stats(now.Add(time.Minute)); st.Waiting != 0 {
			t.Fatalf("stats %+v, want none waiting", st)
		}
	})
}

// TestAdmitForgetsLapsedLeases: a lease that ran out takes its token record with it,
// except a DONE one, which keeps answering DONE.
func TestAdmitForgetsLapsedLeases(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.admit(t0)
		q.enterMany(1, 2, t0)
		q.admit(t0.Add(time.Second))
		q.wantState(1, t0.Add(time.Second), engine.TokenActive, 0)
		q.markDone(2)
		end := t0.Add(time.Second + qParams.ActiveTTL)
		q.admit(end)
		q.wantState(1, end, engine.TokenExpired, 0)
		q.wantState(2, end, engine.TokenDone, 0)
		if recs, err := q.rdb.HKeys(q.ctx, q.s.keys.tokens(q.c)).Result(); err != nil || len(recs) != 1 || recs[0] != "2" {
			t.Fatalf("token records %v (%v), want only user 2's", recs, err)
		}
	})
}

func TestQueuePreQueue(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		opens := t0.Add(time.Hour)
		q.configure(opens, engine.QueueSettings{AdmitPerSecond: 1000, MaxActive: 1000})
		const pre, later = 200, 20
		q.idle = 2 * time.Hour // the pre-queue does not poll in this test
		for uid := int64(1); uid <= pre; uid++ {
			// The engine draws these with crypto/rand; any uniform source will do here.
			q.enterScore(uid, t0.Add(time.Duration(uid)*time.Second), rand.Int64N(maxPreQueueScore))
		}
		for uid := int64(pre + 1); uid <= pre+later; uid++ {
			q.enter(uid, opens.Add(time.Duration(uid)*time.Millisecond))
		}
		now := opens.Add(time.Minute)
		ranks := make([]int64, pre)
		for uid := int64(1); uid <= pre+later; uid++ {
			st := q.status(uid, q.gen(uid), now)
			if st.State != engine.TokenWaiting {
				t.Fatalf("user %d: %+v", uid, st)
			}
			if uid <= pre {
				ranks[uid-1] = st.Rank
			} else if st.Rank != uid-1 {
				t.Fatalf("later arrival %d at rank %d, want %d (behind the pre-queue, in arrival order)", uid, st.Rank, uid-1)
			}
		}
		wantPermutation(t, ranks, 0)
		if slices.IsSorted(ranks) {
			t.Fatalf("pre-queue ranks follow entry order: %v", ranks)
		}
	})
}

func TestAdmitLimits(t *testing.T) {
	opens := t0.Add(10 * time.Second)
	cases := []struct {
		name     string
		settings engine.QueueSettings
		steps    int // one step per 100 ms from t0 (the sale opens at t0+10s)
		want     int // admitted in all
	}{
		{name: "before opening", settings: engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000}, steps: 100, want: 0},
		{name: "paused", settings: engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000, Paused: true}, steps: 200, want: 0},
		{name: "rate binds", settings: engine.QueueSettings{AdmitPerSecond: 20, MaxActive: 1000}, steps: 200, want: 20 * 10},
		{name: "max active binds", settings: engine.QueueSettings{AdmitPerSecond: 1000, MaxActive: 7}, steps: 200, want: 7},
		{name: "zero rate", settings: engine.QueueSettings{MaxActive: 1000}, steps: 200, want: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachQueueBackend(t, func(t *testing.T, q *qfix) {
				q.configure(opens, tc.settings)
				const n = 300
				q.idle = time.Hour // nobody polls here
				for uid := int64(1); uid <= n; uid++ {
					q.enter(uid, t0)
				}
				total := 0
				for i := range tc.steps + 1 {
					now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
					r := q.admit(now)
					total += r.Admitted
					if now.Before(opens) && r.Admitted != 0 {
						t.Fatalf("admitted %d at %v, before opening", r.Admitted, now)
					}
					if st := q.stats(now); st.Active > int64(tc.settings.MaxActive) || st.Active != int64(total) {
						t.Fatalf("step %d: %+v, admitted %d, maxActive %d", i, st, total, tc.settings.MaxActive)
					}
				}
				if total != tc.want {
					t.Fatalf("admitted %d, want %d", total, tc.want)
				}
				// In queue order: the first `total` users are active, the rest wait in order.
				end := t0.Add(time.Duration(tc.steps) * 100 * time.Millisecond)
				for uid := int64(1); uid <= n; uid++ {
					st := q.status(uid, q.gen(uid), end)
					if uid <= int64(total) && st.State != engine.TokenActive {
						t.Fatalf("user %d: %+v, want ACTIVE", uid, st)
					}
					if uid > int64(total) && (st.State != engine.TokenWaiting || st.Rank != uid-1-int64(total)) {
						t.Fatalf("user %d: %+v, want WAITING rank %d", uid, st, uid-1-int64(total))
					}
				}
			})
		})
	}
}

func TestAdmitBatchAndLease(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.lineUp(engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 4}, 10)
		p := qParams
		p.MaxBatch = 3
		now := t0.Add(time.Second)
		if r := q.admitWith(now, p); r.Admitted != 3 {
			t.Fatalf("admit %+v, want MaxBatch 3", r)
		}
		if r := q.admitWith(now, p); r.Admitted != 1 {
			t.Fatalf("admit %+v, want 1 (maxActive 4)", r)
		}
		st := q.status(1, q.gen(1), now)
		if st.State != engine.TokenActive || !st.ActiveUntil.Equal(now.Add(p.ActiveTTL)) {
			t.Fatalf("user 1: %+v, want ACTIVE until %v", st, now.Add(p.ActiveTTL))
		}
		// Leases end: the room they held goes to the next in line.
		later := now.Add(p.ActiveTTL)
		if r := q.admitWith(later, p); r.Admitted != 3 {
			t.Fatalf("admit after leases ended %+v, want 3", r)
		}
		q.wantState(1, later, engine.TokenExpired, 0)
		if st := q.stats(later); st.Active != 3 || st.Waiting != 3 || st.AdmittedTotal != 7 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestAdmitRateConcurrent(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		const rate, seconds = 50, 10
		q.configure(t0, engine.QueueSettings{AdmitPerSecond: rate, MaxActive: 1_000_000})
		p := qParams
		p.IdleTimeout = qIdle
		pipe := q.rdb.Pipeline()
		for uid := int64(1); uid <= 1000; uid++ {
			// Straight into the line: only admission is under test here.
			pipe.ZAdd(q.ctx, q.s.keys.wait(q.c), redis.Z{Score: float64(uid), Member: uid})
			pipe.HSet(q.ctx, q.s.keys.tokens(q.c), uid, tokenRecord(uid, t0))
		}
		if _, err := pipe.Exec(q.ctx); err != nil {
			t.Fatal(err)
		}
		var total atomic.Int64
		errs := make(chan error, 3)
		atOnce(3, func(inst int) {
			r := rand.New(rand.NewPCG(uint64(inst), 7))
			for i := 0; i <= seconds*10; i++ {
				// Each instance's clock is a little off; steps overlap in any order.
				now := t0.Add(time.Duration(i)*100*time.Millisecond + time.Duration(r.IntN(30))*time.Millisecond)
				res, err := q.s.Admit(q.ctx, q.c, now, p)
				if err != nil {
					errs <- err
					return
				}
				total.Add(int64(res.Admitted))
			}
		})
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got := total.Load()
		if got > rate*seconds+rate || got < rate*(seconds-1) {
			t.Fatalf("admitted %d in %ds at %d/s from 3 instances", got, seconds, rate)
		}
		if st := q.stats(t0.Add(seconds * time.Second)); st.AdmittedTotal != got || st.Active != got || st.Waiting != 1000-got {
			t.Fatalf("stats %+v, admitted %d", st, got)
		}
	})
}

func TestQueuePatch(t *testing.T) {
	cases := []struct {
		name  string
		patch engine.QueuePatch
		want  engine.QueueSettings
		admit int // admitted by the step 1 s after the patch
	}{
		{name: "nothing", want: engine.QueueSettings{AdmitPerSecond: 5, MaxActive: 100}, admit: 5},
		{name: "rate", patch: engine.QueuePatch{AdmitPerSecond: qptr(8)},
			want: engine.QueueSettings{AdmitPerSecond: 8, MaxActive: 100}, admit: 8},
		{name: "max active", patch: engine.QueuePatch{MaxActive: qptr(7)},
			want: engine.QueueSettings{AdmitPerSecond: 5, MaxActive: 7}, admit: 2},
		{name: "pause", patch: engine.QueuePatch{Paused: qptr(true)},
			want: engine.QueueSettings{AdmitPerSecond: 5, MaxActive: 100, Paused: true}, admit: 0},
		{name: "all", patch: engine.QueuePatch{AdmitPerSecond: qptr(9), MaxActive: qptr(20), Paused: qptr(false)},
			want: engine.QueueSettings{AdmitPerSecond: 9, MaxActive: 20}, admit: 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachQueueBackend(t, func(t *testing.T, q *qfix) {
				q.lineUp(engine.QueueSettings{AdmitPerSecond: 5, MaxActive: 100}, 50)
				if r := q.admit(t0.Add(time.Second)); r.Admitted != 5 {
					t.Fatalf("admit before patch %+v", r)
				}
				if got := q.patch(tc.patch); got != tc.want {
					t.Fatalf("patch returned %+v, want %+v", got, tc.want)
				}
				if r := q.admit(t0.Add(2 * time.Second)); r.Admitted != tc.admit {
					t.Fatalf("admit after patch %+v, want %d", r, tc.admit)
				}
			})
		})
	}
}

func TestQueuePauseAccruesNothing(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.lineUp(engine.QueueSettings{AdmitPerSecond: 10, MaxActive: 1000}, 100)
		q.patch(engine.QueuePatch{Paused: qptr(true)})
		for i := 1; i <= 50; i++ {
			if r := q.admit(t0.Add(time.Duration(i) * 100 * time.Millisecond)); r.Admitted != 0 {
				t.Fatalf("paused step admitted %d", r.Admitted)
			}
		}
		q.patch(engine.QueuePatch{Paused: qptr(false)})
		if r := q.admit(t0.Add(5100 * time.Millisecond)); r.Admitted != 1 {
			t.Fatalf("first step after resuming %+v, want 1 (100 ms at 10/s)", r)
		}
	})
}

func TestQueueStats(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		if st := q.stats(t0); st != (engine.QueueStats{}) {
			t.Fatalf("empty %+v", st)
		}
		q.configure(t0, engine.QueueSettings{AdmitPerSecond: 3, MaxActive: 100})
		q.enterMany(1, 10, t0)
		q.admit(t0)
		now := t0.Add(time.Second)
		q.admit(now)
		if st := q.stats(now); st != (engine.QueueStats{Waiting: 7, Active: 3, AdmittedTotal: 3}) {
			t.Fatalf("stats %+v", st)
		}
		// Ended leases no longer count as active; admitted is a running total.
		end := now.Add(qParams.ActiveTTL)
		if st := q.stats(end); st.Active != 0 || st.AdmittedTotal != 3 {
			t.Fatalf("after leases %+v", st)
		}
		// Configure again (a restore from the ledger) keeps the counters.
		q.configure(t0, engine.QueueSettings{AdmitPerSecond: 3, MaxActive: 100})
		if st := q.stats(now); st.AdmittedTotal != 3 {
			t.Fatalf("after reconfigure %+v", st)
		}
	})
}

func TestStatusStates(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.enter(1, t0)
		q.enter(2, t0)
		cases := []struct {
			name string
			uid  int64
			gen  int64
			want engine.TokenState
		}{
			{name: "current gen", uid: 1, gen: q.gen(1), want: engine.TokenWaiting},
			{name: "older gen", uid: 1, gen: q.gen(1) - 1, want: engine.TokenExpired},
			{name: "another user's gen", uid: 1, gen: q.gen(2), want: engine.TokenExpired},
			{name: "no token", uid: 3, gen: q.gen(1), want: engine.TokenExpired},
			{name: "done", uid: 2, gen: q.gen(2), want: engine.TokenDone},
		}
		q.markDone(2)
		for _, tc := range cases {
			if st := q.status(tc.uid, tc.gen, t0.Add(time.Second)); st.State != tc.want {
				t.Errorf("%s: %+v, want %s", tc.name, st, tc.want)
			}
		}
	})
}

func TestQueueConcertNotFound(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		unknown := q.c + 1_000_000
		ok, err := q.s.Configured(q.ctx, unknown)
		if err != nil || ok {
			t.Fatalf("configured(unknown) = %v, %v", ok, err)
		}
		if ok, err := q.s.Configured(q.ctx, q.c); err != nil || !ok {
			t.Fatalf("configured = %v, %v", ok, err)
		}
		_, err1 := q.s.Enter(q.ctx, unknown, 1, t0, qIdle, -1)
		_, err2 := q.s.Patch(q.ctx, unknown, engine.QueuePatch{Paused: qptr(true)})
		_, err3 := q.s.Admit(q.ctx, unknown, t0, qParams)
		for i, err := range []error{err1, err2, err3} {
			if !errors.Is(err, engine.ErrConcertNotFound) {
				t.Errorf("call %d: %v, want CONCERT_NOT_FOUND", i+1, err)
			}
		}
		// Nothing was written for the unknown concert.
		if ok, _ := q.s.Configured(q.ctx, unknown); ok {
			t.Fatal("patch created the concert")
		}
		if n, _ := q.rdb.Exists(q.ctx, q.s.keys.tokens(unknown), q.s.keys.wait(unknown), q.s.keys.seq(unknown)).Result(); n != 0 {
			t.Fatalf("enter wrote %d keys", n)
		}
	})
}

func BenchmarkStatus(b *testing.B) {
	q := realQueue(b, 0)
	for uid := int64(1); uid <= 1000; uid++ {
		q.enter(uid, t0)
	}
	tok := q.tok(500, q.gen(500))
	for b.Loop() {
		if _, err := q.s.Status(q.ctx, tok, t0, qIdle); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnterQueueLength: enter.lua's cost per first entry with 1k and with 1M
// waiting tokens, Redis alone, in the shape of BenchmarkStatusQueueLength: calls
// of 10 new arrivals, 50 calls per pipelined round trip. The queue grows by the
// entries the benchmark makes, which at these sizes changes nothing.
func BenchmarkEnterQueueLength(b *testing.B) {
	eachQueueLength(b, func(b *testing.B, q *qfix, n int) {
		next := n
		q.benchScript(b, enterScript, q.s.keys.enterKeys(q.c), "entry", func() []any {
			args := []any{q.idle.Milliseconds()}
			for range scriptItems {
				next++
				args = append(args, next, time.Now().UnixMilli(), -1)
			}
			return args
		}, func(v []any) bool {
			return len(v) == 5*scriptItems && v[0] == int64(0) && v[3] == "WAITING"
		})
	})
}

// BenchmarkStatusQueueLength: status.lua's cost per poll with 1k and with 1M
// waiting tokens, Redis alone (no HTTP, no batcher): calls of 10 polls of random
// waiters, as a rush batches them, 50 calls per pipelined round trip so the
// figure is Redis's work and not the round trip. Polls at now, so a waiter not
// polled this second writes its heartbeat, as it does in a real queue of 1M.
// bench/RESULTS.md reads the two against each other ("poll at 1M").
func BenchmarkStatusQueueLength(b *testing.B) {
	eachQueueLength(b, func(b *testing.B, q *qfix, n int) {
		q.benchScript(b, statusScript, q.s.keys.statusKeys(q.c), "poll", func() []any {
			args := []any{time.Now().UnixMilli(), q.idle.Milliseconds()}
			for range scriptItems {
				// Every token entered once, so user i holds gen i.
				uid := 1 + rand.IntN(n)
				args = append(args, uid, uid)
			}
			return args
		}, func(v []any) bool {
			return len(v) == 2*scriptItems && v[0] == "WAITING"
		})
	})
}

// eachQueueLength runs fn as a sub-benchmark with 1k and with 1M tokens waiting
// in a fresh concert's line (users 1..n, user i at gen i).
func eachQueueLength(b *testing.B, fn func(b *testing.B, q *qfix, n int)) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("waiting=%d", n), func(b *testing.B) {
			if n > 1_000 && testing.Short() {
				b.Skip("filling 1M waiters takes ~20 s")
			}
			q := realQueue(b, 2*time.Hour)
			q.fillQueue(n)
			fn(b, q, n)
		})
	}
}

// fillQueue enters users 1..n, 1,000 to a call.
func (q *qfix) fillQueue(n int) {
	q.t.Helper()
	keys, now := q.s.keys.enterKeys(q.c), time.Now()
	for from := 1; from <= n; from += 1000 {
		args := []any{q.idle.Milliseconds()}
		for uid := from; uid < from+1000 && uid <= n; uid++ {
			args = append(args, uid, now.UnixMilli(), -1)
		}
		if err := enterScript.Run(q.ctx, q.rdb, keys, args...).Err(); err != nil {
			q.t.Fatal(err)
		}
	}
}

// scriptItems and scriptCalls shape the queue-length benchmarks: calls of
// scriptItems entries or polls, as a rush batches them, scriptCalls calls to a
// pipelined round trip, so the figure is Redis's work and not the round trip.
const scriptItems, scriptCalls = 10, 50

// benchScript times script over pipelines of scriptCalls calls, each with the
// ARGV args returns and a reply ok must accept, and reports ns per item.
func (q *qfix) benchScript(b *testing.B, script *redis.Script, keys []string, item string, args func() []any, ok func([]any) bool) {
	if err := script.Load(q.ctx, q.rdb).Err(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		pipe := q.rdb.Pipeline()
		cmds := make([]*redis.Cmd, scriptCalls)
		for c := range cmds {
			cmds[c] = script.EvalSha(q.ctx, pipe, keys, args()...)
		}
		if _, err := pipe.Exec(q.ctx); err != nil {
			b.Fatal(err)
		}
		for _, c := range cmds {
			if v, err := c.Slice(); err != nil || !ok(v) {
				b.Fatalf("%s: %v %v", item, v, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*scriptCalls*scriptItems), "ns/"+item)
}

// TestEnterBatchDecidesInOrder runs one enter.lua call for entries that depend on
// each other: each must be decided as if it ran alone after the ones before it.
func TestEnterBatchDecidesInOrder(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.enter(9, t0) // already in line before the batch
		cases := []struct {
			uid    int64
			score  int64
			reused bool
			rank   int64
		}{
			{uid: 1, score: -1, rank: 1},
			{uid: 2, score: -1, rank: 2},
			{uid: 1, score: -1, reused: true, rank: 1}, // a double click in the same batch
			{uid: 9, score: -1, reused: true, rank: 0},
			{uid: 3, score: 0, rank: 0}, // a pre-queue score sorts ahead of arrivals
		}
		batch := make([]*enterCall, len(cases))
		for i, c := range cases {
			batch[i] = &enterCall{req: enterReq{userID: c.uid, now: t0.Add(time.Second), idle: q.idle, score: c.score}}
		}
		q.s.runEnters(q.c, batch)
		gens := map[int64]int64{}
		for i, c := range cases {
			got := batch[i]
			if got.err != nil {
				t.Fatalf("entry %d (user %d): %v", i, c.uid, got.err)
			}
			r := got.res
			if r.Reused != c.reused || r.Status.State != engine.TokenWaiting || r.Status.Rank != c.rank {
				t.Errorf("entry %d (user %d): reused=%v %s rank %d, want reused=%v WAITING rank %d",
					i, c.uid, r.Reused, r.Status.State, r.Status.Rank, c.reused, c.rank)
			}
			if g, ok := gens[c.uid]; ok && g != r.Gen {
				t.Errorf("user %d got gens %d and %d in one batch", c.uid, g, r.Gen)
			}
			gens[c.uid] = r.Gen
		}
		if gens[1] == gens[2] || gens[2] == gens[3] {
			t.Errorf("gens not distinct: %v", gens)
		}
		if n := q.rdb.ZCard(q.ctx, q.s.keys.wait(q.c)).Val(); n != 4 {
			t.Errorf("%d in line, want 4", n)
		}
	})
}

// TestEnterBatchUnknownConcert refuses every entry of the call and stores nothing.
func TestEnterBatchUnknownConcert(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		batch := []*enterCall{
			{req: enterReq{userID: 1, now: t0, idle: q.idle, score: -1}},
			{req: enterReq{userID: 2, now: t0, idle: q.idle, score: -1}},
		}
		q.s.runEnters(q.c+100_000, batch)
		for i, c := range batch {
			if !errors.Is(c.err, engine.ErrConcertNotFound) {
				t.Errorf("entry %d: %v, want ErrConcertNotFound", i, c.err)
			}
		}
		if n := q.rdb.Exists(q.ctx, q.s.keys.wait(q.c+100_000), q.s.keys.tokens(q.c+100_000)).Val(); n != 0 {
			t.Errorf("%d keys written for an unknown concert", n)
		}
	})
}

// TestEnterRankIsZRANK: the place in line an entry answers is the token's ZRANK in
// the wait set, through arrivals, pre-queue entries that sort ahead of them,
// double clicks, re-entries after going idle (a new generation, at the back) and
// idle waiters dropped from the line before the next arrival.
func TestEnterRankIsZRANK(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		now := t0
		steps := []struct {
			uid   int64
			score int64
			wait  time.Duration // how long after the step before
			poll  bool          // poll instead of entering (an idle waiter's poll drops it)
		}{
			{1, -1, 0, false}, {2, -1, 0, false}, {3, 7, 0, false}, {4, -1, 0, false}, {5, 3, 0, false}, {2, -1, 0, false},
			{6, -1, time.Millisecond, false}, {7, 1 << 40, 0, false}, {8, -1, 0, false},
			{1, -1, q.idle + time.Second, false}, // 1's place lapsed: a new token, last in line
			{2, 0, 0, true}, {4, 0, 0, true},     // idle: dropped from the line
			{9, -1, 0, false}, {3, -1, 0, false}, {10, 0, 0, false}, {11, -1, 0, false},
		}
		for i, s := range steps {
			now = now.Add(s.wait)
			if s.poll {
				if st := q.status(s.uid, q.gen(s.uid), now); st.State != engine.TokenExpired {
					t.Fatalf("step %d: idle user %d polled %s, want EXPIRED", i, s.uid, st.State)
				}
				continue
			}
			r := q.enterScore(s.uid, now, s.score)
			want, err := q.rdb.ZRank(q.ctx, q.s.keys.wait(q.c), itoa(s.uid)).Result()
			if err != nil {
				t.Fatalf("step %d: user %d not in line: %v", i, s.uid, err)
			}
			if r.Status.State != engine.TokenWaiting || r.Status.Rank != want {
				t.Fatalf("step %d (user %d, score %d): %s rank %d, ZRANK %d", i, s.uid, s.score, r.Status.State, r.Status.Rank, want)
			}
		}
	})
}

// TestEnterBatchMatchesSingleCalls: a call of many entries answers each exactly as
// separate calls in the same order would, and leaves the same line. enter.lua
// joins arrivals to the line together at the end of a call; the random mix puts
// double clicks, pre-queue scores, a user with a lease, users whose place went idle
// and users with a finished token among them, so every path that reads the line
// while arrivals are pending is taken.
func TestEnterBatchMatchesSingleCalls(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		single := &qfix{t: t, ctx: q.ctx, s: q.s, rdb: q.rdb, c: q.c + 100_000, idle: q.idle}
		single.configure(t0, engine.QueueSettings{AdmitPerSecond: 1000, MaxActive: 1000})
		// The same history on both concerts: users 1-20 in line since t0, of whom
		// 1-6 were admitted and 6 finished; then the clock passes the idle timeout,
		// and 7-10 poll, so only 11-20 go idle.
		now := t0.Add(q.idle + time.Minute)
		for _, f := range []*qfix{q, single} {
			f.enterMany(1, 20, t0)
			admit := engine.AdmitParams{ActiveTTL: time.Hour, MaxBatch: 6}
			f.admitWith(t0.Add(time.Second), admit) // the bucket starts empty
			if r := f.admitWith(t0.Add(2*time.Second), admit); r.Admitted != 6 {
				t.Fatalf("admitted %d, want 6", r.Admitted)
			}
			f.markDone(6)
			for uid := int64(7); uid <= 10; uid++ {
				f.enter(uid, now.Add(-time.Second))
			}
		}
		rng := rand.New(rand.NewPCG(7, uint64(q.c)))
		var batch []*enterCall
		// 900 entries, most of them new users (21-1000 have no record yet), so
		// the arrivals join the line in more than one slice too.
		for range 900 {
			uid := 1 + rng.Int64N(1000)
			score := int64(-1)
			if rng.IntN(20) == 0 {
				score = rng.Int64N(1 << 40)
			}
			batch = append(batch, &enterCall{req: enterReq{userID: uid, now: now, idle: q.idle, score: score}})
		}
		q.s.runEnters(q.c, batch)
		for i, call := range batch {
			if call.err != nil {
				t.Fatalf("entry %d: %v", i, call.err)
			}
			want, err := single.s.Enter(q.ctx, single.c, call.req.userID, now, q.idle, call.req.score)
			if err != nil {
				t.Fatalf("entry %d alone: %v", i, err)
			}
			if want.Status.State == engine.TokenWaiting {
				if rank := single.rdb.ZRank(q.ctx, single.s.keys.wait(single.c), itoa(call.req.userID)).Val(); want.Status.Rank != rank {
					t.Fatalf("entry %d (user %d) alone: rank %d, ZRANK %d", i, call.req.userID, want.Status.Rank, rank)
				}
			}
			if call.res != want {
				t.Fatalf("entry %d (user %d, score %d): batched %+v, alone %+v", i, call.req.userID, call.req.score, call.res, want)
			}
		}
		line := func(f *qfix) []redis.Z {
			z, err := f.rdb.ZRangeWithScores(f.ctx, f.s.keys.wait(f.c), 0, -1).Result()
			if err != nil {
				t.Fatal(err)
			}
			return z
		}
		if a, b := line(q), line(single); !slices.Equal(a, b) {
			t.Fatalf("lines differ:\nbatched %v\nalone   %v", a, b)
		}
	})
}

// TestStatusBatchedAnswersEachToken: polls that arrive together share status.lua
// calls, and each still gets its own token's answer: waiters their own rank, an
// admitted token ACTIVE, a stale generation EXPIRED, a DONE token DONE.
func TestStatusBatchedAnswersEachToken(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		const n = 300
		for uid := int64(1); uid <= n; uid++ {
			q.enter(uid, t0)
		}
		now := t0.Add(time.Second)
		// Admit the first 10 (1000/s for 1 s allows them); they leave the line.
		// The bucket starts empty at the first step; the second finds a second's worth.
		for _, at := range []time.Time{t0, now} {
			if _, err := q.s.Admit(q.ctx, q.c, at, engine.AdmitParams{ActiveTTL: time.Minute, IdleTimeout: qIdle, MaxBatch: 10, MaxIdleScan: 100}); err != nil {
				t.Fatal(err)
			}
		}
		q.markDone(5)
		type answer struct {
			st  engine.TokenStatus
			err error
		}
		got := make([]answer, n+2)
		var wg sync.WaitGroup
		poll := func(slot, uid, gen int64) {
			wg.Go(func() {
				st, err := q.s.Status(q.ctx, q.tok(uid, gen), now, q.idle)
				got[slot] = answer{st, err}
			})
		}
		for uid := int64(1); uid <= n; uid++ {
			poll(uid, uid, q.gen(uid))
		}
		poll(n+1, 7, q.gen(8)) // a generation the user does not hold
		wg.Wait()
		for uid := int64(1); uid <= n; uid++ {
			a := got[uid]
			if a.err != nil {
				t.Fatalf("user %d: %v", uid, a.err)
			}
			switch {
			case uid == 5:
				if a.st.State != engine.TokenDone {
					t.Errorf("user 5 (done): %+v", a.st)
				}
			case uid <= 10:
				if a.st.State != engine.TokenActive || !a.st.ActiveUntil.Equal(now.Add(time.Minute)) {
					t.Errorf("user %d (admitted): %+v", uid, a.st)
				}
			default:
				if a.st.State != engine.TokenWaiting || a.st.Rank != uid-11 {
					t.Errorf("user %d: %+v, want WAITING rank %d", uid, a.st, uid-11)
				}
			}
		}
		if a := got[n+1]; a.err != nil || a.st.State != engine.TokenExpired {
			t.Errorf("stale generation: %+v %v, want EXPIRED", a.st, a.err)
		}
	})
}

// TestAdmitLapsedLeasesBounded: one admission step forgets at most 1,000 lapsed
// leases, whatever their number, and the ones left for later steps do not count as
// active: admission goes on at once.
func TestAdmitLapsedLeasesBounded(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.configure(t0, engine.QueueSettings{AdmitPerSecond: 1000, MaxActive: 10})
		q.admit(t0)
		const lapsed = 2500
		zs := make([]redis.Z, lapsed)
		for i := range zs {
			zs[i] = redis.Z{Score: float64(t0.UnixMilli()), Member: strconv.Itoa(100_000 + i)}
		}
		if err := q.rdb.ZAdd(q.ctx, q.s.keys.active(q.c), zs...).Err(); err != nil {
			t.Fatal(err)
		}
		q.enterMany(1, 5, t0)
		now := t0.Add(time.Second)
		if r := q.admit(now); r.Admitted != 5 {
			t.Fatalf("admitted %d with %d lapsed leases left, want 5", r.Admitted, lapsed)
		}
		if n := q.rdb.ZCard(q.ctx, q.s.keys.active(q.c)).Val(); n != lapsed-1000+5 {
			t.Fatalf("%d leases after one step, want %d (1,000 lapsed ones forgotten, 5 new)", n, lapsed-1000+5)
		}
		q.admit(now.Add(100 * time.Millisecond))
		q.admit(now.Add(200 * time.Millisecond))
		if n := q.rdb.ZCard(q.ctx, q.s.keys.active(q.c)).Val(); n != 5 {
			t.Fatalf("%d leases after three steps, want the 5 live ones", n)
		}
	})
}
