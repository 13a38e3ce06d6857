package engine_test

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// Tokens issued one after another line up in arrival order, 1..N, and the
// polling endpoint agrees with the answer to the issue.
func TestPositionsSequential(t *testing.T) {
	for _, n := range []int{1, 7, 60} {
		t.Run("n="+strconv.Itoa(n), func(t *testing.T) {
			eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
				c, _ := v.concert(show{})
				ids := v.users(n)
				toks := make([]engine.Token, n)
				for i, uid := range ids {
					tok, g := v.enter(v.e, uid, c.ID)
					if g.Reused || g.Status.State != engine.TokenWaiting || g.Status.Position != int64(i+1) {
						t.Fatalf("token %d: %+v, want WAITING at %d", i, g, i+1)
					}
					toks[i] = tok
				}
				for i, tok := range toks {
					s, err := v.e.Status(v.ctx, tok)
					if err != nil || s.Position != int64(i+1) {
						t.Fatalf("status of token %d: %+v %v, want position %d", i, s, err, i+1)
					}
				}
				if st := v.stats(c.ID); st.Waiting != int64(n) {
					t.Fatalf("stats waiting %d, want %d", st.Waiting, n)
				}
			})
		})
	}
}

// A rush of 500 tokens from 50 goroutines gets each a place of its own, and a
// user who asks again gets the same token back rather than a second place.
func TestPositionsConcurrent(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		const n = 500
		c, _ := v.concert(show{})
		ids := v.users(n)
		grants := make([]engine.TokenGrant, n)
		parallel(t, n, 50, func(i int) error {
			g, err := v.e.IssueToken(v.ctx, ids[i], c.ID)
			grants[i] = g
			return err
		})
		seen := make([]bool, n+1)
		for i, g := range grants {
			p := g.Status.Position
			if g.Reused || p < 1 || p > n || seen[p] {
				t.Fatalf("grant %d: reused=%v position %d (out of range or repeated)", i, g.Reused, p)
			}
			seen[p] = true
		}
		parallel(t, n, 50, func(i int) error {
			g, err := v.e.IssueToken(v.ctx, ids[i], c.ID)
			if err != nil {
				return err
			}
			if !g.Reused || g.Token != grants[i].Token || g.Status.Position != grants[i].Status.Position {
				t.Errorf("user %d again: reused=%v same token=%v position %d, want %d",
					ids[i], g.Reused, g.Token == grants[i].Token, g.Status.Position, grants[i].Status.Position)
			}
			return nil
		})
		if st := v.stats(c.ID); st.Waiting != n {
			t.Fatalf("waiting %d after re-issuing, want %d", st.Waiting, n)
		}
	})
}

// Three instances stepping admission every 100 ms on one shared state admit no
// faster than one would, and never exceed maxActive.
func TestAdmissionAcrossInstances(t *testing.T) {
	const (
		rate    = 50
		seconds = 10
		waiters = 700 // more than can be admitted, so the limits bind
	)
	cases := []struct {
		name      string
		maxActive int
		activeTTL time.Duration
		minTotal  int64 // admission must actually happen
	}{
		{name: "rate binds", maxActive: 10_000, activeTTL: 10 * time.Minute, minTotal: rate*seconds - rate},
		// Leases end after 2 s, so slots free up and the cap binds again and again.
		{name: "maxActive binds", maxActive: 60, activeTTL: 2 * time.Second, minTotal: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, engine.Config{ActiveTTL: tc.activeTTL, IdleTimeout: time.Hour}, func(t *testing.T, v *env) {
				c, _ := v.concert(show{rate: rate, maxActive: tc.maxActive})
				engines := []*engine.Engine{v.e, v.another(), v.another()}
				ids := v.users(waiters)
				// Tokens arrive through every instance, which also loads their catalogs.
				parallel(t, waiters, 16, func(i int) error {
					_, err := engines[i%3].IssueToken(v.ctx, ids[i], c.ID)
					return err
				})
				for tick := 0; tick < seconds*10; tick++ {
					v.clk.Advance(100 * time.Millisecond)
					var wg sync.WaitGroup
					for _, e := range engines {
						wg.Go(func() {
							if err := e.AdmitOnce(v.ctx); err != nil {
								t.Error(err)
							}
						})
					}
					wg.Wait()
					if st := v.stats(c.ID); st.Active > int64(tc.maxActive) {
						t.Fatalf("tick %d: %d active, maxActive %d", tick, st.Active, tc.maxActive)
					}
				}
				st := v.stats(c.ID)
				if st.AdmittedTotal > rate*seconds+rate || st.AdmittedTotal < tc.minTotal {
					t.Fatalf("admitted %d in %ds at %d/s, want %d..%d", st.AdmittedTotal, seconds, rate, tc.minTotal, rate*seconds+rate)
				}
				if st.Waiting+st.AdmittedTotal != waiters {
					t.Fatalf("waiting %d + admitted %d != %d", st.Waiting, st.AdmittedTotal, waiters)
				}
			})
		})
	}
}

