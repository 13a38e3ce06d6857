package engine

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// catalog is this instance's copy of concerts and schedules. The catalog changes
// only when an operator creates a concert, so reads never reach the ledger: a miss
// (an id created on another instance) reloads it. Concurrent misses share one
// reload: a concert miss waits for a load that started after it, never an older
// one, so a concert created anywhere is visible here as soon as the ledger has it.
// A schedule miss reloads at most once per scheduleMissEvery (by the engine's
// clock): schedule ids come from every request that holds or reads a seat map, and
// a flood of made-up ids must not turn into a flood of catalog reads. A schedule
// created on another instance is then seen here within that second.
type catalog struct {
	ledger Concerts
	clock  clock.Clock

	mu        sync.RWMutex
	concerts  map[int64]Concert
	schedules map[int64]Schedule
	order     []int64             // schedule ids by id
	ends      map[int64]time.Time // concert id → the day after its last schedule's date (close.go)
	loadedAt  time.Time           // when the current snapshot's load started
	reload    sync.Mutex
	missLoad  time.Time // engine clock: the last reload for a schedule miss; under reload
}

// scheduleMissEvery is the least time between two reloads for unknown schedule ids.
const scheduleMissEvery = time.Second

func newCatalog(l Concerts, c clock.Clock) *catalog {
	return &catalog{ledger: l, clock: c, concerts: map[int64]Concert{}, schedules: map[int64]Schedule{}}
}

func (c *catalog) load(ctx context.Context) error {
	c.reload.Lock()
	defer c.reload.Unlock()
	return c.loadLocked(ctx)
}

func (c *catalog) loadLocked(ctx context.Context) error {
	started := time.Now()
	concerts, schedules, err := c.ledger.Catalog(ctx)
	if err != nil {
		return err
	}
	cm := make(map[int64]Concert, len(concerts))
	for _, x := range concerts {
		cm[x.ID] = x
	}
	sm := make(map[int64]Schedule, len(schedules))
	order := make([]int64, 0, len(schedules))
	for _, s := range schedules {
		s.ConcertTitle = cm[s.ConcertID].Title
		s.normalize()
		sm[s.ID] = s
		order = append(order, s.ID)
	}
	c.mu.Lock()
	// Keep what put added while the ledger was being read: concerts are never
	// deleted, so anything we know and the snapshot lacks is newer than it.
	for id, x := range c.concerts {
		if _, ok := cm[id]; !ok {
			cm[id] = x
		}
	}
	for id, x := range c.schedules {
		if _, ok := sm[id]; !ok {
			sm[id] = x
			order = append(order, id)
		}
	}
	slices.Sort(order)
	c.concerts, c.schedules, c.order, c.loadedAt = cm, sm, order, started
	c.ends = saleEnds(sm)
	c.mu.Unlock()
	return nil
}

// reloadAfter reloads the catalog unless a load that started after `miss` has
// already finished while this caller waited for the lock.
func (c *catalog) reloadAfter(ctx context.Context, miss time.Time) error {
	c.reload.Lock()
	defer c.reload.Unlock()
	c.mu.RLock()
	fresh := c.loadedAt.After(miss)
	c.mu.RUnlock()
	if fresh {
		return nil
	}
	return c.loadLocked(ctx)
}

// refreshOlderThan reloads when the snapshot is older than maxAge, for listings
// that may be a little stale but must not cost the ledger a query per request.
func (c *catalog) refreshOlderThan(ctx context.Context, maxAge time.Duration) error {
	c.mu.RLock()
	fresh := time.Since(c.loadedAt) < maxAge
	c.mu.RUnlock()
	if fresh {
		return nil
	}
	return c.reloadAfter(ctx, time.Now().Add(-maxAge))
}

func (c *catalog) concert(ctx context.Context, id int64) (Concert, error) {
	return lookup(c, func(c *catalog) map[int64]Concert { return c.concerts }, id,
		func() error { return c.reloadAfter(ctx, time.Now()) }, ErrConcertNotFound)
}

func (c *catalog) schedule(ctx context.Context, id int64) (Schedule, error) {
	return lookup(c, func(c *catalog) map[int64]Schedule { return c.schedules }, id,
		func() error { return c.reloadForScheduleMiss(ctx) }, ErrScheduleNotFound)
}

// lookup reads id from the map that in picks, under the read lock. On a miss it
// calls reload and reads again; an id still missing then is notFound.
func lookup[T any](c *catalog, in func(*catalog) map[int64]T, id int64, reload func() error, notFound error) (T, error) {
	read := func() (T, bool) {
		c.mu.RLock()
		x, ok := in(c)[id]
		c.mu.RUnlock()
		return x, ok
	}
	if x, ok := read(); ok {
		return x, nil
	}
	var zero T
	if err := reload(); err != nil {
		return zero, err
	}
	x, ok := read()
	if !ok {
		return zero, notFound
	}
	return x, nil
}

// reloadForScheduleMiss reloads unless a schedule miss did within the last
// scheduleMissEvery. Misses that arrive during a reload wait for it and use it.
func (c *catalog) reloadForScheduleMiss(ctx context.Context) error {
	c.reload.Lock()
	defer c.reload.Unlock()
	now := c.clock.Now()
	if !c.missLoad.IsZero() && now.Sub(c.missLoad) < scheduleMissEvery && !now.Before(c.missLoad) {
		return nil
	}
	c.missLoad = now
	return c.loadLocked(ctx)
}

// all returns every concert and every schedule, ordered by id.
func (c *catalog) all() ([]Concert, []Schedule) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	concerts := make([]Concert, 0, len(c.concerts))
	for _, x := range c.concerts {
		concerts = append(concerts, x)
	}
	slices.SortFunc(concerts, func(a, b Concert) int { return cmp.Compare(a.ID, b.ID) })
	schedules := make([]Schedule, 0, len(c.order))
	for _, id := range c.order {
		schedules = append(schedules, c.schedules[id])
	}
	return concerts, schedules
}

// put records a concert this instance just created, so it is visible at once here.
func (c *catalog) put(x Concert, ss []Schedule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.concerts[x.ID] = x
	for _, s := range ss {
		s.ConcertTitle = x.Title
		s.normalize()
		if _, ok := c.schedules[s.ID]; !ok {
			c.order = append(c.order, s.ID)
		}
		c.schedules[s.ID] = s
	}
	slices.Sort(c.order)
	c.ends = saleEnds(c.schedules)
}

func (c *catalog) setSettings(concertID int64, s QueueSettings) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x, ok := c.concerts[concertID]; ok {
		x.Queue = s
		c.concerts[concertID] = x
	}
}
