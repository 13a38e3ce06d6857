package redisstore

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

// TestEnterBatchDecidesInOrder runs one enter.lua call for entries that depend on
// each other: each must be decided as if it ran alone after the ones before it.
func TestEnterBatchDecidesInOrder(t *testing.T) {
	eachQueueBackend(t, func(t *testing.T, q *qfix) {
		q.enter(9, qt0) // already in line before the batch
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
			batch[i] = &enterCall{req: enterReq{userID: c.uid, now: qt0.Add(time.Second), idle: q.idle, score: c.score}}
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
			{req: enterReq{userID: 1, now: qt0, idle: q.idle, score: -1}},
			{req: enterReq{userID: 2, now: qt0, idle: q.idle, score: -1}},
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
		now := qt0
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
		single.configure(qt0, engine.QueueSettings{AdmitPerSecond: 1000, MaxActive: 1000})
		// The same history on both concerts: users 1-20 in line since qt0, of whom
		// 1-6 were admitted and 6 finished; then the clock passes the idle timeout,
		// and 7-10 poll, so only 11-20 go idle.
		now := qt0.Add(q.idle + time.Minute)
		for _, f := range []*qfix{q, single} {
			f.enterMany(1, 20, qt0)
			admit := engine.AdmitParams{ActiveTTL: time.Hour, MaxBatch: 6}
			f.admitWith(qt0.Add(time.Second), admit) // the bucket starts empty
			if r := f.admitWith(qt0.Add(2*time.Second), admit); r.Admitted != 6 {
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
