// Package ledgertest is the conformance suite every ledger must pass. It
// exists so the PostgreSQL ledger and the in-memory one cannot drift apart: the
// engine is tested against memory and runs against PostgreSQL, and that is only
// sound if both answer every question the same way, races included.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// Ledger is a whole ledger: every ledger role the engine has, and what the Redis
// store reads to rebuild itself, in one store.
type Ledger interface {
	engine.Users
	engine.Concerts
	engine.Wallet
	engine.Sales
	engine.Pinger
	// What store/redisstore reads to rebuild Redis (redisstore.Ledger).
	MaxReservationID(ctx context.Context) (int64, error)
	BoughtCounts(ctx context.Context, concertID int64) (map[int64]int, error)
}

// Purger is implemented by ledgers that forget old idempotency keys; the suite tests
// it when the ledger has it.
type Purger interface {
	PurgeIdempotencyKeys(ctx context.Context, olderThan time.Duration) (int64, error)
}

// Run runs the suite. open must return a fresh, empty ledger for each call; subtests
// run in parallel, each on its own ledger.
func Run(t *testing.T, open func(t *testing.T) Ledger) {
	tests := []struct {
		name string
		fn   func(t *testing.T, l Ledger)
	}{
		{"Users", testUsers},
		{"IdempotentUserCreation", testIdempotentUserCreation},
		{"CatalogRoundTrip", testCatalog},
		{"SaveQueueSettings", testSaveQueueSettings},
		{"ChargeBounds", testChargeBounds},
		{"ConcurrentCharges", testConcurrentCharges},
		{"IdempotentCharge", testIdempotentCharge},
		{"BalanceHistory", testBalanceHistory},
		{"SellErrors", testSellErrors},
		{"ConcurrentSellsOneReservation", testConcurrentSellsOneReservation},
		{"ConcurrentSellsOneBalance", testConcurrentSellsOneBalance},
		{"ConcurrentSellsOneSeat", testConcurrentSellsOneSeat},
		{"IdempotentSell", testIdempotentSell},
		{"SaleQueries", testSaleQueries},
		{"MoneyConservation", testMoneyConservation},
		{"PurgeIdempotencyKeys", testPurge},
		{"UserKeyGenerations", testUserKeyGens},            // userkeys.go
		{"ExternalUsers", testExternalUsers},               // identity.go
		{"ConcurrentFirstSight", testConcurrentFirstSight}, // identity.go
		{"Presale", testPresale},
		{"PresaleCodeRace", testPresaleCodeRace},
		{"PaymentFence", testPaymentFence},
		{"CloseSale", testCloseSale},
		{"BoughtCounts", testBoughtCounts},
		{"ReservationIDBlocks", testReservationIDBlocks}, // ids.go
		{"TicketLimitRace", testTicketLimitRace},
		{"SellMany", testSellMany},                                   // multipay.go
		{"SellManyRefusals", testSellManyRefusals},                   // multipay.go
		{"IdempotentSellMany", testIdempotentSellMany},               // multipay.go
		{"ConcurrentSellManyOnePair", testConcurrentSellManyOnePair}, // multipay.go
		{"SellManyTicketLimit", testSellManyTicketLimit},             // multipay.go
		{"SellManyFence", testSellManyFence},                         // multipay.go
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// fixture builds the data each test needs through the Ledger itself, so the suite
// works unchanged on any implementation.
type fixture struct {
	t   *testing.T
	l   Ledger
	ctx context.Context
}

func newFixture(t *testing.T, l Ledger) *fixture {
	return &fixture{t: t, l: l, ctx: t.Context()}
}

// role is l as T, one of the engine's interfaces beside Ledger (engine.MultiSeller,
// engine.PaymentFence, engine.PresaleLedger, engine.ExternalUsers,
// engine.UserKeyLedger) that every ledger of this repository implements; a ledger
// without it fails the test.
func role[T any](t *testing.T, l Ledger) T {
	t.Helper()
	x, ok := l.(T)
	if !ok {
		t.Fatalf("%T does not implement %v, which every ledger of this repository does", l, reflect.TypeFor[T]())
	}
	return x
}

var emailSeq atomic.Int64

func (f *fixture) user(balance int64) int64 {
	f.t.Helper()
	id, err := f.l.CreateUser(f.ctx, "user", fmt.Sprintf("u%d@example.com", emailSeq.Add(1)), engine.Idempotency{})
	if err != nil {
		f.t.Fatalf("CreateUser: %v", err)
	}
	if balance > 0 {
		if got, err := f.l.Charge(f.ctx, id, balance, engine.MaxBalance, engine.Idempotency{}); err != nil || got != balance {
			f.t.Fatalf("Charge(%d) = %d, %v", balance, got, err)
		}
	}
	return id
}

func (f *fixture) schedule(seats int, price int64) engine.Schedule {
	f.t.Helper()
	_, ss, err := f.l.CreateConcert(f.ctx, engine.NewConcert{
		Title: "Show", SaleOpensAt: time.Now(), Queue: engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000},
		Schedules: []engine.NewSchedule{{Date: "2030-12-24", SeatCount: seats, Price: price}},
	})
	if err != nil || len(ss) != 1 {
		f.t.Fatalf("CreateConcert: %v, %d schedules", err, len(ss))
	}
	return ss[0]
}

func (f *fixture) balance(userID int64) (int64, []engine.LedgerEntry) {
	f.t.Helper()
	b, h, err := f.l.Balance(f.ctx, userID, 1000)
	if err != nil {
		f.t.Fatalf("Balance(%d): %v", userID, err)
	}
	return b, h
}

// wantBalance checks the balance and how many history rows of each type exist.
func (f *fixture) wantBalance(userID, want int64, charges, payments int) {
	f.t.Helper()
	b, h := f.balance(userID)
	var c, p int
	for _, e := range h {
		switch e.Type {
		case "charge":
			c++
		case "payment":
			p++
		default:
			f.t.Errorf("history row of type %q", e.Type)
		}
	}
	if b != want || c != charges || p != payments {
		f.t.Errorf("user %d: balance %d with %d charges, %d payments; want %d with %d, %d",
			userID, b, c, p, want, charges, payments)
	}
}

func (f *fixture) sell(sch engine.Schedule, seat int, resID, userID int64, idem engine.Idempotency) (engine.Sale, error) {
	return f.l.Sell(f.ctx, engine.Sale{
		ReservationID: resID, ScheduleID: sch.ID, Seat: seat, UserID: userID, Amount: sch.Price,
	}, idem)
}

func testUsers(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	a, err := l.CreateUser(f.ctx, "Kim", "kim@example.com", engine.Idempotency{})
	if err != nil || a <= 0 {
		t.Fatalf("CreateUser = %d, %v", a, err)
	}
	b, err := l.CreateUser(f.ctx, "Lee", "lee@example.com", engine.Idempotency{})
	if err != nil || b <= 0 || b == a {
		t.Fatalf("second CreateUser = %d, %v (first %d)", b, err, a)
	}
	if _, err := l.CreateUser(f.ctx, "Kim again", "kim@example.com", engine.Idempotency{}); !errors.Is(err, engine.ErrEmailTaken) {
		t.Errorf("duplicate email: err = %v, want EMAIL_TAKEN", err)
	}
	for _, tc := range []struct {
		id   int64
		want bool
	}{{a, true}, {b, true}, {0, false}, {-1, false}, {b + 1000, false}} {
		if got, err := l.UserExists(f.ctx, tc.id); err != nil || got != tc.want {
			t.Errorf("UserExists(%d) = %v, %v; want %v", tc.id, got, err, tc.want)
		}
	}
	// Other tests may add users to the same ledger meanwhile: check what must hold.
	if got, err := l.UserIDsAbove(f.ctx, a-1, 1); err != nil || !slices.Equal(got, []int64{a}) {
		t.Errorf("UserIDsAbove(%d, 1) = %v, %v; want [%d]", a-1, got, err, a)
	}
	if got, err := l.UserIDsAbove(f.ctx, a-1, 1_000_000); err != nil || !slices.Contains(got, b) || !slices.IsSorted(got) || slices.ContainsFunc(got, func(id int64) bool { return id < a }) {
		t.Errorf("UserIDsAbove(%d) = %v, %v; want ascending ids from %d on, with %d", a-1, got, err, a, b)
	}
	if got, err := l.UserIDsAbove(f.ctx, b, 1_000_000); err != nil || slices.ContainsFunc(got, func(id int64) bool { return id <= b }) {
		t.Errorf("UserIDsAbove(%d) = %v, %v; want only ids above it", b, got, err)
	}
	// A failed duplicate must not have taken an id or left a user behind.
	if ok, _ := l.UserExists(f.ctx, b+1); ok {
		c, _ := l.CreateUser(f.ctx, "Park", "park@example.com", engine.Idempotency{})
		t.Errorf("user %d exists after a refused duplicate (next id %d)", b+1, c)
	}
	if got, h, err := l.Balance(f.ctx, a, 10); err != nil || got != 0 || len(h) != 0 {
		t.Errorf("new user's Balance = %d, %v, %v; want 0, [], nil", got, h, err)
	}
}

// testIdempotentUserCreation: a creation retried with its key gets the first id
// back, also after the email is taken (by that very creation) and when 20 retries
// race the first attempt; the key with another request, or in another namespace
// (a charge's), is refused or unrelated; and no retry leaves a second user.
func testIdempotentUserCreation(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	kim := engine.Idempotency{Key: "create-1", Fingerprint: "user:kim"}
	var (
		wg   sync.WaitGroup
		ids  [20]int64
		errs [20]error
	)
	for i := range ids {
		wg.Go(func() { ids[i], errs[i] = l.CreateUser(f.ctx, "Kim", "kim@example.com", kim) })
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] <= 0 || ids[i] != ids[0] {
			t.Fatalf("racing creations with one key: %v %v", ids, errs)
		}
	}
	id := ids[0]
	if again, err := l.CreateUser(f.ctx, "Kim", "kim@example.com", kim); err != nil || again != id {
		t.Errorf("retry = %d, %v; want %d", again, err, id)
	}
	// The same key for another request, even one that would succeed on its own.
	lee := engine.Idempotency{Key: "create-1", Fingerprint: "user:lee"}
	if _, err := l.CreateUser(f.ctx, "Lee", "lee@example.com", lee); !errors.Is(err, engine.ErrIdempotencyKeyReused) {
		t.Errorf("key reused for another user: %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	// Without the key, or with another one, the email is taken.
	for _, idem := range []engine.Idempotency{{}, {Key: "create-2", Fingerprint: "user:kim"}} {
		if _, err := l.CreateUser(f.ctx, "Kim", "kim@example.com", idem); !errors.Is(err, engine.ErrEmailTaken) {
			t.Errorf("key %q: %v, want EMAIL_TAKEN", idem.Key, err)
		}
	}
	// A creation's key is not a charge's: the user may use "create-1" for a charge.
	if b, err := l.Charge(f.ctx, id, 300, engine.MaxBalance, engine.Idempotency{Key: "create-1", Fingerprint: "charge:300"}); err != nil || b != 300 {
		t.Errorf("charge with a creation's key = %d, %v; want 300", b, err)
	}
	if got, err := l.UserIDsAbove(f.ctx, id, 100); err != nil || len(got) != 0 {
		t.Errorf("users after %d: %v, %v; want none (one user for all retries)", id, got, err)
	}
	lid, err := l.CreateUser(f.ctx, "Lee", "lee@example.com", engine.Idempotency{Key: "create-3", Fingerprint: "user:lee"})
	if err != nil || lid == id {
		t.Errorf("a fresh key and email = %d, %v", lid, err)
	}
}

func testCatalog(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	if cs, ss, err := l.Catalog(f.ctx); err != nil || len(cs) != 0 || len(ss) != 0 {
		t.Fatalf("empty Catalog = %v, %v, %v", cs, ss, err)
	}
	seoul := time.FixedZone("KST", 9*3600)
	opens := time.Date(2026, 11, 24, 19, 15, 0, 123456789, seoul)
	in := []engine.NewConcert{
		{
			Title: "First", Description: "two dates", SaleOpensAt: opens,
			Queue: engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000},
			Schedules: []engine.NewSchedule{
				{Date: "2026-12-24", SeatCount: 50, Price: 50000},
				{Date: "2026-12-25", SeatCount: 100000, Price: 1},
			},
		},
		{
			Title: "Second", SaleOpensAt: opens.Add(time.Hour),
			Queue:     engine.QueueSettings{AdmitPerSecond: 5, MaxActive: 7, Paused: true},
			Schedules: []engine.NewSchedule{{Date: "2027-01-01", SeatCount: 1, Price: 99}},
		},
		{
			// A layout: seat count and price come from the sections.
			Title: "Arena", SaleOpensAt: opens,
			Queue: engine.QueueSettings{AdmitPerSecond: 1, MaxActive: 1},
			Schedules: []engine.NewSchedule{{Date: "2027-02-01", Sections: []engine.Section{
				{Name: "VIP", Price: 150000, Rows: 5, SeatsPerRow: 20},
				{Name: "R", Price: 90000, Rows: 20, SeatsPerRow: 30},
			}}},
		},
		{Title: "No dates", SaleOpensAt: opens, Queue: engine.QueueSettings{AdmitPerSecond: 1, MaxActive: 1}},
	}
	var wantC []engine.Concert
	var wantS []engine.Schedule
	for _, nc := range in {
		c, ss, err := l.CreateConcert(f.ctx, nc)
		if err != nil {
			t.Fatalf("CreateConcert(%s): %v", nc.Title, err)
		}
		if c.ID <= 0 || c.Title != nc.Title || c.Description != nc.Description || c.Queue != nc.Queue {
			t.Errorf("CreateConcert returned %+v for %+v", c, nc)
		}
		if len(ss) != len(nc.Schedules) {
			t.Fatalf("CreateConcert(%s) returned %d schedules, want %d", nc.Title, len(ss), len(nc.Schedules))
		}
		for i, s := range ss {
			ns := nc.Schedules[i].Resolved()
			if !reflect.DeepEqual(s.Sections, ns.Sections) {
				t.Errorf("schedule %d sections = %+v, want %+v", i, s.Sections, ns.Sections)
			}
			if s.ID <= 0 || s.ConcertID != c.ID || s.ConcertTitle != nc.Title || s.Date != ns.Date ||
				s.SeatCount != ns.SeatCount || s.Price != ns.Price {
				t.Errorf("schedule %d = %+v, want %+v of concert %d", i, s, ns, c.ID)
			}
		}
		wantC = append(wantC, c)
		wantS = append(wantS, ss...)
	}
	cs, ss, err := l.Catalog(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(wantC) || len(ss) != len(wantS) {
		t.Fatalf("Catalog has %d concerts, %d schedules; want %d, %d", len(cs), len(ss), len(wantC), len(wantS))
	}
	for i := range cs {
		if i > 0 && cs[i].ID <= cs[i-1].ID {
			t.Errorf("concerts not ordered by id: %d after %d", cs[i].ID, cs[i-1].ID)
		}
		if cs[i].SaleOpensAt.Location() != time.UTC {
			t.Errorf("SaleOpensAt %v is not UTC", cs[i].SaleOpensAt)
		}
		if cs[i] != wantC[i] {
			t.Errorf("Catalog concert %d = %+v, want %+v", i, cs[i], wantC[i])
		}
	}
	wantOpens := opens.UTC().Truncate(time.Microsecond)
	if !cs[0].SaleOpensAt.Equal(wantOpens) || cs[0].SaleOpensAt.Location() != time.UTC {
		t.Errorf("SaleOpensAt = %v, want %v in UTC", cs[0].SaleOpensAt, wantOpens)
	}
	for i := range ss {
		if i > 0 && ss[i].ID <= ss[i-1].ID {
			t.Errorf("schedules not ordered by id: %d after %d", ss[i].ID, ss[i-1].ID)
		}
		if !reflect.DeepEqual(ss[i], wantS[i]) {
			t.Errorf("Catalog schedule %d = %+v, want %+v", i, ss[i], wantS[i])
		}
	}
	if ss[0].Date != "2026-12-24" {
		t.Errorf("Date = %q, want 2026-12-24", ss[0].Date)
	}

	for _, bad := range []struct {
		name string
		s    engine.NewSchedule
	}{
		{"date not YYYY-MM-DD", engine.NewSchedule{Date: "24/12/2026", SeatCount: 1, Price: 1}},
		{"no such date", engine.NewSchedule{Date: "2026-02-30", SeatCount: 1, Price: 1}},
		// PostgreSQL has no year 0; every ledger refuses dates before 2000 alike.
		{"year 0", engine.NewSchedule{Date: "0000-12-24", SeatCount: 1, Price: 1}},
		{"before 2000", engine.NewSchedule{Date: "1999-12-31", SeatCount: 1, Price: 1}},
		{"no seats", engine.NewSchedule{Date: "2026-12-24", SeatCount: 0, Price: 1}},
		{"too many seats", engine.NewSchedule{Date: "2026-12-24", SeatCount: engine.MaxSeatCount + 1, Price: 1}},
		{"free seats", engine.NewSchedule{Date: "2026-12-24", SeatCount: 1, Price: 0}},
	} {
		nc := engine.NewConcert{Title: "Bad", SaleOpensAt: opens,
			Schedules: []engine.NewSchedule{{Date: "2026-12-24", SeatCount: 1, Price: 1}, bad.s}}
		if _, _, err := l.CreateConcert(f.ctx, nc); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("%s: err = %v, want BAD_REQUEST", bad.name, err)
		}
	}
	if cs, ss, _ := l.Catalog(f.ctx); len(cs) != len(wantC) || len(ss) != len(wantS) {
		t.Errorf("a refused concert left rows: %d concerts, %d schedules", len(cs), len(ss))
	}
}

func testSaveQueueSettings(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	sch := f.schedule(10, 100)
	other := f.schedule(10, 100)
	want := engine.QueueSettings{AdmitPerSecond: 500, MaxActive: 5000, Paused: true, ProofOfWorkBits: 26}
	if err := l.SaveQueueSettings(f.ctx, sch.ConcertID, want); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveQueueSettings(f.ctx, other.ConcertID+100, want); !errors.Is(err, engine.ErrConcertNotFound) {
		t.Errorf("unknown concert: err = %v, want CONCERT_NOT_FOUND", err)
	}
	cs, _, err := l.Catalog(f.ctx)
	if err != nil || len(cs) != 2 {
		t.Fatalf("Catalog = %v, %v", cs, err)
	}
	if cs[0].Queue != want {
		t.Errorf("saved settings read back as %+v, want %+v", cs[0].Queue, want)
	}
	if cs[1].Queue != (engine.QueueSettings{AdmitPerSecond: 100, MaxActive: 1000}) {
		t.Errorf("another concert's settings changed: %+v", cs[1].Queue)
	}
}

func testChargeBounds(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	const capB = engine.MaxBalance
	for _, tc := range []struct {
		name    string
		start   int64
		amount  int64
		max     int64
		unknown bool
		want    error
	}{
		{name: "one", amount: 1, max: capB},
		{name: "engine max", amount: engine.MaxChargeAmount, max: capB},
		{name: "up to the cap exactly", start: capB - 10_000_000, amount: 10_000_000, max: capB},
		{name: "one past the cap", start: capB - 10_000_000, amount: 10_000_001, max: capB, want: engine.ErrInvalidAmount},
		{name: "at the cap", start: capB, amount: 1, max: capB, want: engine.ErrInvalidAmount},
		{name: "lower cap of the caller", start: 90, amount: 11, max: 100, want: engine.ErrInvalidAmount},
		{name: "caller cap above the ledger's", start: capB, amount: 1, max: capB * 2, want: engine.ErrInvalidAmount},
		{name: "zero", amount: 0, max: capB, want: engine.ErrInvalidAmount},
		{name: "negative", start: 100, amount: -50, max: capB, want: engine.ErrInvalidAmount},
		{name: "overflowing", start: 100, amount: 1<<63 - 1, max: 1<<63 - 1, want: engine.ErrInvalidAmount},
		{name: "unknown user", amount: 1, max: capB, unknown: true, want: engine.ErrUserNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixture{t: t, l: l, ctx: f.ctx}
			id := f.user(tc.start)
			if tc.unknown {
				id += 1_000_000
			}
			got, err := l.Charge(f.ctx, id, tc.amount, tc.max, engine.Idempotency{})
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Charge = %d, %v; want %v", got, err, tc.want)
				}
				if !tc.unknown {
					f.wantBalance(id, tc.start, min(1, int(tc.start)), 0)
				}
				return
			}
			if err != nil || got != tc.start+tc.amount {
				t.Fatalf("Charge = %d, %v; want %d", got, err, tc.start+tc.amount)
			}
			f.wantBalance(id, tc.start+tc.amount, 1+min(1, int(tc.start)), 0)
		})
	}
}

