// Package memstore is concertd's ledger held in process memory, behind one mutex.
// It exists for embedded mode (CONCERTD_EMBEDDED=1: try concertd with no outside
// service) and for fast tests of everything above the ledger. It keeps the same
// promises as the PostgreSQL ledger, checked by the same suite (store/ledgertest):
// one owner per seat, one payment per reservation, the balance cap, idempotency.
// It keeps nothing across a restart and has no outbox relay.
package memstore

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/concertd/concertd/engine"
)

// Store implements the engine's ledger roles (Users, Concerts, Wallet, Sales),
// and redisstore.Ledger for rebuilding Redis, in memory. The zero value is not usable; call New.
type Store struct {
	now func() time.Time

	mu        sync.Mutex
	users     []*user // index = id-1
	emails    map[string]int64
	concerts  []engine.Concert  // index = id-1
	schedules []engine.Schedule // index = id-1
	sales     map[seatKey]engine.Sale
	byRes     map[int64]seatKey
	payments  int64 // last payment id
	idem      map[idemKey]idemEntry
	idBlocks  int64 // the last reservation id handed out in a block

	// external maps identity tokens' subjects to users (identity.go); made on
	// first use.
	external map[string]int64
	presales map[int64]*presale // by concert id; see presale.go
	attempts map[int64]bool     // payment attempt → voided (fence.go)
}

type user struct {
	name, email string
	balance     int64
	keyGen      int64                // 0 reads as 1: see engine.UserKeyLedger
	history     []engine.LedgerEntry // oldest first
}

type seatKey struct {
	schedule int64
	seat     int
}

type idemKey struct {
	user int64
	key  string
}

// idemEntry remembers an answer; op tells a charge's key from a payment's or a
// user creation's.
type idemEntry struct {
	fingerprint string
	op          string
	userID      int64 // a user creation's answer
	balance     int64
	sale        engine.Sale
	sales       []engine.Sale // a SellMany's answer
	at          time.Time
}

// New returns an empty ledger.
func New() *Store {
	return &Store{
		// Microseconds, as timestamptz keeps them, so both ledgers answer alike.
		now:    func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		emails: map[string]int64{},
		sales:  map[seatKey]engine.Sale{},
		byRes:  map[int64]seatKey{},
		idem:   map[idemKey]idemEntry{},
	}
}

// Ping always succeeds: memory does not go away.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// CreateUser stores a user; see engine.Users. Creations' keys are kept under user 0,
// as in PostgreSQL.
func (s *Store) CreateUser(ctx context.Context, name, email string, idem engine.Idempotency) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok, err := s.remembered(0, idem, "createUser"); err != nil || ok {
		return e.userID, err
	}
	if _, ok := s.emails[email]; ok {
		return 0, engine.ErrEmailTaken
	}
	s.users = append(s.users, &user{name: name, email: email})
	id := int64(len(s.users))
	s.emails[email] = id
	s.remember(0, idem, idemEntry{op: "createUser", userID: id})
	return id, nil
}

func (s *Store) user(id int64) *user {
	if id < 1 || id > int64(len(s.users)) {
		return nil
	}
	return s.users[id-1]
}

// UserExists reports whether a user id exists.
func (s *Store) UserExists(ctx context.Context, userID int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user(userID) != nil, nil
}

// UserIDsAbove lists up to limit user ids greater than after, ascending.
func (s *Store) UserIDsAbove(ctx context.Context, after int64, limit int) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for id := max(after+1, 1); id <= int64(len(s.users)) && len(ids) < limit; id++ {
		ids = append(ids, id)
	}
	return ids, nil
}

