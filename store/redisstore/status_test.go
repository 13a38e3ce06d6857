package redisstore

import (
	"sync"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// TestStatusBatchedAnswersEachToken: polls that arrive together share status.lua
// calls, and each still gets its own token's answer: waiters their own rank, an
// admitted token ACTIVE, a stale generation EXPIRED, a DONE token DONE.
func TestStatusBatchedAnswersEachToken(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		const n = 300
		for uid := int64(1); uid <= n; uid++ {
			q.enter(uid, qt0)
		}
		now := qt0.Add(time.Second)
		// Admit the first 10 (1000/s for 1 s allows them); they leave the line.
		// The bucket starts empty at the first step; the second finds a second's worth.
		for _, at := range []time.Time{qt0, now} {
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
