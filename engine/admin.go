package engine

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/concertd/concertd/engine/pow"
)

// Default queue settings of a concert created without them.
const (
	DefaultAdmitPerSecond = 100
	DefaultMaxActive      = 1000
	maxAdmitPerSecond     = 1_000_000
	maxMaxActive          = 10_000_000
	maxPrice              = MaxChargeAmount
	maxSchedules          = 100
)

// The dates a schedule may have, YYYY-MM-DD. Go's time.Parse takes year 0,
// which PostgreSQL's date does not have, and no sale is for a concert before
// 2000; 9999 is the last year four digits write.
const (
	MinConcertDate = "2000-01-01"
	MaxConcertDate = "9999-12-31"
	minConcertYear = 2000
)

// ParseConcertDate reads the date of schedule i (0-based, as the request lists
// them): YYYY-MM-DD, a real day, from MinConcertDate to MaxConcertDate. Every
// place a date enters (the HTTP decoder, CreateConcert, each ledger) asks this,
// so they all refuse the same dates with the same BAD_REQUEST.
func ParseConcertDate(i int, date string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil || d.Year() < minConcertYear {
		return time.Time{}, Errorf(CodeBadRequest, "schedules[%d].concertDate must be a date YYYY-MM-DD from %s to %s",
			i, MinConcertDate, MaxConcertDate)
	}
	return d, nil
}

// CreateConcert validates and stores a concert with its schedules and opens its
// waiting room. A zero SaleOpensAt means now.
func (e *Engine) CreateConcert(ctx context.Context, c NewConcert) (Concert, []Schedule, error) {
	c.Title = strings.TrimSpace(c.Title)
	if err := titleText.check(c.Title); err != nil {
		return Concert{}, nil, err
	}
	if err := descriptionText.check(c.Description); err != nil {
		return Concert{}, nil, err
	}
	if c.SaleOpensAt.IsZero() {
		c.SaleOpensAt = e.clock.Now()
	}
	c.SaleOpensAt = c.SaleOpensAt.UTC().Truncate(time.Millisecond)
	if c.Queue.AdmitPerSecond == 0 {
		c.Queue.AdmitPerSecond = DefaultAdmitPerSecond
	}
	if c.Queue.MaxActive == 0 {
		c.Queue.MaxActive = DefaultMaxActive
	}
	if err := validSettings(c.Queue); err != nil {
		return Concert{}, nil, err
	}
	if len(c.Schedules) == 0 || len(c.Schedules) > maxSchedules {
		return Concert{}, nil, Errorf(CodeBadRequest, "a concert needs 1 to %d schedules", maxSchedules)
	}
	for i, s := range c.Schedules {
		if _, err := ParseConcertDate(i, s.Date); err != nil {
			return Concert{}, nil, err
		}
		if len(s.Sections) > 0 {
			n, err := checkSections(i, s.Sections)
			if err != nil {
				return Concert{}, nil, err
			}
			c.Schedules[i].SeatCount, c.Schedules[i].Price = n, s.Sections[0].Price
			continue
		}
		if s.SeatCount < 1 || s.SeatCount > MaxSeatCount {
			return Concert{}, nil, Errorf(CodeBadRequest, "schedules[%d].seatCount must be 1 to %d", i, MaxSeatCount)
		}
		if s.Price < 1 || s.Price > maxPrice {
			return Concert{}, nil, Errorf(CodeBadRequest, "schedules[%d].price must be 1 to %d", i, maxPrice)
		}
	}
	concert, schedules, err := e.concerts.CreateConcert(ctx, c)
	if err != nil {
		return Concert{}, nil, err
	}
	for i := range schedules {
		schedules[i].normalize()
	}
	e.catalog.put(concert, schedules)
	if err := e.queue.Configure(ctx, QueueConfig{ConcertID: concert.ID, SaleOpensAt: concert.SaleOpensAt, Settings: concert.Queue}); err != nil {
		return Concert{}, nil, err
	}
	e.configured.Store(concert.ID, struct{}{})
	return concert, schedules, nil
}

func validSettings(s QueueSettings) error {
	if s.AdmitPerSecond < 1 || s.AdmitPerSecond > maxAdmitPerSecond {
		return Errorf(CodeBadRequest, "admitPerSecond must be 1 to %d", maxAdmitPerSecond)
	}
	if s.MaxActive < 1 || s.MaxActive > maxMaxActive {
		return Errorf(CodeBadRequest, "maxActive must be 1 to %d", maxMaxActive)
	}
	if s.ProofOfWorkBits < 0 || s.ProofOfWorkBits > pow.MaxBits {
		return Errorf(CodeBadRequest, "proofOfWorkBits must be 0 to %d", pow.MaxBits)
	}
	if s.MaxTicketsPerUser < 0 || s.MaxTicketsPerUser > MaxSeatCount {
		return Errorf(CodeBadRequest, "maxTicketsPerUser must be 0 (no limit) to %d", MaxSeatCount)
	}
	return nil
}

