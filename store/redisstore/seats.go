package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

const (
	// reservationTTL keeps a reservation record readable for a day after its hold,
	// long past any hold or payment window; after that the ledger answers for it.
	reservationTTL = 25 * time.Hour
	// idBlockSize ids are taken per INCRBY, so a hold costs no extra round trip.
	// Every hold in flight waits when a block runs out: at 100 that happened ~200
	// times a second under a rush, and the lock showed in profiles (2.8% of CPU).
	idBlockSize = 1000
	// markSoldChunk bounds one mark_sold.lua call, so a rebuild of a large schedule
	// never blocks Redis for long nor overflows Lua's unpack.
	markSoldChunk = 500
)

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// --- reservation ids --------------------------------------------------------

// IDBlocks hands out blocks of reservation ids from durable storage (the
// ledger): a block, once given, is never given again, even when Redis loses its
// last writes in a failover and its own counter goes back.
type IDBlocks interface {
	ReservationIDBlock(ctx context.Context) (first, size int64, err error)
}

// idBlock is this instance's share of reservation ids. Every hold takes one, so
// taking one is an atomic add; only the holder that runs a block out takes the
// lock and fetches the next block: from source when the ledger has one, else
// from Redis's counter.
type idBlock struct {
	mu     sync.Mutex
	cur    atomic.Pointer[idRange] // nil until the first hold
	source IDBlocks
}

type idRange struct {
	next atomic.Int64 // next id to hand out; > last means the range is used up
	last int64
}

func (s *Store) ids() *idBlock { return &s.idBlock }

// NextReservationID hands out ids from a block reserved with one round trip (to
// the ledger's sequence, or Redis's INCRBY without one), so ids are unique across
// instances at one round trip per block of holds.
func (s *Store) NextReservationID(ctx context.Context) (int64, error) {
	b := s.ids()
	for {
		r := b.cur.Load()
		if r != nil {
			if id := r.next.Add(1) - 1; id <= r.last {
				return id, nil
			}
		}
		b.mu.Lock()
		if b.cur.Load() != r { // another caller fetched a block meanwhile
			b.mu.Unlock()
			continue
		}
		first, last, err := s.fetchIDBlock(ctx)
		if err != nil {
			b.mu.Unlock()
			return 0, err
		}
		fresh := &idRange{last: last}
		fresh.next.Store(first)
		b.cur.Store(fresh)
		b.mu.Unlock()
	}
}

// fetchIDBlock reserves the next block of ids for this instance.
func (s *Store) fetchIDBlock(ctx context.Context) (first, last int64, err error) {
	if src := s.idBlock.source; src != nil {
		first, size, err := src.ReservationIDBlock(ctx)
		if err != nil {
			return 0, 0, engine.Unavailable("database", err)
		}
		return first, first + size - 1, nil
	}
	hi, err := s.rdb.IncrBy(ctx, s.keys.reservationIDs(), idBlockSize).Result()
	if err != nil {
		return 0, 0, domainError("reservation ids", err)
	}
	return hi - idBlockSize + 1, hi, nil
}

// ensureReservationIDsAbove raises the shared counter to min and drops a local
// block that could still hand out ids at or below it.
func (s *Store) ensureReservationIDsAbove(ctx context.Context, min int64) error {
	if err := s.runIDsAbove(ctx, min); err != nil {
		return err
	}
	b := s.ids()
	b.mu.Lock()
	if r := b.cur.Load(); r != nil && r.next.Load() <= min {
		b.cur.Store(nil)
	}
	b.mu.Unlock()
	return nil
}

// runIDsAbove runs seat_ids_above.lua.
func (s *Store) runIDsAbove(ctx context.Context, min int64) error {
	err := idsAboveScript.Run(ctx, s.rdb, []string{s.keys.reservationIDs()}, min).Err()
	return domainError("reservation ids", err)
}

// --- holds --------------------------------------------------------------------