func testConcurrentCharges(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	id := f.user(0)
	errs := AtOnce(100, func(int) error {
		_, err := l.Charge(f.ctx, id, 1000, engine.MaxBalance, engine.Idempotency{})
		return err
	})
	if c := Count(t, errs); c[nil] != 100 {
		t.Errorf("%d of 100 charges succeeded", c[nil])
	}
	b, h, err := l.Balance(f.ctx, id, 200)
	if err != nil {
		t.Fatal(err)
	}
	if b != 100_000 || len(h) != 100 {
		t.Errorf("balance %d with %d history rows; want 100000 with 100", b, len(h))
	}
	for _, e := range h {
		if e.Type != "charge" || e.Amount != 1000 {
			t.Errorf("history row %+v, want a charge of 1000", e)
		}
	}
}

func testIdempotentCharge(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	id := f.user(0)
	other := f.user(0)
	k := engine.Idempotency{Key: "k1", Fingerprint: "charge:500"}
	if got, err := l.Charge(f.ctx, id, 500, engine.MaxBalance, k); err != nil || got != 500 {
		t.Fatalf("first charge = %d, %v", got, err)
	}
	if got, err := l.Charge(f.ctx, id, 300, engine.MaxBalance, engine.Idempotency{}); err != nil || got != 800 {
		t.Fatalf("plain charge = %d, %v", got, err)
	}
	// Retried at once by many clients: every one gets the first answer.
	errs := AtOnce(20, func(int) error {
		got, err := l.Charge(f.ctx, id, 500, engine.MaxBalance, k)
		if err == nil && got != 500 {
			return fmt.Errorf("retry returned %d, want the first answer 500", got)
		}
		return err
	})
	if c := Count(t, errs); c[nil] != 20 {
		t.Errorf("%d of 20 retries answered", c[nil])
	}
	f.wantBalance(id, 800, 2, 0)

	if _, err := l.Charge(f.ctx, id, 700, engine.MaxBalance, engine.Idempotency{Key: "k1", Fingerprint: "charge:700"}); !errors.Is(err, engine.ErrIdempotencyKeyReused) {
		t.Errorf("reused key: err = %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	f.wantBalance(id, 800, 2, 0)
	// A charge's key is not a payment's answer.
	if _, _, err := l.IdempotentSale(f.ctx, id, engine.Idempotency{Key: "k1", Fingerprint: "pay:1:500"}); !errors.Is(err, engine.ErrIdempotencyKeyReused) {
		t.Errorf("IdempotentSale with a charge's key: err = %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	// Keys belong to a user: another user's k1 is a new request.
	if got, err := l.Charge(f.ctx, other, 700, engine.MaxBalance, engine.Idempotency{Key: "k1", Fingerprint: "charge:700"}); err != nil || got != 700 {
		t.Errorf("other user's k1 = %d, %v; want 700", got, err)
	}
	// A retry of a charge that succeeded answers the same even when the same amount
	// would now pass the cap.
	capped := f.user(0)
	big := engine.Idempotency{Key: "big", Fingerprint: "charge:big"}
	if got, err := l.Charge(f.ctx, capped, engine.MaxBalance, engine.MaxBalance, big); err != nil || got != engine.MaxBalance {
		t.Fatalf("charge to the cap = %d, %v", got, err)
	}
	if got, err := l.Charge(f.ctx, capped, engine.MaxBalance, engine.MaxBalance, big); err != nil || got != engine.MaxBalance {
		t.Errorf("retry at the cap = %d, %v; want the first answer", got, err)
	}
	f.wantBalance(capped, engine.MaxBalance, 1, 0)
	// A refused charge stores no key: the retry is judged afresh.
	low := f.user(0)
	fail := engine.Idempotency{Key: "f", Fingerprint: "charge:x"}
	if _, err := l.Charge(f.ctx, low, 100, 50, fail); !errors.Is(err, engine.ErrInvalidAmount) {
		t.Fatalf("charge over the caller's cap: %v", err)
	}
	if got, err := l.Charge(f.ctx, low, 100, 500, fail); err != nil || got != 100 {
		t.Errorf("retry after a refusal = %d, %v; want 100", got, err)
	}
}

func testBalanceHistory(t *testing.T, l Ledger) {
	f := newFixture(t, l)
	id := f.user(0)
	sch := f.schedule(10, 25)
	for _, a := range []int64{10, 20, 30, 40, 50} {
		if _, err := l.Charge(f.ctx, id, a, engine.MaxBalance, engine.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.sell(sch, 1, 1, id, engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int
		want  []int64
	}{
		{3, []int64{-25, 50, 40}},
		{6, []int64{-25, 50, 40, 30, 20, 10}},
		{200, []int64{-25, 50, 40, 30, 20, 10}},
		{1, []int64{-25}},
		{0, nil},
	} {
		b, h, err := l.Balance(f.ctx, id, tc.limit)
		if err != nil || b != 125 {
			t.Fatalf("Balance(limit %d) = %d, %v; want 125", tc.limit, b, err)
		}
		var got []int64
		for i, e := range h {
			got = append(got, e.Amount)
			if e.At.Location() != time.UTC || e.At.IsZero() {
				t.Errorf("history time %v is not a UTC instant", e.At)
			}
			if i > 0 && e.At.After(h[i-1].At) {
				t.Errorf("history not newest first: %v after %v", e.At, h[i-1].At)
			}
			if want := map[bool]string{true: "payment", false: "charge"}[e.Amount < 0]; e.Type != want {
				t.Errorf("row of %d has type %q, want %q", e.Amount, e.Type, want)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("limit %d: amounts %v, want %v", tc.limit, got, tc.want)
		}
	}
	if _, _, err := l.Balance(f.ctx, id+1000, 10); !errors.Is(err, engine.ErrUserNotFound) {
		t.Errorf("unknown user: err = %v, want USER_NOT_FOUND", err)
	}
}