// A waiter that stops polling for IdleTimeout loses its place, and everyone
// behind it moves up.
func TestIdleWaitersExpire(t *testing.T) {
	const idle = 30 * time.Second
	eachBackend(t, engine.Config{IdleTimeout: idle}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{})
		v.pause(c.ID)
		ids := v.users(5)
		toks := make([]engine.Token, 5)
		for i, uid := range ids {
			toks[i], _ = v.enter(v.e, uid, c.ID)
		}
		polling := []int{0, 2, 4} // tokens 1 and 3 go quiet
		v.clk.Advance(20 * time.Second)
		for _, i := range polling {
			if _, err := v.e.Status(v.ctx, toks[i]); err != nil {
				t.Fatal(err)
			}
		}
		v.clk.Advance(idle - 10*time.Second) // past IdleTimeout since the quiet ones' last poll
		v.admitStep()                        // drops idle waiters even while paused
		for _, i := range []int{1, 3} {
			_, err := v.e.Status(v.ctx, toks[i])
			wantErr(t, err, engine.ErrTokenExpired)
		}
		for want, i := range polling {
			s, err := v.e.Status(v.ctx, toks[i])
			if err != nil || s.State != engine.TokenWaiting || s.Position != int64(want+1) {
				t.Fatalf("token %d: %+v %v, want WAITING at %d", i, s, err, want+1)
			}
		}
		if st := v.stats(c.ID); st.Waiting != 3 || st.AdmittedTotal != 0 {
			t.Fatalf("stats %+v, want 3 waiting and none admitted", st)
		}
		// An expired user who comes back queues at the back, not at the old place.
		_, g := v.enter(v.e, ids[1], c.ID)
		if g.Reused || g.Status.Position != 4 {
			t.Fatalf("returning user: %+v, want a new token at position 4", g.Status)
		}
	})
}

// Tokens issued before the sale opens have no position; once it opens they stand
// in a random order ahead of everyone who came later, in arrival order.
func TestPreQueue(t *testing.T) {
	const early, late = 40, 5
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		opens := t0.Add(time.Minute)
		c, _ := v.concert(show{opensAt: opens})
		ids := v.users(early + late)
		toks := make([]engine.Token, early+late)
		for i := range early {
			var g engine.TokenGrant
			toks[i], g = v.enter(v.e, ids[i], c.ID)
			if s := g.Status; !s.PreQueue || s.Position != 0 || !s.SaleOpensAt.Equal(opens) || s.State != engine.TokenWaiting {
				t.Fatalf("early token %d: %+v, want pre-queue without position", i, s)
			}
		}
		v.clk.Advance(30 * time.Second)
		v.admitStep() // before opening nobody is admitted
		for i := range early {
			s, err := v.e.Status(v.ctx, toks[i])
			if err != nil || !s.PreQueue || s.Position != 0 {
				t.Fatalf("early token %d polled before opening: %+v %v", i, s, err)
			}
		}
		v.clk.Set(opens.Add(time.Second))
		for i := early; i < early+late; i++ {
			toks[i], _ = v.enter(v.e, ids[i], c.ID)
		}
		pos := make([]int64, early+late)
		for i, tok := range toks {
			s, err := v.e.Status(v.ctx, tok)
			if err != nil || s.PreQueue || s.State != engine.TokenWaiting {
				t.Fatalf("token %d after opening: %+v %v", i, s, err)
			}
			pos[i] = s.Position
		}
		pre := slices.Clone(pos[:early])
		slices.Sort(pre)
		for i, p := range pre {
			if p != int64(i+1) {
				t.Fatalf("pre-queue positions %v are not 1..%d", pos[:early], early)
			}
		}
		identity := true
		for i, p := range pos[:early] {
			identity = identity && p == int64(i+1)
		}
		if identity {
			t.Fatalf("pre-queue kept issue order %v; it must be shuffled", pos[:early])
		}
		for i := early; i < early+late; i++ {
			if pos[i] != int64(i+1) {
				t.Fatalf("late token %d at %d, want %d (behind the pre-queue, in arrival order)", i, pos[i], i+1)
			}
		}
	})
}