// Hold runs hold.lua: token check, seat check, hold limit and the hold itself in
// one round trip. Only when the user already held the seat is the existing
// reservation read in a second one. Without r.ReservationID the id is drawn here,
// after the schedule is known rebuilt, so it is above every id a sale carries. A
// schedule whose sold seats Redis lost since (the script refuses it) is rebuilt
// from the ledger and the hold tried again under a fresh id: the rebuild may have
// raised the counter past the first one.
func (s *Store) Hold(ctx context.Context, r engine.HoldRequest) (engine.HoldResult, error) {
	if r.Schedule.ConcertID != r.Token.ConcertID {
		return engine.HoldResult{}, engine.ErrWrongConcert
	}
	if r.Seat < 1 || r.Seat > engine.MaxSeatCount || (r.Schedule.SeatCount > 0 && r.Seat > r.Schedule.SeatCount) {
		return engine.HoldResult{}, engine.ErrInvalidSeat
	}
	if r.ReservationID == 0 {
		if err := s.ensureRebuilt(ctx, r.Token.ConcertID, r.Schedule.ID); err != nil {
			return engine.HoldResult{}, err
		}
		id, err := s.NextReservationID(ctx)
		if err != nil {
			return engine.HoldResult{}, err
		}
		r.ReservationID = id
	}
	res, err := s.hold(ctx, r)
	if errors.Is(err, errNotRebuilt) {
		s.forget(r.Schedule.ID)
		if err = s.rebuild(ctx, r.Token.ConcertID, r.Schedule.ID); err == nil {
			if r.ReservationID, err = s.NextReservationID(ctx); err == nil {
				res, err = s.hold(ctx, r)
			}
		}
		err = lostAgain(err)
	}
	return res, err
}

// hold is one hold attempt.
func (s *Store) hold(ctx context.Context, r engine.HoldRequest) (engine.HoldResult, error) {
	c := r.Token.ConcertID
	ans, err := s.holds.do(ctx, r.Schedule.ID, r)
	if err != nil {
		return engine.HoldResult{}, err
	}
	created, rid := ans.created, ans.rid
	if created {
		return engine.HoldResult{Created: true, Reservation: engine.Reservation{
			ID:         rid,
			ConcertID:  c,
			ScheduleID: r.Schedule.ID,
			Seat:       r.Seat,
			UserID:     r.Token.UserID,
			Price:      r.Schedule.SeatPrice(r.Seat),
			State:      engine.ReservationPending,
			ExpiresAt:  fromMS(r.Deadline.UnixMilli()),
		}}, nil
	}
	res, err := s.Reservation(ctx, c, rid, r.Now)
	if err != nil {
		return engine.HoldResult{}, err
	}
	return engine.HoldResult{Reservation: res}, nil
}

// Reservation reads a reservation record; a PENDING one past its deadline reads
// EXPIRED, so no sweep is needed for a correct answer.
func (s *Store) Reservation(ctx context.Context, concertID, reservationID int64, now time.Time) (engine.Reservation, error) {
	rec, found, err := s.reservationRecord(ctx, concertID, reservationID)
	if err != nil {
		return engine.Reservation{}, err
	}
	if !found {
		return engine.Reservation{}, engine.ErrReservationNotFound
	}
	return parseReservation(concertID, reservationID, rec, now)
}

// reservationRecord reads a reservation record (see scripts/hold.lua for its form).
func (s *Store) reservationRecord(ctx context.Context, concertID, reservationID int64) (rec string, found bool, err error) {
	rec, err = s.rdb.Get(ctx, s.keys.reservation(concertID, reservationID)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, domainError("reservation", err)
	}
	return rec, true, nil
}

// reservationPlace reads the schedule and seat of a reservation, which never change,
// so a script can name that seat's keys. found=false if the record is gone.
func (s *Store) reservationPlace(ctx context.Context, concertID, reservationID int64) (sid int64, seat int, found bool, err error) {
	rec, found, err := s.reservationRecord(ctx, concertID, reservationID)
	if err != nil || !found {
		return 0, 0, false, err
	}
	r, err := parseReservation(concertID, reservationID, rec, time.Time{})
	if err != nil {
		return 0, 0, false, err
	}
	return r.ScheduleID, r.Seat, true, nil
}

// Cancel learns the reservation's seat, then cancel.lua re-checks everything
// against the live state before it frees the seat.
func (s *Store) Cancel(ctx context.Context, concertID, reservationID, userID int64, now time.Time) (engine.Reservation, error) {
	sid, seat, found, err := s.reservationPlace(ctx, concertID, reservationID)
	if err != nil {
		return engine.Reservation{}, err
	}
	if !found {
		return engine.Reservation{}, engine.ErrReservationNotFound
	}
	return s.runCancel(ctx, concertID, sid, seat, reservationID, userID, now)
}

// runCancel runs cancel.lua.
func (s *Store) runCancel(ctx context.Context, c, sid int64, seat int, rid, uid int64, now time.Time) (engine.Reservation, error) {
	k := s.keys
	keys := []string{
		k.reservation(c, rid), k.holds(c, sid), k.holders(c, sid), k.holdTrigger(c, sid, seat), k.userHolds(c, uid),
		k.tags(c, sid), k.rows(c, sid),
	}
	rec, err := cancelScript.Run(ctx, s.rdb, keys, uid, rid, ms(now)).Text()
	if err != nil {
		return engine.Reservation{}, domainError("cancel", err)
	}
	return parseReservation(c, rid, rec, now)
}

