package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/store/ledgertest"
	"github.com/concertd/concertd/store/memstore"
	"github.com/concertd/concertd/store/pgstore"
	"github.com/concertd/concertd/store/redisstore"
	"github.com/concertd/concertd/store/storetest"
)

// t0 is where every test's simulated clock starts; time moves only by Advance.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

var secret = []byte("engine-test-secret")

// env is one engine over one backend: the shared Redis state, the ledger and a
// simulated clock. Tests that need several instances call another().
type env struct {
	t      *testing.T
	ctx    context.Context
	cfg    engine.Config
	clk    *clock.Simulated
	e      *engine.Engine
	ledger ledgertest.Ledger
	store  *redisstore.Store
	rdb    *redis.Client
	prefix string
	mr     *miniredis.Miniredis // fast backend only
	dbURL  string               // real backend only
}

// eachBackend runs fn as parallel subtests: "real" (Redis and PostgreSQL servers,
// each test with its own key prefix and database) and "fast" (miniredis and the
// in-memory ledger).
func eachBackend(t *testing.T, cfg engine.Config, fn func(t *testing.T, v *env)) {
	t.Helper()
	t.Run("real", func(t *testing.T) {
		t.Parallel()
		fn(t, realEnv(t, cfg))
	})
	t.Run("fast", func(t *testing.T) {
		t.Parallel()
		fn(t, fastEnv(t, cfg))
	})
}

func realEnv(t *testing.T, cfg engine.Config) *env {
	t.Helper()
	rdb, prefix := storetest.Redis(t)
	url := storetest.Database(t)
	ctx := context.Background()
	l, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close) // before the database is dropped: cleanups run last-in first-out
	return newEnv(t, cfg, rdb, prefix, l, nil, url)
}

func fastEnv(t *testing.T, cfg engine.Config) *env {
	t.Helper()
	mr, rdb := storetest.Miniredis(t)
	return newEnv(t, cfg, rdb, "concertd", memstore.New(), mr, "")
}

func newEnv(t *testing.T, cfg engine.Config, rdb *redis.Client, prefix string, l ledgertest.Ledger, mr *miniredis.Miniredis, url string) *env {
	cfg.Secret = secret
	s := redisstore.New(rdb, prefix, l)
	clk := clock.NewSimulated(t0)
	return &env{
		t: t, ctx: context.Background(), cfg: cfg, clk: clk,
		e:      engine.New(cfg, clk, s.Roles(l)),
		ledger: l, store: s, rdb: rdb, prefix: prefix, mr: mr, dbURL: url,
	}
}

// another is a second instance sharing this one's Redis, ledger and clock, with its
// own caches and its own block of reservation ids.
func (v *env) another() *engine.Engine {
	return engine.New(v.cfg, v.clk, redisstore.New(v.rdb, v.prefix, v.ledger).Roles(v.ledger))
}

// key names a concert's Redis key the way store/redisstore/keys.go does, for the
// few assertions the engine's API cannot make (a PAYING seat, the sold bitmap).
func (v *env) key(concertID int64, rest string) string {
	return v.prefix + ":{c" + strconv.FormatInt(concertID, 10) + "}:" + rest
}

// flush loses every key of this test's shared state, as a Redis restarted empty.
func (v *env) flush() {
	v.t.Helper()
	if v.mr != nil {
		v.mr.FlushAll()
		return
	}
	if keys := v.keys(v.prefix + ":*"); len(keys) > 0 {
		if err := v.rdb.Del(v.ctx, keys...).Err(); err != nil {
			v.t.Fatal(err)
		}
	}
	if n := v.keys(v.prefix + ":*"); len(n) != 0 {
		v.t.Fatalf("%d keys left after flush", len(n))
	}
}

// keys lists this test's Redis keys that match pattern (a concert's: v.key(id, "*")).
func (v *env) keys(pattern string) []string {
	v.t.Helper()
	keys, err := v.rdb.Keys(v.ctx, pattern).Result()
	if err != nil {
		v.t.Fatal(err)
	}
	return keys
}

// show is a concert to create; zero fields take the tests' defaults.
type show struct {
	opensAt   time.Time
	rate      int
	maxActive int
	seats     []int // one schedule per entry
	price     int64
}

// concert creates a concert, open now unless said otherwise, whose queue admits
// everyone in one step unless said otherwise.
func (v *env) concert(s show) (engine.Concert, []engine.Schedule) {
	v.t.Helper()
	if s.rate == 0 {
		s.rate = 100_000
	}
	if s.maxActive == 0 {
		s.maxActive = 100_000
	}
	if len(s.seats) == 0 {
		s.seats = []int{100}
	}
	if s.price == 0 {
		s.price = 50_000
	}
	nc := engine.NewConcert{
		Title: "Test show", SaleOpensAt: s.opensAt,
		Queue: engine.QueueSettings{AdmitPerSecond: s.rate, MaxActive: s.maxActive},
	}
	for i, n := range s.seats {
		nc.Schedules = append(nc.Schedules, engine.NewSchedule{
			Date: t0.AddDate(0, 1, i).Format(time.DateOnly), SeatCount: n, Price: s.price + int64(i)*10_000,
		})
	}
	c, ss, err := v.e.CreateConcert(v.ctx, nc)
	if err != nil {
		v.t.Fatal(err)
	}
	return c, ss
}