// A far-back waiter's repeat polls within a second are answered from the
// instance's memory: position may lag admission by less than a second, never
// more, and the front of the line, another instance and a settings change all
// see the shared state at once.
func TestRepeatPollsLagLessThanASecond(t *testing.T) {
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{rate: 10, maxActive: 1000})
		ids := v.users(150)
		toks := make([]engine.Token, len(ids))
		for i, uid := range ids {
			toks[i], _ = v.enter(v.e, uid, c.ID)
		}
		v.admitStep() // starts the admission bucket, empty
		far, near := toks[149], toks[5]
		position := func(e *engine.Engine, tok engine.Token) int64 {
			t.Helper()
			s, err := e.Status(v.ctx, tok)
			if err != nil || s.State != engine.TokenWaiting {
				t.Fatalf("status: %+v %v, want WAITING", s, err)
			}
			return s.Position
		}
		fromCache := func(want int64) {
			t.Helper()
			if n := v.e.Counters().PollsFromCache; n != want {
				t.Fatalf("%d polls answered from memory, want %d", n, want)
			}
		}
		if p := position(v.e, far); p != 150 {
			t.Fatalf("far waiter at %d, want 150", p)
		}
		if p := position(v.e, near); p != 6 {
			t.Fatalf("near waiter at %d, want 6", p)
		}
		fromCache(0)

		v.clk.Advance(500 * time.Millisecond)
		v.admitStep()
		k := v.stats(c.ID).AdmittedTotal
		if k < 1 || k > 5 {
			t.Fatalf("%d admitted in half a second at 10/s", k)
		}
		if p := position(v.e, far); p != 150 {
			t.Fatalf("far waiter's repeat poll at %d, want the answer of 0.5 s ago (150)", p)
		}
		fromCache(1)
		if p := position(v.e, near); p != 6-k {
			t.Fatalf("near waiter at %d, want %d: the front of the line is never cached", p, 6-k)
		}
		if p := position(v.another(), far); p != 150-k {
			t.Fatalf("another instance sees the far waiter at %d, want %d", p, 150-k)
		}

		v.clk.Advance(500 * time.Millisecond) // one second since the shared state was read
		if p := position(v.e, far); p != 150-k {
			t.Fatalf("far waiter a second later at %d, want %d", p, 150-k)
		}
		fromCache(1)
		position(v.e, far)
		fromCache(2)
		faster := 20
		if _, err := v.e.PatchQueue(v.ctx, c.ID, engine.QueuePatch{AdmitPerSecond: &faster}); err != nil {
			t.Fatal(err)
		}
		position(v.e, far)
		fromCache(2) // new settings: the old answer is not used
	})
}

// The idle scan runs from the engine's first admission step, long before the rush:
// a pass that began on an empty line must still find the idle waiters of a full one
// within 1.5 idle timeouts and a few steps (a waiter idle just after the scan passed
// it waits one period, half an idle timeout, rounded to steps), with nobody polling
// them and admission paused, so only the scan can drop them.
func TestIdleScanStartedOnAnEmptyLine(t *testing.T) {
	const idle = 4 * time.Second
	eachBackend(t, engine.Config{IdleTimeout: idle}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{rate: 1, maxActive: 1})
		v.pause(c.ID)
		for range 5 { // the instance has been stepping for a while
			v.clk.Advance(100 * time.Millisecond)
			v.admitStep()
		}
		for _, uid := range v.users(300) {
			v.enter(v.e, uid, c.ID)
		}
		for range 63 { // 6 s = 1.5 idle timeouts, and 3 steps
			v.clk.Advance(100 * time.Millisecond)
			v.admitStep()
		}
		if st := v.stats(c.ID); st.Waiting != 0 {
			t.Fatalf("%d idle waiters still in line 1.5 idle timeouts after their only poll", st.Waiting)
		}
	})
}

// Answers from memory are no heartbeat, so the cache's age bound must leave a
// waiter who polls as told well inside the idle timeout, however short it is.
func TestRepeatPollsKeepAWaiterAlive(t *testing.T) {
	const idle = 4 * time.Second
	eachBackend(t, engine.Config{IdleTimeout: idle}, func(t *testing.T, v *env) {
		c, _ := v.concert(show{rate: 1, maxActive: 1})
		v.pause(c.ID)
		ids := v.users(200)
		toks := make([]engine.Token, len(ids))
		for i, uid := range ids {
			toks[i], _ = v.enter(v.e, uid, c.ID)
		}
		busy := toks[len(toks)-1]
		for range 30 { // 9 s of polls every 300 ms, each step dropping idle waiters
			v.clk.Advance(300 * time.Millisecond)
			v.admitStep()
			s, err := v.e.Status(v.ctx, busy)
			if err != nil || s.State != engine.TokenWaiting {
				t.Fatalf("a waiter polling every 300 ms: %+v %v", s, err)
			}
		}
		if v.e.Counters().PollsFromCache == 0 {
			t.Fatal("no poll was answered from memory: this test would not catch a lost heartbeat")
		}
		_, err := v.e.Status(v.ctx, toks[0])
		wantErr(t, err, engine.ErrTokenExpired)
		s, err := v.e.Status(v.ctx, busy)
		if err != nil || s.Position != 1 {
			t.Fatalf("the only live waiter: %+v %v, want position 1", s, err)
		}
	})
}
