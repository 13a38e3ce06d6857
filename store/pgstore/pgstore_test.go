package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/ledgertest"
	"github.com/concertd/concertd/store/pgstore"
	"github.com/concertd/concertd/store/storetest"
)

var _ ledgertest.Purger = (*pgstore.Store)(nil)

// open returns a Store on a fresh database of its own, closed when the test ends,
// and the database's URL; query adds pool settings to the Store's URL only.
func open(t testing.TB, query string) (*pgstore.Store, string) {
	t.Helper()
	url := storetest.Database(t)
	storeURL := url
	if query != "" {
		storeURL += "&" + query
	}
	s, err := pgstore.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s, url
}

// newUser creates a user and charges it balance (none when 0).
func newUser(tb testing.TB, s *pgstore.Store, name, email string, balance int64) int64 {
	tb.Helper()
	uid, err := s.CreateUser(tb.Context(), name, email, engine.Idempotency{})
	if err != nil {
		tb.Fatal(err)
	}
	if balance > 0 {
		if _, err := s.Charge(tb.Context(), uid, balance, engine.MaxBalance, engine.Idempotency{}); err != nil {
			tb.Fatal(err)
		}
	}
	return uid
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func TestLedger(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Ledger {
		s, _ := open(t, "")
		return s
	})
}

