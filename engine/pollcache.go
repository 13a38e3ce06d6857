package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

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
	maxAge time.Duration // 0: off
	shards [pollCacheShards]pollShard
	hits   atomic.Int64
}

const (
	pollCacheShards = 64
	// pollCacheMinPosition keeps the front of the line exact: those are the polls
	// that turn into admissions.
	pollCacheMinPosition = 100
	// maxPollLag is the contract's bound on how far `position` may lag reality.
	maxPollLag = time.Second
)

// pollShard holds two generations of answers: new ones go into cur, and every
// maxAge cur becomes prev and the old prev is dropped. Memory is bounded by the
// distinct tokens polled in two generations, whatever the length of the line.
// Both get and put rotate, so a shard nobody polls keeps what it had until then.
type pollShard struct {
	mu        sync.Mutex
	cur, prev map[pollKey]pollAnswer
	rotated   int64 // clock ns when cur was started
}

// pollKey is a token without its issue time: Gen already tells one token of a
// user for a concert from the next.
type pollKey struct{ concertID, userID, gen int64 }

type pollAnswer struct {
	at       int64 // clock ns when the shared state answered
	rank     int64
	opens    int64 // the concert's saleOpensAt (ms) the answer was given under
	preQueue bool  // answered before the sale opened
	settings QueueSettings
}

func newPollCache(maxAge, idle time.Duration) *pollCache {
	maxAge = min(maxAge, maxPollLag, idle/4)
	if maxAge < 0 {
		maxAge = 0
	}
	return &pollCache{maxAge: maxAge}
}

func (p *pollCache) shard(k pollKey) *pollShard {
	return &p.shards[uint64(k.userID^k.concertID<<20)%pollCacheShards]
}

// get returns the status a recent poll of t read from the shared state, if that
// answer still holds at now under the concert c.
func (p *pollCache) get(t Token, c Concert, now time.Time) (TokenStatus, bool) {
	if p.maxAge == 0 {
		return TokenStatus{}, false
	}
	k := pollKey{t.ConcertID, t.UserID, t.Gen}
	n := now.UnixNano()
	sh := p.shard(k)
	sh.mu.Lock()
	sh.rotate(n, p.maxAge)
	a, ok := sh.cur[k]
	if !ok {
		a, ok = sh.prev[k]
	}
	sh.mu.Unlock()
	if !ok {
		return TokenStatus{}, false
	}
	if n < a.at || n-a.at >= int64(p.maxAge) || a.opens != c.SaleOpensAt.UnixMilli() || a.settings != c.Queue {
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
	if p.maxAge == 0 || s.State != TokenWaiting {
		return
	}
	preQueue := now.Before(c.SaleOpensAt)
	if !preQueue && s.Rank+1 <= max(pollCacheMinPosition, 2*int64(c.Queue.AdmitPerSecond)) {
		return
	}
	n := now.UnixNano()
	k := pollKey{t.ConcertID, t.UserID, t.Gen}
	a := pollAnswer{at: n, rank: s.Rank, opens: c.SaleOpensAt.UnixMilli(), preQueue: preQueue, settings: c.Queue}
	sh := p.shard(k)
	sh.mu.Lock()
	sh.rotate(n, p.maxAge)
	sh.cur[k] = a
	sh.mu.Unlock()
}

// rotate starts a new generation once the current one is maxAge old: what was
// current becomes prev (its answers may still be young enough), and the old prev,
// whose answers are all older than maxAge, is dropped. A request that read the
// clock just before the last rotation is no reason to rotate again: under load
// every rotation has such stragglers, and each extra rotation would drop answers
// still young enough. Only a clock that went back further than maxAge starts over.
func (sh *pollShard) rotate(n int64, maxAge time.Duration) {
	if age := n - sh.rotated; sh.cur != nil && age < int64(maxAge) && age > -int64(maxAge) {
		return
	}
	sh.prev, sh.cur, sh.rotated = sh.cur, make(map[pollKey]pollAnswer, len(sh.cur)), n
}
