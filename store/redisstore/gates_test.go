package redisstore

import (
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// TestUseChallengeOnce: a challenge's mark is set once, by exactly one of many
// callers racing for it, carries its TTL, and is the concert's alone.
func TestUseChallengeOnce(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		const n = 20
		won := make([]bool, n)
		atOnce(n, func(i int) {
			ok, err := q.s.UseChallenge(q.ctx, q.c, "mac-1", 5*time.Minute)
			if err != nil {
				t.Error(err)
			}
			won[i] = ok
		})
		wins := 0
		for _, ok := range won {
			if ok {
				wins++
			}
		}
		if wins != 1 {
			t.Fatalf("%d callers marked one challenge used, want 1", wins)
		}
		if ok, err := q.s.UseChallenge(q.ctx, q.c, "mac-1", 5*time.Minute); err != nil || ok {
			t.Fatalf("replay: %v, %v", ok, err)
		}
		if ok, err := q.s.UseChallenge(q.ctx, q.c, "mac-2", 5*time.Minute); err != nil || !ok {
			t.Fatalf("another challenge: %v, %v", ok, err)
		}
		if ok, err := q.s.UseChallenge(q.ctx, q.c+1, "mac-1", 5*time.Minute); err != nil || !ok {
			t.Fatalf("same id, another concert: %v, %v", ok, err)
		}
		ttl, err := q.rdb.PTTL(q.ctx, q.s.keys.usedChallenge(q.c, "mac-1")).Result()
		if err != nil || ttl <= 4*time.Minute || ttl > 5*time.Minute {
			t.Fatalf("mark's TTL = %v, %v; want just under 5m", ttl, err)
		}
	})
}

// TestHasLiveToken: live is what enter.lua would hand back: waiting and polled
// within the idle timeout, or active; not idle, lapsed, DONE or never entered.
func TestHasLiveToken(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		live := func(uid int64, now time.Time) bool {
			t.Helper()
			ok, err := q.s.HasLiveToken(q.ctx, q.c, uid, now, q.idle)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if live(1, t0) {
			t.Fatal("a user who never entered is live")
		}
		q.enter(1, t0)
		q.enter(2, t0)
		q.enter(3, t0)
		if !live(1, t0) || !live(1, t0.Add(q.idle-time.Millisecond)) {
			t.Fatal("a fresh waiter is not live")
		}
		if live(1, t0.Add(q.idle)) {
			t.Fatal("an idle waiter is live")
		}
		// Admit user 1 only.
		at := t0.Add(time.Second)
		p := qParams
		p.IdleTimeout, p.MaxBatch = q.idle, 1
		for _, now := range []time.Time{t0, at} {
			if _, err := q.s.Admit(q.ctx, q.c, now, p); err != nil {
				t.Fatal(err)
			}
		}
		if st := q.status(1, q.gen(1), at); st.State != engine.TokenActive {
			t.Fatalf("user 1 not admitted: %+v", st)
		}
		if !live(1, at.Add(q.idle)) {
			t.Fatal("an active token past the idle timeout is not live")
		}
		if live(1, at.Add(p.ActiveTTL)) {
			t.Fatal("a lapsed lease is live")
		}
		q.markDone(2)
		if live(2, at) {
			t.Fatal("a DONE token is live")
		}
		if !live(3, at) || live(3, at.Add(q.idle)) {
			t.Fatal("user 3 (waiting, idle after the timeout) answered wrong")
		}
	})
}

// TestProofOfWorkBitsSetting: Configure writes the setting, Patch changes it and
// reports it, and a concert with no configuration has none.
func TestProofOfWorkBitsSetting(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		bits, ok, err := q.s.ProofOfWorkBits(q.ctx, q.c)
		if err != nil || !ok || bits != 0 {
			t.Fatalf("configured without bits: %d, %v, %v", bits, ok, err)
		}
		q.configure(t0, engine.QueueSettings{AdmitPerSecond: 10, MaxActive: 10, ProofOfWorkBits: 12})
		if bits, _, _ := q.s.ProofOfWorkBits(q.ctx, q.c); bits != 12 {
			t.Fatalf("configured 12, read %d", bits)
		}
		n := 20
		got, err := q.s.Patch(q.ctx, q.c, engine.QueuePatch{ProofOfWorkBits: &n})
		if err != nil || got.ProofOfWorkBits != 20 || got.AdmitPerSecond != 10 {
			t.Fatalf("Patch = %+v, %v", got, err)
		}
		rate := 50
		got, err = q.s.Patch(q.ctx, q.c, engine.QueuePatch{AdmitPerSecond: &rate})
		if err != nil || got.ProofOfWorkBits != 20 || got.AdmitPerSecond != 50 {
			t.Fatalf("Patch of another field = %+v, %v", got, err)
		}
		if bits, _, _ := q.s.ProofOfWorkBits(q.ctx, q.c); bits != 20 {
			t.Fatalf("patched 20, read %d", bits)
		}
		if _, ok, err := q.s.ProofOfWorkBits(q.ctx, q.c+1_000_000); ok || err != nil {
			t.Fatalf("unconfigured concert: ok %v, err %v", ok, err)
		}
	})
}