// CreateConcert stores a concert and its schedules; all or nothing.
func (s *Store) CreateConcert(ctx context.Context, c engine.NewConcert) (engine.Concert, []engine.Schedule, error) {
	c.Schedules = slices.Clone(c.Schedules)
	for i, ns := range c.Schedules {
		ns = ns.Resolved()
		c.Schedules[i] = ns
		if _, err := engine.ParseConcertDate(i, ns.Date); err != nil {
			return engine.Concert{}, nil, err
		}
		if ns.SeatCount < 1 || ns.SeatCount > engine.MaxSeatCount || ns.Price < 1 {
			return engine.Concert{}, nil, engine.Errorf(engine.CodeBadRequest, "schedule %d: seatCount or price out of range", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := engine.Concert{
		ID:          int64(len(s.concerts)) + 1,
		Title:       c.Title,
		Description: c.Description,
		// Same precision as the PostgreSQL ledger, so both answer alike.
		SaleOpensAt: c.SaleOpensAt.UTC().Truncate(time.Microsecond),
		Queue:       c.Queue,
	}
	s.concerts = append(s.concerts, out)
	scheds := make([]engine.Schedule, len(c.Schedules))
	for i, ns := range c.Schedules {
		scheds[i] = engine.Schedule{
			ID: int64(len(s.schedules)) + 1, ConcertID: out.ID, ConcertTitle: c.Title,
			Date: ns.Date, SeatCount: ns.SeatCount, Price: ns.Price, Sections: slices.Clone(ns.Sections),
		}
		s.schedules = append(s.schedules, scheds[i])
	}
	return out, scheds, nil
}

// Catalog returns every concert and every schedule, each ordered by id.
func (s *Store) Catalog(ctx context.Context) ([]engine.Concert, []engine.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.concerts), slices.Clone(s.schedules), nil
}

// SaveQueueSettings persists a concert's queue settings; engine.ErrConcertNotFound if none.
func (s *Store) SaveQueueSettings(ctx context.Context, concertID int64, q engine.QueueSettings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if concertID < 1 || concertID > int64(len(s.concerts)) {
		return engine.ErrConcertNotFound
	}
	// A closed sale stays closed, as in PostgreSQL.
	q.Closed = q.Closed || s.concerts[concertID-1].Queue.Closed
	s.concerts[concertID-1].Queue = q
	return nil
}

// remembered returns the stored entry for a key, checking that it answers this
// request; ok=false if there is none (or no key).
func (s *Store) remembered(userID int64, idem engine.Idempotency, op string) (idemEntry, bool, error) {
	if idem.Key == "" {
		return idemEntry{}, false, nil
	}
	e, ok := s.idem[idemKey{userID, idem.Key}]
	if !ok {
		return idemEntry{}, false, nil
	}
	if e.fingerprint != idem.Fingerprint || e.op != op {
		return idemEntry{}, false, engine.ErrIdempotencyKeyReused
	}
	return e, true, nil
}

func (s *Store) remember(userID int64, idem engine.Idempotency, e idemEntry) {
	if idem.Key == "" {
		return
	}
	e.fingerprint = idem.Fingerprint
	e.at = s.now()
	s.idem[idemKey{userID, idem.Key}] = e
}

// Charge adds amount to the user's balance and records a "charge" history row.
func (s *Store) Charge(ctx context.Context, userID, amount, maxBalance int64, idem engine.Idempotency) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok, err := s.remembered(userID, idem, "charge"); err != nil || ok {
		return e.balance, err
	}
	u := s.user(userID)
	if u == nil {
		return 0, engine.ErrUserNotFound
	}
	maxBalance = min(maxBalance, engine.MaxBalance) // the cap PostgreSQL's CHECK enforces
	if amount <= 0 || amount > maxBalance || u.balance > maxBalance-amount {
		return 0, engine.ErrInvalidAmount
	}
	u.balance += amount
	u.history = append(u.history, engine.LedgerEntry{At: s.now(), Type: "charge", Amount: amount})
	s.remember(userID, idem, idemEntry{op: "charge", balance: u.balance})
	return u.balance, nil
}

// Balance returns the current balance and the newest limit history rows, newest first.
func (s *Store) Balance(ctx context.Context, userID int64, limit int) (int64, []engine.LedgerEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(userID)
	if u == nil {
		return 0, nil, engine.ErrUserNotFound
	}
	n := min(max(limit, 0), len(u.history))
	out := make([]engine.LedgerEntry, 0, n)
	for i := len(u.history) - 1; i >= len(u.history)-n; i-- {
		out = append(out, u.history[i])
	}
	return u.balance, out, nil
}

// Sell is the payment transaction; see engine.Sales. Checks run in the same order
// as the PostgreSQL ledger's, so both give the same error for the same state.
func (s *Store) Sell(ctx context.Context, sale engine.Sale, idem engine.Idempotency) (engine.Sale, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok, err := s.remembered(sale.UserID, idem, "sell"); err != nil || ok {
		return e.sale, err
	}
	if sale.Amount <= 0 {
		return engine.Sale{}, engine.ErrInvalidAmount
	}
	k := seatKey{sale.ScheduleID, sale.Seat}
	if owner, sold := s.sales[k]; sold {
		if owner.ReservationID == sale.ReservationID {
			return engine.Sale{}, engine.ErrAlreadyPaid
		}
		return engine.Sale{}, engine.ErrSeatTaken
	}
	if _, paid := s.byRes[sale.ReservationID]; paid {
		return engine.Sale{}, engine.ErrAlreadyPaid
	}
	if sale.ScheduleID < 1 || sale.ScheduleID > int64(len(s.schedules)) {
		return engine.Sale{}, engine.ErrScheduleNotFound
	}
	if sale.Seat < 1 || sale.Seat > s.schedules[sale.ScheduleID-1].SeatCount {
		return engine.Sale{}, engine.ErrInvalidSeat
	}
	u := s.user(sale.UserID)
	if u == nil {
		return engine.Sale{}, engine.ErrUserNotFound
	}
	if u.balance < sale.Amount {
		return engine.Sale{}, engine.ErrInsufficientBalance
	}
	if !s.takeAttempt(sale.Attempt, sale.ReservationID) {
		return engine.Sale{}, errAttemptVoided
	}
	sale.Attempt = 0
	// The concert's ticket limit, counted in sales as the PostgreSQL ledger does.
	if c := s.concerts[s.schedules[sale.ScheduleID-1].ConcertID-1]; c.Queue.MaxTicketsPerUser > 0 {
		n := 0
		for k, sl := range s.sales {
			if sl.UserID == sale.UserID && s.schedules[k.schedule-1].ConcertID == c.ID {
				n++
			}
		}
		if n >= c.Queue.MaxTicketsPerUser {
			return engine.Sale{}, engine.ErrTicketLimitReached
		}
	}
	u.balance -= sale.Amount
	s.payments++
	sale.PaymentID = s.payments
	sale.Balance = u.balance
	sale.At = s.now()
	u.history = append(u.history, engine.LedgerEntry{At: sale.At, Type: "payment", Amount: -sale.Amount})
	s.sales[k] = sale
	s.byRes[sale.ReservationID] = k
	s.remember(sale.UserID, idem, idemEntry{op: "sell", sale: sale})
	return sale, nil
}

// IdempotentSale returns the stored result of an earlier Sell with this key, if any.
func (s *Store) IdempotentSale(ctx context.Context, userID int64, idem engine.Idempotency) (engine.Sale, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok, err := s.remembered(userID, idem, "sell")
	return e.sale, ok, err
}

// SaleByReservation returns the sale of a reservation; found=false if unpaid.
func (s *Store) SaleByReservation(ctx context.Context, reservationID int64) (engine.Sale, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.byRes[reservationID]
	if !ok {
		return engine.Sale{}, false, nil
	}
	return s.sales[k], true, nil
}

// SoldSeats returns which of the given seats of a schedule are sold, by seat number.
func (s *Store) SoldSeats(ctx context.Context, scheduleID int64, seats []int) ([]engine.Sale, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []engine.Sale{}
	for _, n := range seats {
		if sl, ok := s.sales[seatKey{scheduleID, n}]; ok && !slices.ContainsFunc(out, func(o engine.Sale) bool { return o.Seat == n }) {
			out = append(out, sl)
		}
	}
	slices.SortFunc(out, func(a, b engine.Sale) int { return cmp.Compare(a.Seat, b.Seat) })
	return out, nil
}

// AllSoldSeats returns every sold seat number of a schedule in order.
func (s *Store) AllSoldSeats(ctx context.Context, scheduleID int64) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []int{}
	for k := range s.sales {
		if k.schedule == scheduleID {
			out = append(out, k.seat)
		}
	}
	slices.Sort(out)
	return out, nil
}

