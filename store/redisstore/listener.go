package redisstore

import (
	"context"
	"strconv"
	"strings"

	"github.com/concertd/concertd/engine"
)

// expiredChannel carries the name of every key Redis expires, on every database.
const expiredChannel = "__keyevent@*__:expired"

// ListenExpiries calls hint(concertID, scheduleID) whenever a hold trigger key
// (P:{cN}:hold:<scheduleID>:<seat>) of this store expires, so the sweeper can free
// the seat within a second instead of waiting for its next pass. It is only a hint:
// Redis may drop notifications (reconnects, a failover, a server that forbids CONFIG
// SET), and the holds/paying zsets stay the truth the sweeper reads.
//
// It returns nil when ctx ends, or an error if the first subscription fails.
func (s *Store) ListenExpiries(ctx context.Context, hint func(concertID, scheduleID int64)) error {
	s.enableExpiryEvents(ctx)

	ps := s.rdb.PSubscribe(ctx, expiredChannel)
	defer ps.Close()
	// Receive waits for the subscription to be confirmed, so a Redis that is down at
	// start is reported rather than retried silently.
	if _, err := ps.Receive(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return engine.Unavailable("redis expiry listener", err)
	}
	// Channel reconnects and resubscribes by itself after a dropped connection.
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-ch:
			if !ok {
				return nil
			}
			if c, sid, ok := s.parseHoldTrigger(msg.Payload); ok {
				hint(c, sid)
			}
		}
	}
}

// enableExpiryEvents adds key-event (E) and expired (x) notifications to whatever
// the server already emits, so other users of those events keep theirs. Managed
// Redis often refuses CONFIG; then events flow only if the operator enabled them,
// and the sweeper's periodic pass still frees every seat.
func (s *Store) enableExpiryEvents(ctx context.Context) {
	cur := ""
	if v, err := s.rdb.ConfigGet(ctx, "notify-keyspace-events").Result(); err == nil {
		cur = v["notify-keyspace-events"]
	}
	want := cur
	if !strings.ContainsRune(want, 'E') {
		want += "E"
	}
	// "A" stands for every event class, x included.
	if !strings.ContainsRune(want, 'x') && !strings.ContainsRune(want, 'A') {
		want += "x"
	}
	if want != cur {
		_ = s.rdb.ConfigSet(ctx, "notify-keyspace-events", want).Err()
	}
}

// parseHoldTrigger reads concert and schedule from a hold trigger key of this store.
func (s *Store) parseHoldTrigger(key string) (concertID, scheduleID int64, ok bool) {
	rest, found := strings.CutPrefix(key, s.keys.prefix+":{c")
	if !found {
		return 0, 0, false
	}
	c, rest, found := strings.Cut(rest, "}:hold:")
	if !found {
		return 0, 0, false
	}
	sid, seat, found := strings.Cut(rest, ":")
	if !found {
		return 0, 0, false
	}
	concertID, err1 := strconv.ParseInt(c, 10, 64)
	scheduleID, err2 := strconv.ParseInt(sid, 10, 64)
	_, err3 := strconv.Atoi(seat)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return concertID, scheduleID, true
}
