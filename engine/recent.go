package engine

import (
	"sync"
	"time"
)

// recentMap keeps, per token, what the shared state said about it, for at most
// maxAge: the poll cache keeps waiting answers in one, and the hold path keeps the
// tokens it saw ACTIVE in another. Each shard holds two generations: new entries
// go into cur, and every maxAge cur becomes prev and the old prev is dropped, so
// memory is bounded by the distinct tokens seen in two generations, whatever the
// length of the line. Both get and put rotate, so a shard nobody uses keeps what
// it had until then.
type recentMap[V any] struct {
	maxAge time.Duration // 0: off, nothing is kept
	shards [recentShards]recentShard[V]
}

const recentShards = 64

type recentShard[V any] struct {
	mu        sync.Mutex
	cur, prev map[tokenKey]recentEntry[V]
	rotated   int64 // clock ns when cur was started
}

// tokenKey is a token without its issue time: Gen already tells one token of a
// user for a concert from the next.
type tokenKey struct{ concertID, userID, gen int64 }

func keyOf(t Token) tokenKey { return tokenKey{t.ConcertID, t.UserID, t.Gen} }

type recentEntry[V any] struct {
	at int64 // clock ns when the shared state said it
	v  V
}

func (m *recentMap[V]) shard(k tokenKey) *recentShard[V] {
	return &m.shards[uint64(k.userID^k.concertID<<20)%recentShards]
}

// get returns what was put for k less than maxAge before n (clock ns), never an
// entry from n's future.
func (m *recentMap[V]) get(k tokenKey, n int64) (V, bool) {
	v, _, ok := m.getAt(k, n)
	return v, ok
}

// getAt is get, with the time the entry was put.
func (m *recentMap[V]) getAt(k tokenKey, n int64) (V, int64, bool) {
	var zero V
	if m.maxAge <= 0 {
		return zero, 0, false
	}
	sh := m.shard(k)
	sh.mu.Lock()
	sh.rotate(n, m.maxAge)
	e, ok := sh.cur[k]
	if !ok {
		e, ok = sh.prev[k]
	}
	sh.mu.Unlock()
	if !ok || n < e.at || n-e.at >= int64(m.maxAge) {
		return zero, 0, false
	}
	return e.v, e.at, true
}

// put keeps v for k, as the shared state said it at n (clock ns).
func (m *recentMap[V]) put(k tokenKey, n int64, v V) {
	if m.maxAge <= 0 {
		return
	}
	sh := m.shard(k)
	sh.mu.Lock()
	sh.rotate(n, m.maxAge)
	sh.cur[k] = recentEntry[V]{at: n, v: v}
	sh.mu.Unlock()
}

// forget drops what was kept for k.
func (m *recentMap[V]) forget(k tokenKey) {
	if m.maxAge <= 0 {
		return
	}
	sh := m.shard(k)
	sh.mu.Lock()
	delete(sh.cur, k)
	delete(sh.prev, k)
	sh.mu.Unlock()
}

// size counts the entries kept, young or not.
func (m *recentMap[V]) size() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.cur) + len(sh.prev)
		sh.mu.Unlock()
	}
	return n
}

// rotate starts a new generation once the current one is maxAge old: what was
// current becomes prev (its entries may still be young enough), and the old prev,
// whose entries are all older than maxAge, is dropped. A request that read the
// clock just before the last rotation is no reason to rotate again: under load
// every rotation has such stragglers, and each extra rotation would drop entries
// still young enough. Only a clock that went back further than maxAge starts over.
func (sh *recentShard[V]) rotate(n int64, maxAge time.Duration) {
	if age := n - sh.rotated; sh.cur != nil && age < int64(maxAge) && age > -int64(maxAge) {
		return
	}
	sh.prev, sh.cur, sh.rotated = sh.cur, make(map[tokenKey]recentEntry[V], len(sh.cur)), n
}
