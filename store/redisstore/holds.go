package redisstore

import (
	"fmt"

	"github.com/concertd/concertd/engine"
)

// Concurrent holds on one schedule share one hold.lua run (see batcher). A winning
// hold runs eleven commands in Redis, so batches are smaller than the polls'.
const (
	holdBatch    = 32
	holdFlushers = 4
)

type holdReq = engine.HoldRequest

// holdAnswer is one hold's outcome: a new hold (created) or the user's existing
// one on that seat, by reservation id.
type holdAnswer struct {
	created bool
	rid     int64
}

type holdCall = batchCall[holdReq, holdAnswer]

// runHolds answers one batch of holds on one schedule with one hold.lua call.
func (s *Store) runHolds(scheduleID int64, batch []*holdCall) {
	first := batch[0].req
	c := first.Schedule.ConcertID
	k := s.keys
	keys := make([]string, 0, 12+3*len(batch))
	keys = append(keys,
		k.tokens(c), k.active(c), k.wait(c),
		k.sold(c, scheduleID), k.holds(c, scheduleID), k.paying(c, scheduleID), k.holders(c, scheduleID),
		k.rebuilt(c, scheduleID), k.tags(c, scheduleID), k.rows(c, scheduleID), k.bought(c), k.cfg(c))
	args := make([]any, 0, 3+8*len(batch))
	args = append(args, first.MaxHolds, scheduleID, reservationTTL.Milliseconds())
	for _, call := range batch {
		r := call.req
		uid := r.Token.UserID
		keys = append(keys, k.userHolds(c, uid), k.holdTrigger(c, scheduleID, r.Seat), k.reservation(c, r.ReservationID))
		args = append(args, uid, r.Token.Gen, r.Seat, r.ReservationID, r.Now.UnixMilli(), r.Deadline.UnixMilli(),
			// The tag is one byte (a one-byte string costs Go no allocation); only
			// the engine computes it, so hold.lua writes what the seat view expects.
			string([]byte{engine.HolderTag(uid)}), r.Schedule.SeatPrice(r.Seat))
	}
	answerBatch(s, holdScript, "hold", keys, args, 2, batch, parseHoldReply)
}

// parseHoldReply reads one hold's two entries of hold.lua's reply: outcome, detail.
func parseHoldReply(_ holdReq, v []any) (holdAnswer, error) {
	outcome, detail := v[0], v[1]
	if code, ok := outcome.(string); ok {
		msg, _ := detail.(string)
		if e, ok := scriptOutcome(msg); ok {
			return holdAnswer{}, e
		}
		return holdAnswer{}, fmt.Errorf("redis hold: unknown outcome %q %q", code, msg)
	}
	n, ok := outcome.(int64)
	if !ok || (n != 0 && n != 1) {
		return holdAnswer{}, fmt.Errorf("redis hold: unexpected reply %v %v", outcome, detail)
	}
	rid, err := replyInt(detail)
	if err != nil {
		return holdAnswer{}, fmt.Errorf("redis hold: %w", err)
	}
	return holdAnswer{created: n == 1, rid: rid}, nil
}