var userSeq atomic.Int64

// users creates n users in parallel and returns their ids.
func (v *env) users(n int) []int64 {
	v.t.Helper()
	ids := make([]int64, n)
	parallel(v.t, n, 16, func(i int) error {
		id, err := v.e.CreateUser(v.ctx, "Fan", fmt.Sprintf("fan%d@example.com", userSeq.Add(1)), "")
		ids[i] = id
		return err
	})
	return ids
}

// enter issues a token and decodes it.
func (v *env) enter(e *engine.Engine, uid, concertID int64) (engine.Token, engine.TokenGrant) {
	v.t.Helper()
	g, err := e.IssueToken(v.ctx, uid, concertID)
	if err != nil {
		v.t.Fatalf("issue token for user %d: %v", uid, err)
	}
	tok, err := e.Authenticate(g.Token)
	if err != nil {
		v.t.Fatal(err)
	}
	return tok, g
}

// admitted creates n users and makes each ACTIVE on the concert, whose rate must
// be at least n: the admission bucket starts empty and fills for one second.
func (v *env) admitted(n int, concertID int64) []engine.Token {
	v.t.Helper()
	ids := v.users(n)
	toks := make([]engine.Token, n)
	parallel(v.t, n, 16, func(i int) error {
		g, err := v.e.IssueToken(v.ctx, ids[i], concertID)
		if err != nil {
			return err
		}
		toks[i], err = v.e.Authenticate(g.Token)
		return err
	})
	v.admitWaiting()
	st := v.stats(concertID)
	if st.Active < int64(n) {
		v.t.Fatalf("%d of %d tokens active", st.Active, n)
	}
	return toks
}

// pause stops admission on a concert, so waiters stay in line until a test moves them.
func (v *env) pause(concertID int64) {
	v.t.Helper()
	paused := true
	if _, err := v.e.PatchQueue(v.ctx, concertID, engine.QueuePatch{Paused: &paused}); err != nil {
		v.t.Fatal(err)
	}
}

func (v *env) admitStep() {
	v.t.Helper()
	if err := v.e.AdmitOnce(v.ctx); err != nil {
		v.t.Fatal(err)
	}
}

// admitWaiting runs two admission steps a second apart: the first starts the
// admission bucket, the second admits a second's worth of waiters (everyone, at
// the tests' default rate).
func (v *env) admitWaiting() {
	v.t.Helper()
	v.admitStep()
	v.clk.Advance(time.Second)
	v.admitStep()
}

// buyer makes one new user ACTIVE on the concert with money in their wallet.
func (v *env) buyer(concertID, money int64) engine.Token {
	v.t.Helper()
	tok := v.admitted(1, concertID)[0]
	v.charge(tok, money)
	return tok
}

func (v *env) stats(concertID int64) engine.Stats {
	v.t.Helper()
	st, err := v.e.Stats(v.ctx, concertID)
	if err != nil {
		v.t.Fatal(err)
	}
	return st
}

func (v *env) charge(t engine.Token, amount int64) {
	v.t.Helper()
	if _, err := v.e.Charge(v.ctx, t, amount, ""); err != nil {
		v.t.Fatal(err)
	}
}

func (v *env) balance(t engine.Token) engine.BalanceView {
	v.t.Helper()
	b, err := v.e.Balance(v.ctx, t, 200)
	if err != nil {
		v.t.Fatal(err)
	}
	return b
}

func (v *env) hold(t engine.Token, scheduleID int64, seat int) engine.Reservation {
	v.t.Helper()
	r, created, err := v.e.Hold(v.ctx, t, scheduleID, seat)
	if err != nil || !created {
		v.t.Fatalf("hold seat %d by user %d: created=%v err=%v", seat, t.UserID, created, err)
	}
	return r
}

// holds holds the seats of a schedule in the order given.
func (v *env) holds(t engine.Token, scheduleID int64, seats ...int) []engine.Reservation {
	v.t.Helper()
	rs := make([]engine.Reservation, len(seats))
	for i, seat := range seats {
		rs[i] = v.hold(t, scheduleID, seat)
	}
	return rs
}

// sold creates a concert of one schedule of n seats and sells the seats given to
// one buyer, holding them all and then paying each. It returns the concert, the
// schedule's id and the paid reservations.
func (v *env) sold(n int, seats ...int) (engine.Concert, int64, []engine.Reservation) {
	v.t.Helper()
	c, ss := v.concert(show{seats: []int{n}})
	buyer := v.buyer(c.ID, 1_000_000)
	rs := v.holds(buyer, ss[0].ID, seats...)
	for _, r := range rs {
		v.pay(buyer, r)
	}
	return c, ss[0].ID, rs
}

func (v *env) pay(t engine.Token, r engine.Reservation) engine.Sale {
	v.t.Helper()
	s, err := v.e.Pay(v.ctx, t, r.ID, r.Price, "")
	if err != nil {
		v.t.Fatalf("pay reservation %d: %v", r.ID, err)
	}
	return s
}

