package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/storetest"
)

// The package's test fixtures: the Redis backends every test runs on, a seat
// fixture (one concert, one schedule) and a queue fixture (one configured concert).

// t0 is the tests' clock; time moves only by adding to it.
var t0 = time.UnixMilli(1_900_000_000_000).UTC()

// atOnce calls fn(0) … fn(n-1), each on a goroutine of its own, releases them
// together and waits for them all.
func atOnce(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// backend is one Redis a test runs against, with a fresh key prefix.
type backend struct {
	s    *Store
	rdb  redis.UniversalClient
	real bool
}

// eachRedis runs fn as a parallel subtest against real Redis, a real Redis
// Cluster and miniredis, each with a key prefix of its own; real is false for
// miniredis.
func eachRedis(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient, prefix string, real bool)) {
	t.Helper()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		rdb, prefix := storetest.Redis(t)
		fn(t, rdb, prefix, true)
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		rdb, prefix := storetest.Cluster(t)
		fn(t, rdb, prefix, true)
	})
	t.Run("miniredis", func(t *testing.T) {
		t.Parallel()
		_, rdb := storetest.Miniredis(t)
		fn(t, rdb, storetest.RandomName("t"), false)
	})
}

// eachBackend runs fn on each Redis of eachRedis.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string, real bool) {
		fn(t, backend{s: New(rdb, prefix, nil), rdb: rdb, real: real})
	})
}

// realBackend is the real Redis with a key prefix of its own, for benchmarks.
func realBackend(tb testing.TB) backend {
	rdb, prefix := storetest.Redis(tb)
	return backend{s: New(rdb, prefix, nil), rdb: rdb, real: true}
}

// fixture is one concert with one 100-seat schedule on a backend.
type fixture struct {
	backend
	t     testing.TB
	ctx   context.Context
	c     int64
	sched engine.Schedule
	max   int
}

var nextConcert atomic.Int64

