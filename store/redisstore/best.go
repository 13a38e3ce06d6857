package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/concertd/concertd/engine"
)

// layoutArg is a schedule's layout as rows.lua stores it: per section
// "start,seatsPerRow,firstRow,rows;", rows numbered 1.. across sections.
func layoutArg(s engine.Schedule) string {
	var b strings.Builder
	start, row := 1, 1
	for _, sec := range s.Layout() {
		fmt.Fprintf(&b, "%d,%d,%d,%d;", start, sec.SeatsPerRow, row, sec.Rows)
		start += sec.Rows * sec.SeatsPerRow
		row += sec.Rows
	}
	return b.String()
}

// LoadRows runs rows.lua: the layout and each row's free seats, once.
func (s *Store) LoadRows(ctx context.Context, sch engine.Schedule) error {
	c, sid := sch.ConcertID, sch.ID
	k := s.keys
	err := rowsScript.Run(ctx, s.rdb, []string{k.rows(c, sid), k.sold(c, sid), k.tags(c, sid)}, layoutArg(sch)).Err()
	return domainError("load rows", err)
}

// HoldBest runs best.lua: the token, the limits, the choice of seats and every
// hold in one round trip, shared with the schedule's other requests in flight.
// Without r.ReservationIDs the ids are drawn here, after the schedule's sold
// seats and row counts are known loaded, as Hold does; a schedule Redis lost
// since (the script refuses it) is rebuilt from the ledger, its rows counted,
// and the hold tried again under fresh ids.
func (s *Store) HoldBest(ctx context.Context, r engine.BestRequest) ([]engine.Reservation, error) {
	if r.Schedule.ConcertID != r.Token.ConcertID {
		return nil, engine.ErrWrongConcert
	}
	if r.Quantity < 1 || (r.ReservationIDs != nil && len(r.ReservationIDs) != r.Quantity) {
		return nil, engine.ErrBadRequest
	}
	if r.ReservationIDs == nil {
		if err := s.ensureRows(ctx, r.Schedule); err != nil {
			return nil, err
		}
		ids, err := s.reservationIDs(ctx, r.Quantity)
		if err != nil {
			return nil, err
		}
		r.ReservationIDs = ids
	}
	rs, err := s.holdBest(ctx, r)
	if errors.Is(err, errNotRebuilt) {
		s.forget(r.Schedule.ID)
		if err = s.ensureRows(ctx, r.Schedule); err == nil {
			if r.ReservationIDs, err = s.reservationIDs(ctx, r.Quantity); err == nil {
				rs, err = s.holdBest(ctx, r)
			}
		}
		err = lostAgain(err)
	}
	return rs, err
}

// reservationIDs draws n fresh reservation ids.
func (s *Store) reservationIDs(ctx context.Context, n int) ([]int64, error) {
	ids := make([]int64, n)
	for i := range ids {
		id, err := s.NextReservationID(ctx)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// Concurrent best-available requests on one schedule share one best.lua run
// (see batcher), served in turn as separate calls would be. A winning request
// runs about fifteen commands in Redis and scans rows, so batches are smaller
// than the holds'.
const (
	bestBatch    = 16
	bestFlushers = 4
)

type bestCall = batchCall[engine.BestRequest, []engine.Reservation]

// holdBest is one best.lua attempt; errNotRebuilt without the sold seats or rows.
func (s *Store) holdBest(ctx context.Context, r engine.BestRequest) ([]engine.Reservation, error) {
	return s.bests.do(ctx, r.Schedule.ID, r)
}

// runBests answers one batch of best-available requests on one schedule with
// one best.lua call.
func (s *Store) runBests(scheduleID int64, batch []*bestCall) {
	sch := batch[0].req.Schedule
	c := sch.ConcertID
	k := s.keys
	keys := make([]string, 0, 11+3*len(batch))
	keys = append(keys,
		k.tokens(c), k.active(c), k.wait(c), k.sold(c, scheduleID), k.holds(c, scheduleID), k.holders(c, scheduleID),
		k.rebuilt(c, scheduleID), k.tags(c, scheduleID), k.rows(c, scheduleID), k.bought(c), k.cfg(c))
	secs := sch.Layout()
	prices := make([]string, len(secs))
	for i, sec := range secs {
		prices[i] = strconv.FormatInt(sec.Price, 10)
	}
	args := make([]any, 0, 3+10*len(batch))
	args = append(args, scheduleID, reservationTTL.Milliseconds(), strings.Join(prices, ","))
	for _, call := range batch {
		r := call.req
		uid := r.Token.UserID
		keys = append(keys, k.userHolds(c, uid))
		args = append(args, uid, r.Token.Gen, ms(r.Now), ms(r.Deadline), string([]byte{engine.HolderTag(uid)}),
			r.MaxHolds, r.Quantity, r.Section)
		for _, id := range r.ReservationIDs {
			keys = append(keys, k.reservation(c, id))
			args = append(args, id)
		}
	}
	answerBatch(s, bestScript, "best", keys, args, 1, batch, parseBestReply)
}

// parseBestReply reads one request's entry of best.lua's reply: reservation id
// and seat for each seat held, or a refusal's "CODE message".
func parseBestReply(r engine.BestRequest, entries []any) ([]engine.Reservation, error) {
	v, ok := entries[0].([]any)
	if !ok {
		return nil, fmt.Errorf("redis best: unexpected reply %v", entries[0])
	}
	if len(v) == 1 { // a refusal: "CODE message"
		msg, _ := v[0].(string)
		if e, ok := scriptOutcome(msg); ok {
			return nil, e
		}
		return nil, fmt.Errorf("redis best: unknown outcome %q", msg)
	}
	if len(v) != 2*r.Quantity {
		return nil, fmt.Errorf("redis best: %d entries for %d seats", len(v), r.Quantity)
	}
	c, sid, uid := r.Token.ConcertID, r.Schedule.ID, r.Token.UserID
	out := make([]engine.Reservation, r.Quantity)
	for i := range out {
		rid, err := replyInt(v[2*i])
		if err != nil {
			return nil, fmt.Errorf("redis best: %w", err)
		}
		seat, err := replyInt(v[2*i+1])
		if err != nil {
			return nil, fmt.Errorf("redis best: %w", err)
		}
		out[i] = engine.Reservation{
			ID: rid, ConcertID: c, ScheduleID: sid, Seat: int(seat), UserID: uid,
			Price: r.Schedule.SeatPrice(int(seat)), State: engine.ReservationPending,
			ExpiresAt: fromMS(r.Deadline.UnixMilli()),
		}
	}
	return out, nil
}

// LoadBought runs bought.lua: the ledger's bought counts of a concert, which
// hold.lua and best.lua add to a user's live holds, written once per empty state
// (a new concert, or a Redis that lost its data); a no-op when they are loaded.
func (s *Store) LoadBought(ctx context.Context, concertID int64, counts map[int64]int) error {
	args := make([]any, 0, 2*len(counts))
	for uid, n := range counts {
		args = append(args, uid, n)
	}
	err := boughtScript.Run(ctx, s.rdb, []string{s.keys.bought(concertID)}, args...).Err()
	return domainError("load bought", err)
}
