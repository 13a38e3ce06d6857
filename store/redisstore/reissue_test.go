package redisstore

import (
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// TestReissue: a live token's record moves to a new generation issued now and
// keeps its place in line (and an ACTIVE user's lease); the old generation is
// over; a gen that is not the record's, a DONE record and no record are left
// alone.
func TestReissue(t *testing.T) {
	t.Parallel()
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.idle = 48 * time.Hour
		q.enterMany(1, 3, t0)
		later := t0.Add(24*time.Hour + 1500*time.Millisecond)
		old := q.gen(2)
		gen, issued, ok, err := q.s.Reissue(q.ctx, q.c, 2, old, later)
		if err != nil || !ok || gen <= old || !issued.Equal(later.Truncate(time.Second)) {
			t.Fatalf("Reissue = %d, %v, %v, %v; want a new gen issued at %v", gen, issued, ok, err, later.Truncate(time.Second))
		}
		if st := q.status(2, gen, later); st.State != engine.TokenWaiting || st.Rank != 1 {
			t.Fatalf("renewed token: %+v, want WAITING at rank 1 (its old place)", st)
		}
		if st := q.status(2, old, later); st.State != engine.TokenExpired {
			t.Fatalf("old gen after reissue: %+v, want EXPIRED", st)
		}
		// The arrival counter moved on: a later entry's gen is above the new one.
		if r := q.enter(4, later); r.Gen <= gen {
			t.Fatalf("entry after a reissue got gen %d, not above %d", r.Gen, gen)
		}
		for name, c := range map[string]struct{ uid, gen int64 }{
			"stale gen": {2, old}, "no record": {99, 1},
		} {
			if _, _, ok, err := q.s.Reissue(q.ctx, q.c, c.uid, c.gen, later); ok || err != nil {
				t.Errorf("%s: ok=%v err=%v, want left alone", name, ok, err)
			}
		}
		q.markDone(3)
		if _, _, ok, err := q.s.Reissue(q.ctx, q.c, 3, q.gen(3), later); ok || err != nil {
			t.Errorf("DONE record: ok=%v err=%v, want left alone", ok, err)
		}
	})
}