// MaxReservationID is the highest reservation id a sale carries, 0 if none.
func (s *Store) MaxReservationID(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m int64
	for id := range s.byRes {
		m = max(m, id)
	}
	return m, nil
}

// ReservationIDBlock reserves the next block of reservation ids, above every id
// a sale carries; first .. first+size-1 are the caller's alone.
func (s *Store) ReservationIDBlock(ctx context.Context) (first, size int64, err error) {
	const block = 1000
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.byRes {
		s.idBlocks = max(s.idBlocks, id)
	}
	first = s.idBlocks + 1
	s.idBlocks += block
	return first, block, nil
}

// PurgeIdempotencyKeys forgets keys stored more than olderThan ago and returns how
// many; embedded mode would otherwise grow without bound.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, olderThan time.Duration) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.now().Add(-olderThan)
	var n int64
	for k, e := range s.idem {
		if e.at.Before(cutoff) {
			delete(s.idem, k)
			n++
		}
	}
	return n, nil
}

// BoughtCounts counts each user's sales on a concert's schedules.
func (s *Store) BoughtCounts(ctx context.Context, concertID int64) (map[int64]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]int{}
	for k, sl := range s.sales {
		if k.schedule >= 1 && k.schedule <= int64(len(s.schedules)) && s.schedules[k.schedule-1].ConcertID == concertID {
			out[sl.UserID]++
		}
	}
	return out, nil
}
