package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/concertd/concertd/engine"
)

// Concurrent polls of one concert share one status.lua run (see batcher).
const (
	statusBatch    = 128
	statusFlushers = 4
)

type statusReq struct {
	t    engine.Token
	now  time.Time
	idle time.Duration
}

type statusCall = batchCall[statusReq, engine.TokenStatus]

// Status reads a token's state; a waiting token's poll refreshes its heartbeat.
func (s *Store) Status(ctx context.Context, t engine.Token, now time.Time, idle time.Duration) (engine.TokenStatus, error) {
	return s.status.do(ctx, t.ConcertID, statusReq{t: t, now: now, idle: idle})
}

// runStatus answers one batch with one status.lua call.
func (s *Store) runStatus(concertID int64, batch []*statusCall) {
	args := make([]any, 2, 2+2*len(batch))
	now, idle := batch[0].req.now, batch[0].req.idle
	for _, call := range batch {
		args = append(args, call.req.t.UserID, call.req.t.Gen)
		if call.req.now.After(now) {
			now = call.req.now
		}
	}
	args[0], args[1] = now.UnixMilli(), idle.Milliseconds()
	answerBatch(s, statusScript, "status", s.keys.statusKeys(concertID), args, 2, batch, func(_ statusReq, v []any) (engine.TokenStatus, error) {
		st, err := parseTokenStatus(v)
		if err != nil {
			return st, fmt.Errorf("redis status: %w", err)
		}
		return st, nil
	})
}
