package redisstore

import (
	"context"
	"errors"
	"sync"

	"github.com/concertd/concertd/engine"
)

// Ledger is what the store reads from the ledger to rebuild a schedule after Redis
// lost its data: store/pgstore and store/memstore implement it.
type Ledger interface {
	// AllSoldSeats returns every sold seat number of a schedule.
	AllSoldSeats(ctx context.Context, scheduleID int64) ([]int, error)
	// MaxReservationID is the highest reservation id a sale carries, 0 if none.
	MaxReservationID(ctx context.Context) (int64, error)
	// BoughtCounts returns, per user, how many seats of the concert's schedules
	// the user bought (users with none are absent): the ticket limit's counts.
	BoughtCounts(ctx context.Context, concertID int64) (map[int64]int, error)
}

// errNotRebuilt is a script or a read telling that a schedule's sold seats are not
// loaded in this Redis (it lost its data since they were, or never had them): the
// store loads them from the ledger and tries again. It never leaves the store.
var errNotRebuilt = errors.New("redis: schedule's sold seats are not loaded")

// rebuilds serialises rebuilding one schedule, so a crowd that meets a Redis that
// lost its data costs the ledger one read, not one per request.
type rebuilds struct {
	ledger Ledger   // nil: the store cannot rebuild (a store that holds no seats)
	locks  sync.Map // schedule id -> *sync.Mutex
	// known are the schedules this instance saw rebuilt (schedule id -> struct{}),
	// so a hold draws its id only after the rebuild raised the id counter. A Redis
	// that lost its data since is found by the hold's script, which drops the entry.
	known sync.Map
	// rows are the schedules whose row counts this instance saw loaded (schedule
	// id -> struct{}), for best-available holds; dropped with known.
	rows sync.Map
}

// ensureRebuilt rebuilds a schedule unless this instance already saw it rebuilt.
func (s *Store) ensureRebuilt(ctx context.Context, concertID, scheduleID int64) error {
	if _, ok := s.rebuilds.known.Load(scheduleID); ok {
		return nil
	}
	if err := s.rebuild(ctx, concertID, scheduleID); err != nil {
		return err
	}
	s.rebuilds.known.Store(scheduleID, struct{}{})
	return nil
}

// lostAgain turns an errNotRebuilt that survived a rebuild (Redis was emptied again
// at once) into UNAVAILABLE: it has no contract code.
func lostAgain(err error) error {
	if errors.Is(err, errNotRebuilt) {
		return engine.Unavailable("redis", err)
	}
	return err
}

// ensureRows loads a schedule's row counts (rows.lua) after its sold seats, unless
// this instance already saw them loaded: best-available holds read them.
func (s *Store) ensureRows(ctx context.Context, sch engine.Schedule) error {
	if err := s.ensureRebuilt(ctx, sch.ConcertID, sch.ID); err != nil {
		return err
	}
	if _, ok := s.rebuilds.rows.Load(sch.ID); ok {
		return nil
	}
	if err := s.LoadRows(ctx, sch); err != nil {
		return err
	}
	s.rebuilds.rows.Store(sch.ID, struct{}{})
	return nil
}

// forget drops what this instance saw loaded of a schedule: a script found Redis
// without it.
func (s *Store) forget(scheduleID int64) {
	s.rebuilds.known.Delete(scheduleID)
	s.rebuilds.rows.Delete(scheduleID)
}

// rebuild loads a schedule's sold seats and its concert's bought counts from the
// ledger into Redis, and raises the reservation id counter above every id a sale
// carries, unless another caller did it while this one waited: a Redis that lost
// its data must neither offer a sold seat again, nor forget a ticket limit's
// purchases, nor reissue a paid reservation's id. The marker is set last, so a
// rebuild cut short is done again.
func (s *Store) rebuild(ctx context.Context, concertID, scheduleID int64) error {
	mu, _ := s.rebuilds.locks.LoadOrStore(scheduleID, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if done, err := s.rebuilt(ctx, concertID, scheduleID); err != nil || done {
		return err
	}
	if s.rebuilds.ledger == nil {
		return engine.Unavailable("redis", errors.New("no ledger to rebuild sold seats from"))
	}
	maxID, err := s.rebuilds.ledger.MaxReservationID(ctx)
	if err != nil {
		return err
	}
	if err := s.ensureReservationIDsAbove(ctx, maxID); err != nil {
		return err
	}
	sold, err := s.rebuilds.ledger.AllSoldSeats(ctx, scheduleID)
	if err != nil {
		return err
	}
	if len(sold) > 0 {
		if err := s.MarkSold(ctx, concertID, scheduleID, sold); err != nil {
			return err
		}
	}
	counts, err := s.rebuilds.ledger.BoughtCounts(ctx, concertID)
	if err != nil {
		return err
	}
	if err := s.LoadBought(ctx, concertID, counts); err != nil {
		return err
	}
	return s.setRebuilt(ctx, concertID, scheduleID)
}

// rebuilt reports whether setRebuilt ran since Redis was last empty.
func (s *Store) rebuilt(ctx context.Context, concertID, scheduleID int64) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.keys.rebuilt(concertID, scheduleID)).Result()
	if err != nil {
		return false, domainError("rebuilt", err)
	}
	return n == 1, nil
}

// setRebuilt records that the schedule's sold seats are loaded.
func (s *Store) setRebuilt(ctx context.Context, concertID, scheduleID int64) error {
	err := s.rdb.Set(ctx, s.keys.rebuilt(concertID, scheduleID), "1", 0).Err()
	return domainError("rebuilt", err)
}
