package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

const (
	// maxPreQueueScore bounds pre-queue scores below the arrival scores (2^52+seq),
	// which stay exact doubles below 2^53.
	maxPreQueueScore = 1 << 52
)

// Configure writes the settings and opening time and leaves the counters and the
// token bucket alone, so restoring a concert from the ledger never re-admits.
func (s *Store) Configure(ctx context.Context, c engine.QueueConfig) error {
	err := s.rdb.HSet(ctx, s.keys.cfg(c.ConcertID),
		"opensAt", c.SaleOpensAt.UnixMilli(),
		"admitPerSecond", c.Settings.AdmitPerSecond,
		"maxActive", c.Settings.MaxActive,
		"paused", boolDigit(c.Settings.Paused),
		"powBits", c.Settings.ProofOfWorkBits,
		"maxTickets", c.Settings.MaxTicketsPerUser,
	).Err()
	return domainError("configure", err)
}

// Configured reports whether the concert's cfg hash exists.
func (s *Store) Configured(ctx context.Context, concertID int64) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.keys.cfg(concertID)).Result()
	if err != nil {
		return false, domainError("configured", err)
	}
	return n == 1, nil
}

// Patch runs patch.lua, so two operators patching different fields at once both
// take effect and each sees a consistent result.
func (s *Store) Patch(ctx context.Context, concertID int64, p engine.QueuePatch) (engine.QueueSettings, error) {
	opt := func(v *int) string {
		if v == nil {
			return ""
		}
		return strconv.Itoa(*v)
	}
	paused := ""
	if p.Paused != nil {
		paused = boolDigit(*p.Paused)
	}
	v, err := s.runReply(ctx, patchScript, "patch", []string{s.keys.cfg(concertID)}, 5,
		opt(p.AdmitPerSecond), opt(p.MaxActive), paused, opt(p.ProofOfWorkBits), opt(p.MaxTicketsPerUser))
	if err != nil {
		return engine.QueueSettings{}, err
	}
	rate, err1 := queueInt(v[0])
	maxActive, err2 := queueInt(v[1])
	// A concert configured before ticket limits has none (nil).
	tickets, err3 := queueInt(v[4])
	if v[4] == nil {
		tickets, err3 = 0, nil
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return engine.QueueSettings{}, fmt.Errorf("redis patch: unexpected reply %v", v)
	}
	var powBits int64
	if v[3] != nil { // a concert configured before the setting existed has none
		if powBits, err = queueInt(v[3]); err != nil {
			return engine.QueueSettings{}, fmt.Errorf("redis patch: unexpected reply %v", v)
		}
	}
	return engine.QueueSettings{
		AdmitPerSecond:    int(rate),
		MaxActive:         int(maxActive),
		Paused:            v[2] == "1",
		ProofOfWorkBits:   int(powBits),
		MaxTicketsPerUser: int(tickets),
	}, nil
}

// Enter runs enter.lua: the reuse check, the new token and its rank are one round
// trip, so a double click never yields two places in line. Concurrent entries to
// one concert share one call (see batcher).
func (s *Store) Enter(ctx context.Context, concertID, userID int64, now time.Time, idle time.Duration, preQueueScore int64) (engine.EnterResult, error) {
	if preQueueScore >= maxPreQueueScore || preQueueScore < -1 {
		return engine.EnterResult{}, fmt.Errorf("redis enter: pre-queue score %d outside [-1, 2^52)", preQueueScore)
	}
	return s.entries.do(ctx, concertID, enterReq{userID: userID, now: now, idle: idle, score: preQueueScore})
}

const (
	enterBatch    = 64
	enterFlushers = 4
)

type enterReq struct {
	userID int64
	now    time.Time
	idle   time.Duration
	score  int64
}

type enterCall = batchCall[enterReq, engine.EnterResult]

// runEnters answers one batch of entries to one concert with one enter.lua call.
func (s *Store) runEnters(concertID int64, batch []*enterCall) {
	args := make([]any, 0, 1+3*len(batch))
	args = append(args, batch[0].req.idle.Milliseconds())
	for _, call := range batch {
		args = append(args, call.req.userID, call.req.now.UnixMilli(), call.req.score)
	}
	answerBatch(s, enterScript, "enter", s.keys.enterKeys(concertID), args, 5, batch, parseEnterReply)
}