// BeginPayment learns the reservation's seat, then pay_begin.lua checks the token
// and the hold and moves it to PAYING. An unknown reservation still goes through the
// script (with keys that are never written), so a dead token is reported as such
// whether or not the reservation exists.
func (s *Store) BeginPayment(ctx context.Context, t engine.Token, reservationID int64, now, windowEnd time.Time) (engine.Reservation, error) {
	sid, seat, _, err := s.reservationPlace(ctx, t.ConcertID, reservationID)
	if err != nil {
		return engine.Reservation{}, err
	}
	return s.runPayBegin(ctx, t, sid, seat, reservationID, now, windowEnd)
}

// runPayBegin runs pay_begin.lua.
func (s *Store) runPayBegin(ctx context.Context, t engine.Token, sid int64, seat int, rid int64, now, windowEnd time.Time) (engine.Reservation, error) {
	c, uid := t.ConcertID, t.UserID
	k := s.keys
	keys := []string{
		k.tokens(c), k.active(c), k.wait(c), k.reservation(c, rid),
		k.holds(c, sid), k.paying(c, sid), k.holders(c, sid), k.holdTrigger(c, sid, seat), k.userHolds(c, uid),
		k.tags(c, sid), k.rows(c, sid),
	}
	rec, err := payBeginScript.Run(ctx, s.rdb, keys, uid, t.Gen, rid, ms(now), ms(windowEnd)).Text()
	if err != nil {
		return engine.Reservation{}, domainError("begin payment", err)
	}
	return parseReservation(c, rid, rec, now)
}

// AbortPayment runs pay_abort.lua; a reservation that is no longer PAYING is left alone.
func (s *Store) AbortPayment(ctx context.Context, r engine.Reservation, now time.Time) error {
	c, sid := r.ConcertID, r.ScheduleID
	k := s.keys
	keys := []string{
		k.reservation(c, r.ID), k.holds(c, sid), k.paying(c, sid), k.holders(c, sid),
		k.holdTrigger(c, sid, r.Seat), k.userHolds(c, r.UserID),
	}
	err := payAbortScript.Run(ctx, s.rdb, keys, r.ID, ms(now)).Err()
	return domainError("abort payment", err)
}

// CompletePayment runs pay_complete.lua; done reports that the user's token is now DONE.
func (s *Store) CompletePayment(ctx context.Context, r engine.Reservation, now time.Time) (bool, error) {
	c, sid, uid := r.ConcertID, r.ScheduleID, r.UserID
	k := s.keys
	keys := []string{
		k.sold(c, sid), k.holds(c, sid), k.paying(c, sid), k.holders(c, sid), k.holdTrigger(c, sid, r.Seat),
		k.reservation(c, r.ID), k.userHolds(c, uid), k.tokens(c), k.active(c), k.tags(c, sid),
		k.rows(c, sid), k.bought(c),
	}
	args := []any{r.Seat, r.ID, uid, ms(now), sid, r.Price, ms(r.ExpiresAt), reservationTTL.Milliseconds()}
	n, err := payCompleteScript.Run(ctx, s.rdb, keys, args...).Int64()
	if err != nil {
		return false, domainError("complete payment", err)
	}
	return n == 1, nil
}

// --- expiry ---------------------------------------------------------------------

// Expired lists holds past their deadline, PENDING ones first. It is one round trip
// when there are none, the sweeper's usual case, and two otherwise.
func (s *Store) Expired(ctx context.Context, concertID, scheduleID int64, now time.Time, limit int) ([]engine.ExpiredHold, error) {
	if limit <= 0 {
		return nil, nil
	}
	k := s.keys
	by := &redis.ZRangeBy{Min: "-inf", Max: ms(now), Count: int64(limit)}
	pipe := s.rdb.Pipeline()
	pending := pipe.ZRangeByScore(ctx, k.holds(concertID, scheduleID), by)
	paying := pipe.ZRangeByScore(ctx, k.paying(concertID, scheduleID), by)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, domainError("expired", err)
	}
	seats := append(pending.Val(), paying.Val()...)
	if len(seats) > limit {
		seats = seats[:limit]
	}
	if len(seats) == 0 {
		return nil, nil
	}
	owners, err := s.rdb.HMGet(ctx, k.holders(concertID, scheduleID), seats...).Result()
	if err != nil {
		return nil, domainError("expired", err)
	}
	out := make([]engine.ExpiredHold, 0, len(seats))
	for i, member := range seats {
		seat, err := strconv.Atoi(member)
		if err != nil {
			continue // not a seat; nothing this store wrote
		}
		h := engine.ExpiredHold{ConcertID: concertID, ScheduleID: scheduleID, Seat: seat, Paying: i >= len(pending.Val())}
		// A missing holder leaves ids 0: release.lua then drops the orphaned entry.
		if o, ok := owners[i].(string); ok {
			h.ReservationID, h.UserID, _ = parseHolder(o)
		}
		out = append(out, h)
	}
	return out, nil
}