func (v *env) reservation(t engine.Token, id int64) engine.Reservation {
	v.t.Helper()
	r, err := v.e.Reservation(v.ctx, t, id)
	if err != nil {
		v.t.Fatal(err)
	}
	return r
}

// seatMap reads a fresh seat map: the clock first moves past the engine's 100 ms
// view cache, so the map shows what Redis holds now.
func (v *env) seatMap(e *engine.Engine, t engine.Token, scheduleID int64) *engine.SeatMapView {
	v.t.Helper()
	v.clk.Advance(150 * time.Millisecond)
	m, err := e.SeatMap(v.ctx, t, scheduleID)
	if err != nil {
		v.t.Fatal(err)
	}
	return m
}

func (v *env) sweep() {
	v.t.Helper()
	if err := v.e.SweepOnce(v.ctx); err != nil {
		v.t.Fatal(err)
	}
}

// crashAfterLedger is a Payments whose CompletePayment does nothing and fails while
// crashed: the process died after the ledger committed (step 2) and before Redis
// heard of it (step 3).
type crashAfterLedger struct {
	engine.Payments
	crashed atomic.Bool
}

func (c *crashAfterLedger) CompletePayment(ctx context.Context, r engine.Reservation, now time.Time) (bool, error) {
	if c.crashed.Load() {
		return false, errors.New("injected crash before step 3")
	}
	return c.Payments.CompletePayment(ctx, r, now)
}

// crashable puts a crashAfterLedger in front of the shared state's payments and
// makes v.e an engine over it; the test crashes and revives it through crashed.
func (v *env) crashable() *crashAfterLedger {
	seats := &crashAfterLedger{Payments: v.store}
	st := v.store.Roles(v.ledger)
	st.Payments = seats
	v.e = engine.New(v.cfg, v.clk, st)
	return seats
}

// eachOutcome runs fn in parallel on every backend for both ends of a payment
// whose ledger reply was lost: commit true, the sale committed before the reply
// was lost; false, it never did.
func eachOutcome(t *testing.T, fn func(t *testing.T, v *env, commit bool)) {
	t.Helper()
	for _, commit := range []bool{true, false} {
		name := map[bool]string{true: "committed", false: "not committed"}[commit]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			eachBackend(t, engine.Config{}, func(t *testing.T, v *env) { fn(t, v, commit) })
		})
	}
}

// payments counts a user's payment history rows and their total.
func payments(b engine.BalanceView) (n int, total int64) {
	for _, h := range b.History {
		if h.Type == "payment" {
			n++
			total -= h.Amount
		}
	}
	return n, total
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func wantErr(t testing.TB, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %v", got, want)
	}
}

func isCode(err error, c engine.Code) bool {
	var e *engine.Error
	return errors.As(err, &e) && e.Code == c
}

// wantKey checks that e takes key as the key of user.
func (v *env) wantKey(e *engine.Engine, key string, user int64, what string) {
	v.t.Helper()
	if id, err := e.CheckUserKey(v.ctx, key); err != nil || id != user {
		v.t.Fatalf("%s = %d, %v; want user %d", what, id, err, user)
	}
}

// wantKeyRefused checks that e refuses key as TOKEN_INVALID.
func (v *env) wantKeyRefused(e *engine.Engine, key, what string) {
	v.t.Helper()
	if _, err := e.CheckUserKey(v.ctx, key); !isCode(err, engine.CodeTokenInvalid) {
		v.t.Fatalf("%s: %v, want TOKEN_INVALID", what, err)
	}
}

// race makes n attempts at once and counts those that succeeded and those refused
// with want; any other outcome fails the test.
func race(t *testing.T, n int, want error, attempt func(i int) error) (won, refused int) {
	t.Helper()
	c := ledgertest.Count(t, ledgertest.AtOnce(n, attempt), want)
	return c[nil], c[want]
}

// wantOnePaid makes n attempts to pay the same holds at once, each within a
// request's timeout: exactly one must pay, and every other hear ALREADY_PAID.
func wantOnePaid(t *testing.T, n int, pay func(ctx context.Context, i int) error) {
	t.Helper()
	won, _ := race(t, n, engine.ErrAlreadyPaid, func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return pay(ctx, i)
	})
	if won != 1 {
		t.Fatalf("%d attempts paid, want 1", won)
	}
}

// tryHold is Hold as one error, nil only when the hold was created; an error
// names the user and seat.
func (v *env) tryHold(t engine.Token, scheduleID int64, seat int) error {
	_, created, err := v.e.Hold(v.ctx, t, scheduleID, seat)
	switch {
	case err != nil:
		return fmt.Errorf("user %d, seat %d: %w", t.UserID, seat, err)
	case !created:
		return fmt.Errorf("user %d, seat %d: an existing hold came back", t.UserID, seat)
	}
	return nil
}

// parallel runs f(0..n-1) on `workers` goroutines and fails the test on the first
// error.
func parallel(t testing.TB, n, workers int, f func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = fmt.Errorf("item %d: %w", i, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}
