package engine

import (
	"context"
	"sync/atomic"
	"time"
)

// Polls answers a token's poll: its state in the shared queue, c being the
// token's concert. The queue role answers it (queuePolls); pollCache decorates it.
type Polls interface {
	Poll(ctx context.Context, c Concert, t Token, now time.Time) (TokenStatus, error)
}

// queuePolls asks the shared queue every time; a poll there is also the waiting
// token's heartbeat.
type queuePolls struct {
	queue Queue
	idle  time.Duration
}

func (q queuePolls) Poll(ctx context.Context, _ Concert, t Token, now time.Time) (TokenStatus, error) {
	return q.queue.Status(ctx, t, now, q.idle)
}

// pollCache answers a waiting token's repeat polls from this instance's memory.
// The contract lets `position` lag reality by up to one second, so a client that
// polls faster than that (a refresh storm, or a load generator) costs one Redis
// round trip per second instead of one per poll. Only answers that cannot go
// wrong within that second are kept:
//
//   - WAITING far enough back that admission cannot reach the token in time: a
//     second of admission is at most a full bucket (admitPerSecond) plus a
//     second's refill, so a token behind twice admitPerSecond (and behind the
//     first pollCacheMinPosition, who poll every second and see admission as it
//     happens) is still WAITING a second later. Waiters ahead that went idle but
//     were not dropped yet count in position and are skipped by admission, so
//     after mass abandonment a token can be admitted from further back; its
//     answer is then late by at most maxAge, the lag the contract allows;
//   - the pre-queue, up to the moment the sale opens and the order is drawn.
//
// An entry is used only while the concert's queue settings and opening time are
// the ones it was answered under, so a PATCH that speeds admission up takes effect
// at once on the instance that served it and within the catalog's refresh elsewhere.
// A poll answered here is not a heartbeat in Redis; the age bound (at most a
// quarter of the idle timeout) leaves every polling waiter well inside it.
type pollCache struct {
	next    Polls // asked on a miss
	answers recentMap[pollAnswer]
	hits    atomic.Int64
}

const (
	// pollCacheMinPosition keeps the front of the line exact: those are the polls
	// that turn into admissions.
	pollCacheMinPosition = 100
	// maxPollLag is the contract's bound on how far `position` may lag reality.
	maxPollLag = time.Second
)

type pollAnswer struct {
	rank     int64
	opens    int64 // the concert's saleOpensAt (ms) the answer was given under
	preQueue bool  // answered before the sale opened
	settings QueueSettings
}

// newPollCache decorates next with answers kept for up to maxAge (bounded by the
// contract's lag and a quarter of the idle timeout); maxAge <= 0 keeps none.
func newPollCache(next Polls, maxAge, idle time.Duration) *pollCache {
	maxAge = min(maxAge, maxPollLag, idle/4)
	p := &pollCache{next: next}
	p.answers.maxAge = max(maxAge, 0)
	return p
}

// Poll answers from memory when a recent answer still holds, else asks next and
// keeps its answer if it may be given again.
func (p *pollCache) Poll(ctx context.Context, c Concert, t Token, now time.Time) (TokenStatus, error) {
	if s, ok := p.get(t, c, now); ok {
		return s, nil
	}
	s, err := p.next.Poll(ctx, c, t, now)
	if err == nil {
		p.put(t, c, s, now)
	}
	return s, err
}

// get returns the status a recent poll of t read from the shared state, if that
// answer still holds at now under the concert c.
func (p *pollCache) get(t Token, c Concert, now time.Time) (TokenStatus, bool) {
	a, ok := p.answers.get(keyOf(t), now.UnixNano())
	if !ok || a.opens != c.SaleOpensAt.UnixMilli() || a.settings != c.Queue {
		return TokenStatus{}, false
	}
	if a.preQueue != now.Before(c.SaleOpensAt) { // the sale opened since: the order is new
		return TokenStatus{}, false
	}
	p.hits.Add(1)
	return TokenStatus{State: TokenWaiting, Rank: a.rank}, true
}

// put keeps s, read from the shared state at now, if it is an answer get may give.
func (p *pollCache) put(t Token, c Concert, s TokenStatus, now time.Time) {
	if p.answers.maxAge == 0 || s.State != TokenWaiting {
		return
	}
	preQueue := now.Before(c.SaleOpensAt)
	if !preQueue && s.Rank+1 <= max(pollCacheMinPosition, 2*int64(c.Queue.AdmitPerSecond)) {
		return
	}
	a := pollAnswer{rank: s.Rank, opens: c.SaleOpensAt.UnixMilli(), preQueue: preQueue, settings: c.Queue}
	p.answers.put(keyOf(t), now.UnixNano(), a)
}