// Several instances starting at once against one new database must all start, and
// the schema must be applied exactly once.
func TestOpenConcurrent(t *testing.T) {
	url := storetest.Database(t)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range errs {
		wg.Go(func() {
			<-start
			s, err := pgstore.Open(t.Context(), url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	c := connect(t, url)
	var versions []int
	rows, _ := c.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if want := migrationVersions(t); err != nil || !slices.Equal(versions, want) {
		t.Errorf("schema_migrations = %v, %v; want %v", versions, err, want)
	}
	var tables int
	err = c.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN
		('users', 'concerts', 'schedules', 'sales', 'payments', 'balance_history', 'idempotency_keys', 'outbox')`).Scan(&tables)
	if err != nil || tables != 8 {
		t.Errorf("%d of 8 tables exist (%v)", tables, err)
	}
	// And a later start finds nothing to do.
	s, err := pgstore.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open after migration: %v", err)
	}
	s.Close()
}

func TestOpenFailures(t *testing.T) {
	for _, tc := range []struct {
		name, url   string
		unavailable bool
	}{
		{"refused", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", true},
		{"not a url", "postgres://user:secret@[::1/x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := pgstore.Open(t.Context(), tc.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "PostgreSQL") || strings.Contains(msg, "\n") || strings.Contains(msg, "secret") {
				t.Errorf("error %q must name PostgreSQL on one line without the password", msg)
			}
			if errors.Is(err, engine.ErrUnavailable) != tc.unavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, !tc.unavailable, tc.unavailable)
			}
		})
	}
}

// leaksDriver reports whether a pgx type can be dug out of err.
func leaksDriver(err error) bool {
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	return errors.As(err, &pgErr) || errors.As(err, &connErr) || errors.Is(err, pgx.ErrNoRows)
}

func TestDriverErrorsBecomeEngineErrors(t *testing.T) {
	// The name tells the store's connection from the tests' own: a test's closed
	// connection can linger in pg_stat_activity for a moment after it returns.
	s, url := open(t, "pool_max_conns=1&application_name=store-under-test")
	ctx := t.Context()
	id := newUser(t, s, "Kim", "kim@example.com", 0)

	t.Run("timeout", func(t *testing.T) {
		// Another transaction holds the user's row, so the charge waits until its
		// deadline; that is the database being slow, not a bad request.
		admin := connect(t, url)
		tx, err := admin.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err = s.Charge(short, id, 10, engine.MaxBalance, engine.Idempotency{})
		if !errors.Is(err, engine.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || leaksDriver(err) {
			t.Errorf("Charge past its deadline: %v; want UNAVAILABLE wrapping DeadlineExceeded", err)
		}
		// The outcome of a timed-out call is unknown (the cancel request races the
		// lock's release), which is why it is UNAVAILABLE and not a refusal; what
		// must hold is that it happened whole or not at all.
		_ = tx.Rollback(ctx)
		b, h, err := s.Balance(ctx, id, 10)
		if err != nil || !(b == 0 && len(h) == 0 || b == 10 && len(h) == 1) {
			t.Errorf("after the timed-out charge: balance %d with %d history rows, %v; want 0/0 or 10/1", b, len(h), err)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		gone, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.UserExists(gone, id)
		if !errors.Is(err, context.Canceled) || leaksDriver(err) {
			t.Errorf("UserExists with a canceled context: %v", err)
		}
	})

	t.Run("connection killed", func(t *testing.T) {
		if _, err := s.UserExists(ctx, id); err != nil { // the pool's one connection is now open
			t.Fatal(err)
		}
		admin := connect(t, url)
		var killed int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'store-under-test'`).Scan(&killed); err != nil || killed != 1 {
			t.Fatalf("terminated %d backends: %v", killed, err)
		}
		time.Sleep(50 * time.Millisecond) // let the server finish closing the socket
		_, err := s.UserExists(ctx, id)
		if !errors.Is(err, engine.ErrUnavailable) || leaksDriver(err) {
			t.Errorf("query on a killed connection: %v; want UNAVAILABLE", err)
		}
		if ok, err := s.UserExists(ctx, id); err != nil || !ok {
			t.Errorf("the pool did not recover: %v, %v", ok, err)
		}
	})

	t.Run("closed", func(t *testing.T) {
		s, _ := open(t, "")
		s.Close()
		if err := s.Ping(ctx); !errors.Is(err, engine.ErrUnavailable) || leaksDriver(err) {
			t.Errorf("Ping of a closed store: %v; want UNAVAILABLE", err)
		}
	})
}

// The payment writes its outbox event in its own transaction, and concurrent
// relays share the backlog without publishing anything twice.
func TestRelayOutbox(t *testing.T) {
	s, _ := open(t, "")
	ctx := t.Context()
	uid := newUser(t, s, "Kim", "kim@example.com", 1_000_000)
	_, scheds, err := s.CreateConcert(ctx, engine.NewConcert{Title: "T", SaleOpensAt: time.Now(),
		Schedules: []engine.NewSchedule{{Date: "2030-01-01", SeatCount: 100, Price: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	const total = 60
	sales := map[int64]engine.Sale{}
	for i := range total {
		sl, err := s.Sell(ctx, engine.Sale{ReservationID: int64(i + 1), ScheduleID: scheds[0].ID, Seat: i + 1,
			UserID: uid, Amount: 1000}, engine.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		sales[sl.PaymentID] = sl
	}
	// A refused payment writes no event.
	if _, err := s.Sell(ctx, engine.Sale{ReservationID: 999, ScheduleID: scheds[0].ID, Seat: 1, UserID: uid, Amount: 1000},
		engine.Idempotency{}); !errors.Is(err, engine.ErrSeatTaken) {
		t.Fatalf("Sell of a sold seat: %v", err)
	}

	var (
		mu        sync.Mutex
		published = map[int64]int{}
		bad       []string
		// The first pass of each relay waits for the other's, so both hold their
		// locks at the same time; without SKIP LOCKED one would block the other.
		together sync.WaitGroup
	)
	together.Add(2)
	relay := func(first *bool) func(context.Context, []pgstore.OutboxEvent) error {
		return func(_ context.Context, events []pgstore.OutboxEvent) error {
			if *first {
				*first = false
				together.Done()
				waited := make(chan struct{})
				go func() { together.Wait(); close(waited) }()
				select {
				case <-waited:
				case <-time.After(5 * time.Second):
					return errors.New("the other relay never got events while this one held its own")
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				published[e.ID]++
				var p struct {
					PaymentID, ReservationID, ScheduleID, UserID, Amount int64
					Seat                                                 int
				}
				if err := json.Unmarshal(e.Payload, &p); err != nil {
					bad = append(bad, err.Error())
					continue
				}
				sl, ok := sales[p.PaymentID]
				if e.Topic != "payment.completed" || !ok || p.ReservationID != sl.ReservationID ||
					p.ScheduleID != sl.ScheduleID || p.Seat != sl.Seat || p.UserID != uid || p.Amount != 1000 ||
					e.CreatedAt.Location() != time.UTC || !e.CreatedAt.Equal(sl.At) {
					bad = append(bad, fmt.Sprintf("event %d %s %s does not match its sale %+v", e.ID, e.Topic, e.Payload, sl))
				}
			}
			return nil
		}
	}
	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			first := true
			for {
				n, err := s.RelayOutbox(ctx, 7, relay(&first))
				if err != nil || n == 0 {
					errs[i] = err
					return
				}
				counts[i] += n
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("relay %d: %v", i, err)
		}
	}
	for _, b := range bad {
		t.Error(b)
	}
	if len(published) != total || counts[0]+counts[1] != total || counts[0] == 0 || counts[1] == 0 {
		t.Errorf("published %d distinct events (%d + %d); want %d shared by both relays",
			len(published), counts[0], counts[1], total)
	}
	for id, n := range published {
		if n != 1 {
			t.Errorf("event %d published %d times", id, n)
		}
	}
	// A failed publish marks nothing: the event goes out on the next pass.
	if _, err := s.Sell(ctx, engine.Sale{ReservationID: 1000, ScheduleID: scheds[0].ID, Seat: 100, UserID: uid, Amount: 1000},
		engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("broker down")
	if n, err := s.RelayOutbox(ctx, 10, func(context.Context, []pgstore.OutboxEvent) error { return boom }); n != 0 || !errors.Is(err, boom) {
		t.Errorf("failed publish = %d, %v; want 0, %v", n, err, boom)
	}
	if n, err := s.RelayOutbox(ctx, 10, func(context.Context, []pgstore.OutboxEvent) error { return nil }); n != 1 || err != nil {
		t.Errorf("retry after a failed publish = %d, %v; want 1", n, err)
	}
}

// BenchmarkSell measures one payment after another on one connection's worth of
// latency: the floor a single request sees.
func BenchmarkSell(b *testing.B) {
	s, _ := open(b, "")
	ctx := b.Context()
	uid, sched := benchFixture(b, s)
	var i int64
	for b.Loop() {
		i++
		if _, err := s.Sell(ctx, engine.Sale{ReservationID: i, ScheduleID: sched[int(i-1)/engine.MaxSeatCount%len(sched)].ID,
			Seat: int(i-1)%engine.MaxSeatCount + 1, UserID: uid, Amount: 1}, engine.Idempotency{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sells/s")
}

// BenchmarkSellParallel is the server's case: many payments at once, of different
// users, sharing the pool and the commit flushes.
func BenchmarkSellParallel(b *testing.B) {
	s, _ := open(b, "")
	ctx := b.Context()
	_, sched := benchFixture(b, s)
	users := make(chan int64, 64)
	for i := range 64 {
		uid := newUser(b, s, "bench", fmt.Sprintf("p%d@example.com", i), engine.MaxBalance)
		users <- uid
	}
	var seq sync.Mutex
	var next int64
	b.SetParallelism(8) // 16 goroutines on 2 cores, as many as the pool has connections
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		uid := <-users
		for pb.Next() {
			seq.Lock()
			next++
			i := next
			seq.Unlock()
			if _, err := s.Sell(ctx, engine.Sale{ReservationID: i, ScheduleID: sched[int(i-1)/engine.MaxSeatCount%len(sched)].ID,
				Seat: int(i-1)%engine.MaxSeatCount + 1, UserID: uid, Amount: 1}, engine.Idempotency{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sells/s")
}

func benchFixture(b *testing.B, s *pgstore.Store) (int64, []engine.Schedule) {
	ctx := b.Context()
	uid := newUser(b, s, "bench", "bench@example.com", engine.MaxBalance)
	ns := make([]engine.NewSchedule, 10)
	for i := range ns {
		ns[i] = engine.NewSchedule{Date: "2030-01-01", SeatCount: engine.MaxSeatCount, Price: 1}
	}
	_, sched, err := s.CreateConcert(ctx, engine.NewConcert{Title: "bench", SaleOpensAt: time.Now(), Schedules: ns})
	if err != nil {
		b.Fatal(err)
	}
	return uid, sched
}

func TestOutboxLag(t *testing.T) {
	ctx := context.Background()
	s, err := pgstore.Open(ctx, storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if lag, err := s.OutboxLag(ctx); err != nil || lag != 0 {
		t.Fatalf("empty outbox: lag %v, %v; want 0", lag, err)
	}
	c, schedules, err := s.CreateConcert(ctx, engine.NewConcert{Title: "x", Queue: engine.QueueSettings{AdmitPerSecond: 1, MaxActive: 1},
		Schedules: []engine.NewSchedule{{Date: "2030-01-01", SeatCount: 5, Price: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = c
	u := newUser(t, s, "a", "a@example.com", 100)
	if _, err := s.Sell(ctx, engine.Sale{ReservationID: 1, ScheduleID: schedules[0].ID, Seat: 1, UserID: u, Amount: 10}, engine.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the lag is measured by the database's own clock
	lag, err := s.OutboxLag(ctx)
	if err != nil || lag < 10*time.Millisecond || lag > time.Minute {
		t.Fatalf("one unsent event: lag %v, %v", lag, err)
	}
	if _, err := s.RelayOutbox(ctx, 10, func(context.Context, []pgstore.OutboxEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if lag, err := s.OutboxLag(ctx); err != nil || lag != 0 {
		t.Fatalf("after relaying: lag %v, %v; want 0", lag, err)
	}
}

// migrationVersions lists the versions of the migration files, ascending: what a
// new database must have applied, each once.
func migrationVersions(t *testing.T) []int {
	t.Helper()
	names, err := filepath.Glob("migrations/*.up.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migration files: %v, %v", names, err)
	}
	var out []int
	for _, n := range names {
		num, _, _ := strings.Cut(filepath.Base(n), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("migration %s: %v", n, err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