// parseEnterReply reads one entry's five values of enter.lua's reply.
func parseEnterReply(_ enterReq, v []any) (engine.EnterResult, error) {
	reused, err1 := queueInt(v[0])
	gen, err2 := queueInt(v[1])
	issued, err3 := queueInt(v[2])
	st, err4 := parseTokenStatus(v[3:])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return engine.EnterResult{}, fmt.Errorf("redis enter: unexpected reply %v", v)
	}
	return engine.EnterResult{
		Gen:      gen,
		IssuedAt: time.UnixMilli(issued).UTC(),
		Reused:   reused == 1,
		Status:   st,
	}, nil
}

// Admit runs admit.lua, one atomic admission step shared by every instance.
func (s *Store) Admit(ctx context.Context, concertID int64, now time.Time, p engine.AdmitParams) (engine.AdmitResult, error) {
	k := s.keys
	keys := []string{k.cfg(concertID), k.wait(concertID), k.tokens(concertID), k.active(concertID)}
	v, err := s.runReply(ctx, admitScript, "admit", keys, 2,
		now.UnixMilli(), p.IdleTimeout.Milliseconds(), p.ActiveTTL.Milliseconds(),
		max(p.MaxBatch, 0), max(p.MaxIdleScan, 0), max(p.IdleScanPeriod.Milliseconds(), 0))
	if err != nil {
		return engine.AdmitResult{}, err
	}
	admitted, err1 := queueInt(v[0])
	dropped, err2 := queueInt(v[1])
	if err1 != nil || err2 != nil {
		return engine.AdmitResult{}, fmt.Errorf("redis admit: unexpected reply %v", v)
	}
	return engine.AdmitResult{Admitted: int(admitted), IdleDropped: int(dropped)}, nil
}

// Stats reads the three counts in one pipelined round trip. Waiting may include
// idle waiters the next admission step will drop.
func (s *Store) Stats(ctx context.Context, concertID int64, now time.Time) (engine.QueueStats, error) {
	k := s.keys
	pipe := s.rdb.Pipeline()
	waiting := pipe.ZCard(ctx, k.wait(concertID))
	active := pipe.ZCount(ctx, k.active(concertID), "("+strconv.FormatInt(now.UnixMilli(), 10), "+inf")
	admitted := pipe.HGet(ctx, k.cfg(concertID), "admitted")
	// A concert never stepped has no admitted field: HGET's nil is a zero count.
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return engine.QueueStats{}, domainError("stats", err)
	}
	total, err := admitted.Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return engine.QueueStats{}, fmt.Errorf("redis stats: admitted: %w", err)
	}
	return engine.QueueStats{Waiting: waiting.Val(), Active: active.Val(), AdmittedTotal: total}, nil
}

// parseTokenStatus reads the {state, detail} reply of status.lua and enter.lua.
func parseTokenStatus(v []any) (engine.TokenStatus, error) {
	if len(v) == 0 {
		return engine.TokenStatus{}, fmt.Errorf("empty reply")
	}
	state, _ := v[0].(string)
	st := engine.TokenStatus{State: engine.TokenState(state)}
	switch st.State {
	case engine.TokenDone, engine.TokenExpired:
		return st, nil // the detail is empty
	case engine.TokenWaiting, engine.TokenActive:
		if len(v) != 2 {
			return engine.TokenStatus{}, fmt.Errorf("unexpected reply %v", v)
		}
		n, err := queueInt(v[1])
		if err != nil {
			return engine.TokenStatus{}, err
		}
		if st.State == engine.TokenWaiting {
			st.Rank = n
		} else {
			st.ActiveUntil = time.UnixMilli(n).UTC()
		}
		return st, nil
	default:
		return engine.TokenStatus{}, fmt.Errorf("unknown token state in %v", v)
	}
}

// queueInt reads a reply that is an integer, or a string holding one; a zset score
// comes back as a string that Redis may write in float notation ("1.9e+12").
func queueInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(x, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
			return 0, fmt.Errorf("not an integer: %q", x)
		}
		return int64(f), nil
	default:
		return 0, fmt.Errorf("unexpected reply %T %v", v, v)
	}
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