// PatchQueue changes a concert's live queue settings. Every instance's admission
// step reads them from the shared state, so they apply within one step everywhere.
func (e *Engine) PatchQueue(ctx context.Context, concertID int64, p QueuePatch) (QueueSettings, error) {
	c, err := e.catalog.concert(ctx, concertID)
	if err != nil {
		return QueueSettings{}, err
	}
	if e.saleClosed(c) {
		return e.patchClosed(ctx, c, p)
	}
	next := c.Queue
	if p.AdmitPerSecond != nil {
		next.AdmitPerSecond = *p.AdmitPerSecond
	}
	if p.MaxActive != nil {
		next.MaxActive = *p.MaxActive
	}
	if p.ProofOfWorkBits != nil {
		next.ProofOfWorkBits = *p.ProofOfWorkBits
	}
	if p.MaxTicketsPerUser != nil {
		next.MaxTicketsPerUser = *p.MaxTicketsPerUser
	}
	if err := validSettings(next); err != nil {
		return QueueSettings{}, err
	}
	if p.Closed != nil && *p.Closed {
		if p.Paused != nil {
			next.Paused = *p.Paused
		}
		return e.closeSale(ctx, c, next)
	}
	if err := e.ensureQueue(ctx, c); err != nil {
		return QueueSettings{}, err
	}
	s, err := e.queue.Patch(ctx, concertID, p)
	if err != nil {
		return QueueSettings{}, err
	}
	if err := e.concerts.SaveQueueSettings(ctx, concertID, s); err != nil {
		return QueueSettings{}, err
	}
	e.catalog.setSettings(concertID, s)
	e.forgetGates(concertID)
	return s, nil
}

// Stats are an operator's view of one concert.
type Stats struct {
	Waiting       int64
	Active        int64
	AdmittedTotal int64
	Held          int64
	Sold          int64
	SeatsTotal    int64
}

// Stats counts a concert's queue and seats.
func (e *Engine) Stats(ctx context.Context, concertID int64) (Stats, error) {
	c, err := e.catalog.concert(ctx, concertID)
	if err != nil {
		return Stats{}, err
	}
	if e.saleClosed(c) {
		return e.closedStats(ctx, concertID)
	}
	if err := e.ensureQueue(ctx, c); err != nil {
		return Stats{}, err
	}
	now := e.clock.Now()
	q, err := e.queue.Stats(ctx, concertID, now)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Waiting: q.Waiting, Active: q.Active, AdmittedTotal: q.AdmittedTotal}
	_, schedules := e.catalog.all()
	for _, s := range schedules {
		if s.ConcertID != concertID {
			continue
		}
		sold, held, err := e.holds.Counts(ctx, concertID, s.ID, now)
		if err != nil {
			return Stats{}, err
		}
		st.Sold += sold
		st.Held += held
		st.SeatsTotal += int64(s.SeatCount)
	}
	return st, nil
}

// Concerts lists every concert by id.
func (e *Engine) Concerts(ctx context.Context) ([]Concert, error) {
	if err := e.catalog.refreshOlderThan(ctx, time.Second); err != nil {
		return nil, err
	}
	concerts, _ := e.catalog.all()
	return concerts, nil
}

// ScheduleAvailability is a schedule with its count of seats neither held nor sold.
type ScheduleAvailability struct {
	Schedule
	Available int64
}

// Availability lists the upcoming schedules (today or later) with at least one
// available seat at now, by date. liveAvailability counts them in the shared
// state; availabilityCache decorates it.
type Availability interface {
	Available(ctx context.Context, now time.Time) ([]ScheduleAvailability, error)
}

// availabilityMaxAge bounds how stale the public listing may be; under a rush it
// costs the shared state one read per schedule per interval and the ledger nothing.
const availabilityMaxAge = time.Second

// availabilityCache serves one listing for up to availabilityMaxAge; the callers
// that find it stale wait for one of them to read the next.
type availabilityCache struct {
	next Availability
	mu   sync.Mutex
	at   time.Time
	list []ScheduleAvailability
}

func (c *availabilityCache) Available(ctx context.Context, now time.Time) ([]ScheduleAvailability, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && now.Sub(c.at) < availabilityMaxAge && !now.Before(c.at) {
		return c.list, nil
	}
	list, err := c.next.Available(ctx, now)
	if err != nil {
		return nil, err
	}
	c.list, c.at = list, now
	return list, nil
}

// liveAvailability counts every upcoming schedule's seats in the shared state,
// of the concerts whose sale is open: a closed concert's shared state is gone.
type liveAvailability struct {
	catalog *catalog
	holds   Holds
	open    func() map[int64]bool // ids of the concerts whose sale is open
}

func (a liveAvailability) Available(ctx context.Context, now time.Time) ([]ScheduleAvailability, error) {
	if err := a.catalog.refreshOlderThan(ctx, time.Second); err != nil {
		return nil, err
	}
	_, schedules := a.catalog.all()
	today := now.Format(time.DateOnly)
	list := make([]ScheduleAvailability, 0, len(schedules))
	open := a.open()
	for _, s := range schedules {
		if s.Date < today || !open[s.ConcertID] {
			continue
		}
		sold, held, err := a.holds.Counts(ctx, s.ConcertID, s.ID, now)
		if err != nil {
			return nil, err
		}
		if free := int64(s.SeatCount) - sold - held; free > 0 {
			list = append(list, ScheduleAvailability{Schedule: s, Available: free})
		}
	}
	sortByDate(list)
	return list, nil
}

// AvailableSchedules lists upcoming schedules (today or later) with at least one
// available seat, by date; concertID 0 means every concert.
func (e *Engine) AvailableSchedules(ctx context.Context, concertID int64) ([]ScheduleAvailability, error) {
	all, err := e.avail.Available(ctx, e.clock.Now())
	if err != nil {
		return nil, err
	}
	out := make([]ScheduleAvailability, 0, len(all))
	for _, a := range all {
		if concertID == 0 || a.ConcertID == concertID {
			out = append(out, a)
		}
	}
	return out, nil
}

// sortByDate orders by date, then id; dates are YYYY-MM-DD, so string order is
// date order.
func sortByDate(list []ScheduleAvailability) {
	slices.SortFunc(list, func(a, b ScheduleAvailability) int {
		if c := strings.Compare(a.Date, b.Date); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