// Release runs release.lua.
func (s *Store) Release(ctx context.Context, h engine.ExpiredHold, now time.Time) error {
	c, sid := h.ConcertID, h.ScheduleID
	k := s.keys
	keys := []string{
		k.holds(c, sid), k.paying(c, sid), k.holders(c, sid), k.holdTrigger(c, sid, h.Seat),
		k.reservation(c, h.ReservationID), k.userHolds(c, h.UserID), k.tags(c, sid), k.rows(c, sid),
	}
	err := releaseScript.Run(ctx, s.rdb, keys, h.Seat, h.ReservationID, h.UserID, ms(now)).Err()
	return domainError("release", err)
}

// MarkSold runs mark_sold.lua over the seats in chunks.
func (s *Store) MarkSold(ctx context.Context, concertID, scheduleID int64, seats []int) error {
	k := s.keys
	for len(seats) > 0 {
		chunk := seats[:min(len(seats), markSoldChunk)]
		seats = seats[len(chunk):]
		keys := make([]string, 0, 6+len(chunk))
		keys = append(keys, k.sold(concertID, scheduleID), k.holds(concertID, scheduleID),
			k.paying(concertID, scheduleID), k.holders(concertID, scheduleID), k.tags(concertID, scheduleID),
			k.rows(concertID, scheduleID))
		args := make([]any, len(chunk))
		for i, seat := range chunk {
			keys = append(keys, k.holdTrigger(concertID, scheduleID, seat))
			args[i] = seat
		}
		if err := markSoldScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
			return domainError("mark sold", err)
		}
	}
	return nil
}

// --- reads ----------------------------------------------------------------------

// SeatMap reads the sold bitmap, the holder tags and the lapsed holds in one
// pipelined round trip. A seat is held while it has a holder (its tag is set, and
// every script that gives or ends a hold keeps tag and holder in step) unless its
// hold is past its deadline and not swept yet; a PAYING seat is not in the holds
// set, so it reads held whatever its window says: only the sweeper frees it, after
// the ledger is asked. Reading lapsed holds rather than live ones keeps the cost
// flat while a rush holds most of a large schedule: the tags are one string of a
// byte per seat, and lapsed holds are few, since the sweeper ends them.
// Without the schedule's rebuilt marker the bitmap cannot be trusted (Redis may
// have lost it), so the schedule is rebuilt from the ledger and read again rather
// than shown with sold seats free.
func (s *Store) SeatMap(ctx context.Context, concertID, scheduleID int64, seatCount int, now time.Time) (engine.SeatMap, error) {
	m, err := s.seatMap(ctx, concertID, scheduleID, seatCount, now)
	if errors.Is(err, errNotRebuilt) {
		if err = s.rebuild(ctx, concertID, scheduleID); err == nil {
			m, err = s.seatMap(ctx, concertID, scheduleID, seatCount, now)
		}
		err = lostAgain(err)
	}
	return m, err
}

// seatMap is one read of the seat map; errNotRebuilt without the marker.
func (s *Store) seatMap(ctx context.Context, concertID, scheduleID int64, seatCount int, now time.Time) (engine.SeatMap, error) {
	k := s.keys
	pipe := s.rdb.Pipeline()
	rebuiltCmd := pipe.Exists(ctx, k.rebuilt(concertID, scheduleID))
	soldCmd := pipe.Get(ctx, k.sold(concertID, scheduleID))
	tagsCmd := pipe.Get(ctx, k.tags(concertID, scheduleID))
	lapsedCmd := pipe.ZRangeByScore(ctx, k.holds(concertID, scheduleID), &redis.ZRangeBy{Min: "-inf", Max: ms(now)})
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return engine.SeatMap{}, domainError("seat map", err)
	}
	if rebuiltCmd.Val() == 0 {
		return engine.SeatMap{}, errNotRebuilt
	}
	m := engine.SeatMap{Sold: make([]bool, seatCount+1), Tags: make([]byte, seatCount+1)}
	for _, cmd := range []*redis.StringCmd{soldCmd, tagsCmd} {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return engine.SeatMap{}, domainError("seat map", err)
		}
	}
	bitmap, _ := soldCmd.Bytes()
	decodeBitmap(bitmap, m.Sold)
	tags, _ := tagsCmd.Bytes()
	for n := 1; n < min(len(tags), seatCount+1); n++ {
		if !m.Sold[n] {
			m.Tags[n] = tags[n]
		}
	}
	for _, member := range lapsedCmd.Val() {
		if n, err := strconv.Atoi(member); err == nil && n >= 1 && n <= seatCount {
			m.Tags[n] = 0
		}
	}
	return m, nil
}