// newFixture marks the schedule rebuilt, as the engine does before its first hold:
// hold.lua and SeatMap refuse a schedule whose sold seats were never loaded.
func newFixture(t testing.TB, b backend) *fixture {
	c := 1000 + nextConcert.Add(1)
	f := &fixture{
		backend: b, t: t, ctx: context.Background(), c: c, max: 4,
		sched: engine.Schedule{ID: c*10 + 1, ConcertID: c, SeatCount: 100, Price: 50000},
	}
	if err := f.s.setRebuilt(f.ctx, f.c, f.sched.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) token(uid int64) engine.Token {
	return engine.Token{ConcertID: f.c, UserID: uid, Gen: 1, IssuedAt: t0}
}

// tokenRecord is a token record as enter.lua writes it, last polled when issued.
func tokenRecord(gen int64, issued time.Time) string {
	return fmt.Sprintf("%d:%d:%d", gen, issued.Unix(), issued.UnixMilli()%1000)
}

// activate writes an ACTIVE token the way the queue's admission does: gen 1 and a
// lease in the active zset.
func (f *fixture) activate(uid int64, until time.Time) {
	f.t.Helper()
	k := f.s.keys
	if err := f.rdb.HSet(f.ctx, k.tokens(f.c), uid, tokenRecord(1, t0)).Err(); err != nil {
		f.t.Fatal(err)
	}
	if err := f.rdb.ZAdd(f.ctx, k.active(f.c), redis.Z{Score: float64(until.UnixMilli()), Member: uid}).Err(); err != nil {
		f.t.Fatal(err)
	}
}

// wait writes a WAITING token: current gen, in the wait zset, no lease.
func (f *fixture) wait(uid int64) {
	f.t.Helper()
	k := f.s.keys
	if err := f.rdb.HSet(f.ctx, k.tokens(f.c), uid, tokenRecord(1, t0)).Err(); err != nil {
		f.t.Fatal(err)
	}
	if err := f.rdb.ZAdd(f.ctx, k.wait(f.c), redis.Z{Score: 1, Member: uid}).Err(); err != nil {
		f.t.Fatal(err)
	}
}

// hold holds seat for uid at now with a 1-minute hold TTL.
func (f *fixture) hold(uid int64, seat int, now time.Time) (engine.HoldResult, error) {
	return f.holdToken(f.token(uid), seat, now)
}

func (f *fixture) holdToken(tok engine.Token, seat int, now time.Time) (engine.HoldResult, error) {
	id, err := f.s.NextReservationID(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.s.Hold(f.ctx, engine.HoldRequest{
		Token: tok, ReservationID: id, Schedule: f.sched, Seat: seat,
		Now: now, Deadline: now.Add(time.Minute), MaxHolds: f.max,
	})
}

func (f *fixture) mustHold(uid int64, seat int, now time.Time) engine.Reservation {
	f.t.Helper()
	r, err := f.hold(uid, seat, now)
	if err != nil || !r.Created {
		f.t.Fatalf("hold seat %d by %d: created=%v err=%v", seat, uid, r.Created, err)
	}
	return r.Reservation
}

func (f *fixture) seatMap(now time.Time) engine.SeatMap {
	f.t.Helper()
	m, err := f.s.SeatMap(f.ctx, f.c, f.sched.ID, f.sched.SeatCount, now)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) counts(now time.Time) (sold, held int64) {
	f.t.Helper()
	sold, held, err := f.s.Counts(f.ctx, f.c, f.sched.ID, now)
	if err != nil {
		f.t.Fatal(err)
	}
	return sold, held
}

func (f *fixture) state(rid int64, now time.Time) engine.ReservationState {
	f.t.Helper()
	r, err := f.s.Reservation(f.ctx, f.c, rid, now)
	if err != nil {
		f.t.Fatal(err)
	}
	return r.State
}

func (f *fixture) holder(seat int) string {
	v, _ := f.rdb.HGet(f.ctx, f.s.keys.holders(f.c, f.sched.ID), strconv.Itoa(seat)).Result()
	return v
}

// requireHolderInvariant: a seat has a holder exactly while it is in the holds
// or the paying set, and its tag byte is its holder's HolderTag exactly then
// (0 otherwise). Cancel, payment and release decide whose a seat is from its
// holder alone, and the seat map reads holds from the tags, so every script that
// moves a seat must keep the three in step.
func (f *fixture) requireHolderInvariant() {
	f.t.Helper()
	k := f.s.keys
	owners, err := f.rdb.HGetAll(f.ctx, k.holders(f.c, f.sched.ID)).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	tags, err := f.rdb.Get(f.ctx, k.tags(f.c, f.sched.ID)).Bytes()
	if err != nil && !errors.Is(err, redis.Nil) {
		f.t.Fatal(err)
	}
	for n := 1; n <= max(len(tags)-1, f.sched.SeatCount); n++ {
		var want, got byte
		if o, ok := owners[strconv.Itoa(n)]; ok {
			_, uid, _ := parseHolder(o)
			want = engine.HolderTag(uid)
		}
		if n < len(tags) {
			got = tags[n]
		}
		if got != want {
			f.t.Fatalf("seat %d: tag %d, want %d (holder %q)", n, got, want, owners[strconv.Itoa(n)])
		}
	}
	inSets := map[string]bool{}
	for _, set := range []string{k.holds(f.c, f.sched.ID), k.paying(f.c, f.sched.ID)} {
		seats, err := f.rdb.ZRange(f.ctx, set, 0, -1).Result()
		if err != nil {
			f.t.Fatal(err)
		}
		for _, seat := range seats {
			inSets[seat] = true
		}
	}
	holders, err := f.rdb.HKeys(f.ctx, k.holders(f.c, f.sched.ID)).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, seat := range holders {
		if !inSets[seat] {
			f.t.Fatalf("seat %s has a holder but is in neither the holds nor the paying set", seat)
		}
		delete(inSets, seat)
	}
	for seat := range inSets {
		f.t.Fatalf("seat %s is held or being paid for but has no holder", seat)
	}
}

func (f *fixture) liveHolds(uid int64) int64 {
	f.t.Helper()
	n, err := f.rdb.ZCard(f.ctx, f.s.keys.userHolds(f.c, uid)).Result()
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func wantErr(t testing.TB, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("unexpected error %v", got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %v", got, want)
	}
}

const qIdle = 2 * time.Minute

// qParams are the engine's defaults, with batches big enough not to bind unless a
// test says so; the idle timeout is qfix.idle, so one test uses one throughout.
var qParams = engine.AdmitParams{ActiveTTL: 10 * time.Minute, MaxBatch: 10_000, MaxIdleScan: 10_000}

// qfix is one configured concert on one backend.
type qfix struct {
	t   testing.TB
	ctx context.Context
	s   *Store
	rdb redis.UniversalClient
	c   int64
	// idle is the idle timeout of the helpers' Enter, Status and Admit calls; tests
	// that do not poll raise it.
	idle time.Duration
	gens map[int64]int64 // each user's gen from their last Enter
}

var queueConcerts atomic.Int64

// eachQueueBackend runs fn on each Redis of eachRedis, each with a fresh concert
// (open at t0, 1000/s, 1000 active).
func eachQueueBackend(t *testing.T, fn func(t *testing.T, q *qfix)) {
	t.Helper()
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string, _ bool) {
		q := &qfix{t: t, ctx: context.Background(), s: New(rdb, prefix, nil), rdb: rdb, c: 5000 + queueConcerts.Add(1), idle: qIdle}
		q.configure(t0, engine.QueueSettings{AdmitPerSecond: 1000, MaxActive: 1000})
		fn(t, q)
	})
}

// realQueue is concert 1 on realBackend, configured as eachQueueBackend
// configures its concerts, with idle as the helpers' idle timeout; for
// benchmarks.
func realQueue(tb testing.TB, idle time.Duration) *qfix {
	r := realBackend(tb)
	q := &qfix{t: tb, ctx: context.Background(), s: r.s, rdb: r.rdb, c: 1, idle: idle}
	q.configure(t0, engine.QueueSettings{AdmitPerSecond: 1000, MaxActive: 1000})
	return q
}

func (q *qfix) configure(opens time.Time, st engine.QueueSettings) {
	q.t.Helper()
	if err := q.s.Configure(q.ctx, engine.QueueConfig{ConcertID: q.c, SaleOpensAt: opens, Settings: st}); err != nil {
		q.t.Fatal(err)
	}
}

func (q *qfix) enterScore(uid int64, now time.Time, score int64) engine.EnterResult {
	q.t.Helper()
	r, err := q.s.Enter(q.ctx, q.c, uid, now, q.idle, score)
	if err != nil {
		q.t.Fatalf("enter %d: %v", uid, err)
	}
	if q.gens == nil {
		q.gens = map[int64]int64{}
	}
	q.gens[uid] = r.Gen
	return r
}

// gen is the user's gen from their last Enter (0, which no token has, if none).
func (q *qfix) gen(uid int64) int64 { return q.gens[uid] }

// markDone does to a token record what pay_complete.lua does when its user paid
// for everything.
func (q *qfix) markDone(uid int64) {
	q.t.Helper()
	k, f := q.s.keys.tokens(q.c), strconv.FormatInt(uid, 10)
	rec, err := q.rdb.HGet(q.ctx, k, f).Result()
	if err == nil {
		err = q.rdb.HSet(q.ctx, k, f, rec+":d").Err()
	}
	if err != nil {
		q.t.Fatalf("mark %d done: %v", uid, err)
	}
}

func (q *qfix) enter(uid int64, now time.Time) engine.EnterResult {
	q.t.Helper()
	return q.enterScore(uid, now, -1)
}

func (q *qfix) tok(uid, gen int64) engine.Token {
	return engine.Token{ConcertID: q.c, UserID: uid, Gen: gen, IssuedAt: t0}
}

func (q *qfix) status(uid, gen int64, now time.Time) engine.TokenStatus {
	q.t.Helper()
	st, err := q.s.Status(q.ctx, q.tok(uid, gen), now, q.idle)
	if err != nil {
		q.t.Fatalf("status %d: %v", uid, err)
	}
	return st
}

func (q *qfix) admitWith(now time.Time, p engine.AdmitParams) engine.AdmitResult {
	q.t.Helper()
	p.IdleTimeout = q.idle
	r, err := q.s.Admit(q.ctx, q.c, now, p)
	if err != nil {
		q.t.Fatalf("admit: %v", err)
	}
	return r
}

func (q *qfix) admit(now time.Time) engine.AdmitResult {
	q.t.Helper()
	return q.admitWith(now, qParams)
}

func (q *qfix) stats(now time.Time) engine.QueueStats {
	q.t.Helper()
	return must[engine.QueueStats](q.t, "stats")(q.s.Stats(q.ctx, q.c, now))
}

func (q *qfix) patch(p engine.QueuePatch) engine.QueueSettings {
	q.t.Helper()
	return must[engine.QueueSettings](q.t, "patch")(q.s.Patch(q.ctx, q.c, p))
}

// must fails the test when a call named what returns an error, and otherwise
// passes its value on: must(t, "stats")(s.Stats(...)).
func must[T any](t testing.TB, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// lineUp configures st, lets nobody idle out, queues users 1..n 1 ms apart from
// t0 and runs the admission step at t0, which starts the token bucket empty.
func (q *qfix) lineUp(st engine.QueueSettings, n int64) {
	q.t.Helper()
	q.configure(t0, st)
	q.idle = time.Hour
	q.enterMany(1, n, t0)
	q.admit(t0)
}

// enterMany queues users from..to one after another, 1 ms apart from at.
func (q *qfix) enterMany(from, to int64, at time.Time) {
	q.t.Helper()
	for uid := from; uid <= to; uid++ {
		q.enter(uid, at.Add(time.Duration(uid-from)*time.Millisecond))
	}
}

// wantState fails unless uid's current token is in state want (and, when WAITING,
// at rank).
func (q *qfix) wantState(uid int64, now time.Time, want engine.TokenState, rank int64) {
	q.t.Helper()
	st := q.status(uid, q.gen(uid), now)
	if st.State != want || (want == engine.TokenWaiting && st.Rank != rank) {
		q.t.Fatalf("user %d: %+v, want %s rank %d", uid, st, want, rank)
	}
}

func qptr[T any](v T) *T { return &v }
