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
	statusTimeout  = 3 * time.Second
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

// runStatus answers one batch with one status.lua call. The call gets its own
// timeout: the batch outlives any one request's context.
func (s *Store) runStatus(concertID int64, batch []*statusCall) {
	k := s.keys
	keys := []string{k.active(concertID), k.wait(concertID), k.tokens(concertID)}
	args := make([]any, 2, 2+2*len(batch))
	now, idle := batch[0].req.now, batch[0].req.idle
	for _, call := range batch {
		args = append(args, call.req.t.UserID, call.req.t.Gen)
		if call.req.now.After(now) {
			now = call.req.now
		}
	}
	args[0], args[1] = now.UnixMilli(), idle.Milliseconds()
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	v, err := statusScript.Run(ctx, s.rdb, keys, args...).Slice()
	cancel()
	if err == nil && len(v) != 2*len(batch) {
		err = fmt.Errorf("redis status: %d replies for %d tokens", len(v)/2, len(batch))
	} else if err != nil {
		err = domainError("status", err)
	}
	for i, call := range batch {
		if err != nil {
			call.err = err
		} else if call.res, call.err = parseTokenStatus(v[2*i : 2*i+2]); call.err != nil {
			call.err = fmt.Errorf("redis status: %w", call.err)
		}
	}
}