// decodeBitmap sets sold[n] for each set bit n; Redis numbers bits from the most
// significant bit of byte 0. Bits past len(sold) are ignored.
func decodeBitmap(bitmap []byte, sold []bool) {
	for i, b := range bitmap {
		if b == 0 {
			continue
		}
		base := i * 8
		for j := range 8 {
			if b&(0x80>>j) != 0 {
				if n := base + j; n < len(sold) {
					sold[n] = true
				}
			}
		}
	}
}

// Counts reads sold and live held seat counts in one pipelined round trip. Like
// SeatMap, it rebuilds a schedule whose sold seats Redis lost before it counts.
func (s *Store) Counts(ctx context.Context, concertID, scheduleID int64, now time.Time) (sold, held int64, err error) {
	sold, held, err = s.counts(ctx, concertID, scheduleID, now)
	if errors.Is(err, errNotRebuilt) {
		if err = s.rebuild(ctx, concertID, scheduleID); err == nil {
			sold, held, err = s.counts(ctx, concertID, scheduleID, now)
		}
		err = lostAgain(err)
	}
	return sold, held, err
}

// counts is one read of the counts; errNotRebuilt without the marker.
func (s *Store) counts(ctx context.Context, concertID, scheduleID int64, now time.Time) (sold, held int64, err error) {
	k := s.keys
	pipe := s.rdb.Pipeline()
	rebuiltCmd := pipe.Exists(ctx, k.rebuilt(concertID, scheduleID))
	soldCmd := pipe.BitCount(ctx, k.sold(concertID, scheduleID), nil)
	pendingCmd := pipe.ZCount(ctx, k.holds(concertID, scheduleID), "("+ms(now), "+inf")
	payingCmd := pipe.ZCard(ctx, k.paying(concertID, scheduleID))
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, domainError("counts", err)
	}
	if rebuiltCmd.Val() == 0 {
		return 0, 0, errNotRebuilt
	}
	return soldCmd.Val(), pendingCmd.Val() + payingCmd.Val(), nil
}

// --- parsing --------------------------------------------------------------------

// reservationFields are the fields of a reservation record, in order: hold.lua
// writes "schedule:seat:user:price:deadline:STATE" (the concert is the key's).
var reservationFields = [...]string{"schedule", "seat", "user", "price", "deadline", "state"}

// parseReservation reads a reservation record; a PENDING one past now reads
// EXPIRED.
func parseReservation(concertID, id int64, rec string, now time.Time) (engine.Reservation, error) {
	f := strings.Split(rec, ":")
	if len(f) != len(reservationFields) {
		return engine.Reservation{}, fmt.Errorf("redis reservation %d: record %q has %d fields, want %d", id, rec, len(f), len(reservationFields))
	}
	var errs []error
	num := func(i int) int64 {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", reservationFields[i], err))
		}
		return n
	}
	r := engine.Reservation{
		ID:         id,
		ConcertID:  concertID,
		ScheduleID: num(0),
		Seat:       int(num(1)),
		UserID:     num(2),
		Price:      num(3),
		ExpiresAt:  fromMS(num(4)),
		State:      engine.ReservationState(f[5]),
	}
	if err := errors.Join(errs...); err != nil {
		return engine.Reservation{}, fmt.Errorf("redis reservation %d: %w", id, err)
	}
	if r.State == engine.ReservationPending && !r.ExpiresAt.After(now) {
		r.State = engine.ReservationExpired
	}
	return r, nil
}

// parseHolder splits a holders value "reservationID:userID".
func parseHolder(v string) (rid, uid int64, ok bool) {
	a, b, found := strings.Cut(v, ":")
	if !found {
		return 0, 0, false
	}
	rid, err1 := strconv.ParseInt(a, 10, 64)
	uid, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return rid, uid, true
}

// replyInt reads an integer a script returned as a number or a string.
func replyInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	default:
		return 0, fmt.Errorf("unexpected reply %T %v", v, v)
	}
}
