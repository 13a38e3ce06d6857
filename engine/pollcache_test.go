package engine

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Each case puts one answer read from the shared state at `at` and asks for it
// back at `at + after`, with the concert, token or cache changed by `change`.
func TestPollCacheKeepsOnlyAnswersThatCannotGoStale(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	open := Concert{ID: 1, SaleOpensAt: at.Add(-time.Hour), Queue: QueueSettings{AdmitPerSecond: 10, MaxActive: 100}}
	early := open
	early.SaleOpensAt = at.Add(300 * time.Millisecond)
	tok := Token{ConcertID: 1, UserID: 7, Gen: 1, IssuedAt: at}
	waiting := func(rank int64) TokenStatus { return TokenStatus{State: TokenWaiting, Rank: rank} }

	cases := []struct {
		name    string
		maxAge  time.Duration
		idle    time.Duration
		c       Concert
		s       TokenStatus
		after   time.Duration
		change  func(c *Concert, t *Token)
		wantHit bool
	}{
		{name: "far back, half a second later", c: open, s: waiting(500), after: 500 * time.Millisecond, wantHit: true},
		{name: "far back, just under the lag", c: open, s: waiting(500), after: time.Second - 1, wantHit: true},
		{name: "far back, at the lag", c: open, s: waiting(500), after: time.Second},
		{name: "the front of the line polls exactly", c: open, s: waiting(pollCacheMinPosition - 1), after: time.Millisecond},
		{name: "just behind the front", c: open, s: waiting(pollCacheMinPosition), after: time.Millisecond, wantHit: true},
		{name: "two seconds of admission could reach it", s: waiting(500), after: time.Millisecond,
			c: Concert{ID: 1, SaleOpensAt: open.SaleOpensAt, Queue: QueueSettings{AdmitPerSecond: 251, MaxActive: 100}}},
		{name: "just out of two seconds of admission", s: waiting(500), after: time.Millisecond, wantHit: true,
			c: Concert{ID: 1, SaleOpensAt: open.SaleOpensAt, Queue: QueueSettings{AdmitPerSecond: 250, MaxActive: 100}}},
		{name: "active", c: open, s: TokenStatus{State: TokenActive, ActiveUntil: at.Add(time.Minute)}, after: time.Millisecond},
		{name: "done", c: open, s: TokenStatus{State: TokenDone}, after: time.Millisecond},
		{name: "settings changed", c: open, s: waiting(500), after: time.Millisecond,
			change: func(c *Concert, _ *Token) { c.Queue.AdmitPerSecond = 1000 }},
		{name: "paused since", c: open, s: waiting(500), after: time.Millisecond,
			change: func(c *Concert, _ *Token) { c.Queue.Paused = true }},
		{name: "opening time moved", c: open, s: waiting(500), after: time.Millisecond,
			change: func(c *Concert, _ *Token) { c.SaleOpensAt = c.SaleOpensAt.Add(time.Minute) }},
		{name: "the user's next token", c: open, s: waiting(500), after: time.Millisecond,
			change: func(_ *Concert, t *Token) { t.Gen++ }},
		{name: "another user", c: open, s: waiting(500), after: time.Millisecond,
			change: func(_ *Concert, t *Token) { t.UserID++ }},
		{name: "the same token issued at another second", c: open, s: waiting(500), after: time.Millisecond,
			change: func(_ *Concert, t *Token) { t.IssuedAt = t.IssuedAt.Add(time.Second) }, wantHit: true},
		{name: "pre-queue, still before opening", c: early, s: waiting(3), after: 200 * time.Millisecond, wantHit: true},
		{name: "pre-queue, the sale opened since", c: early, s: waiting(3), after: 400 * time.Millisecond},
		{name: "clock went back", c: open, s: waiting(500), after: -time.Millisecond},
		{name: "off", maxAge: -1, c: open, s: waiting(500), after: time.Millisecond},
		{name: "shorter than asked", maxAge: 200 * time.Millisecond, c: open, s: waiting(500), after: 300 * time.Millisecond},
		{name: "a short idle timeout shortens it", idle: 2 * time.Second, c: open, s: waiting(500), after: 600 * time.Millisecond},
		{name: "a short idle timeout, within its quarter", idle: 2 * time.Second, c: open, s: waiting(500), after: 400 * time.Millisecond, wantHit: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{PollCacheAge: tc.maxAge, IdleTimeout: tc.idle}
			cfg = cfg.withDefaults()
			p := newPollCache(nil, cfg.PollCacheAge, cfg.IdleTimeout)
			p.put(tok, tc.c, tc.s, at)
			c, tk := tc.c, tok
			if tc.change != nil {
				tc.change(&c, &tk)
			}
			got, hit := p.get(tk, c, at.Add(tc.after))
			if hit != tc.wantHit {
				t.Fatalf("hit = %v, want %v", hit, tc.wantHit)
			}
			if hit && (got != tc.s || p.hits.Load() != 1) {
				t.Fatalf("got %+v (hits %d), want %+v once", got, p.hits.Load(), tc.s)
			}
			if !hit && p.hits.Load() != 0 {
				t.Fatalf("a miss counted as a hit")
			}
		})
	}
}

// The cache holds at most two generations of answers, however many tokens were
// polled before: a rush that moves on does not leave its answers behind.
func TestPollCacheForgetsOldGenerations(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	c := Concert{ID: 1, SaleOpensAt: at.Add(-time.Hour), Queue: QueueSettings{AdmitPerSecond: 1, MaxActive: 1}}
	p := newPollCache(nil, time.Second, time.Minute)
	for u := range int64(10_000) {
		p.put(Token{ConcertID: 1, UserID: u + 1, Gen: 1}, c, TokenStatus{State: TokenWaiting, Rank: 200 + u}, at)
	}
	if n := p.size(); n != 10_000 {
		t.Fatalf("%d answers kept, want 10000", n)
	}
	// Two generations later every shard that is polled has let the 10,000 go.
	for step := 1; step <= 2; step++ {
		now := at.Add(time.Duration(step) * time.Second)
		for u := range int64(recentShards * 4) {
			p.get(Token{ConcertID: 1, UserID: u + 1, Gen: 1}, c, now)
		}
	}
	if n := p.size(); n != 0 {
		t.Fatalf("%d answers kept two generations on, want 0", n)
	}
}

// A poll that read the clock just before a shard rotated (every busy rotation has
// such stragglers) must not rotate it again: that would drop the previous
// generation, whose answers are still young enough to serve.
func TestPollCacheStragglerKeepsYoungAnswers(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	c := Concert{ID: 1, SaleOpensAt: at.Add(-time.Hour), Queue: QueueSettings{AdmitPerSecond: 1, MaxActive: 1}}
	p := newPollCache(nil, time.Second, time.Minute)
	// Users 1, 65 and 129 share a shard (recentShards apart).
	x, y, z := Token{ConcertID: 1, UserID: 1, Gen: 1}, Token{ConcertID: 1, UserID: 65, Gen: 1}, Token{ConcertID: 1, UserID: 129, Gen: 1}
	if p.answers.shard(tokenKey{1, 1, 1}) != p.answers.shard(tokenKey{1, 65, 1}) || p.answers.shard(tokenKey{1, 1, 1}) != p.answers.shard(tokenKey{1, 129, 1}) {
		t.Fatal("the three users must share a shard for this test")
	}
	waiting := TokenStatus{State: TokenWaiting, Rank: 500}
	p.put(z, c, waiting, at)                                      // starts the shard's first generation
	p.put(x, c, waiting, at.Add(900*time.Millisecond))            // x, young
	p.put(y, c, waiting, at.Add(1000*time.Millisecond))           // rotates: x is in prev now
	p.put(y, c, waiting, at.Add(999*time.Millisecond))            // a straggler
	if _, ok := p.get(x, c, at.Add(1100*time.Millisecond)); !ok { // x is 0.2 s old
		t.Fatal("an answer 0.2 s old was dropped by a straggler's rotation")
	}
	// A clock that went back further than the age starts over.
	p.put(y, c, waiting, at.Add(-time.Minute))
	if _, ok := p.get(x, c, at.Add(1100*time.Millisecond)); ok {
		t.Fatal("an answer survived a clock jump back of a minute and a jump forward again")
	}
}

// Many goroutines polling overlapping tokens on a clock that moves under them, as
// requests of one instance do: every answer from memory must be one that was put
// for that token less than maxAge before, never a newer one than the clock
// allows. Each answer's rank carries the time it was put, so a hit can be checked.
func TestPollCacheConcurrentAnswersAreYoung(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	c := Concert{ID: 1, SaleOpensAt: at.Add(-time.Hour), Queue: QueueSettings{AdmitPerSecond: 1, MaxActive: 1}}
	const maxAge = 50 * time.Millisecond
	p := newPollCache(nil, maxAge, time.Minute)
	var clock atomic.Int64 // ns since at; each poll moves it 0 to 2 µs on
	var hits, misses atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				tok := Token{ConcertID: 1, UserID: int64((g*7919+i*31)%500) + 1, Gen: 1}
				n := clock.Add(int64(i % 3 * 1000))
				now := at.Add(time.Duration(n))
				if s, ok := p.get(tok, c, now); ok {
					hits.Add(1)
					put := s.Rank - 1_000_000 // ns since at when it was put
					if put > n || n-put >= int64(maxAge) {
						t.Errorf("an answer put at %d ns served at %d ns (max age %v)", put, n, maxAge)
						return
					}
					continue
				}
				misses.Add(1)
				p.put(tok, c, TokenStatus{State: TokenWaiting, Rank: 1_000_000 + n}, now)
			}
		}()
	}
	wg.Wait()
	if hits.Load() == 0 || misses.Load() == 0 {
		t.Fatalf("%d hits, %d misses: the test must see both", hits.Load(), misses.Load())
	}
	t.Logf("%d hits, %d misses", hits.Load(), misses.Load())
}

// countingPolls is a shared queue that counts the polls that reach it.
type countingPolls struct {
	asked  atomic.Int64
	answer TokenStatus
	err    error
}

func (q *countingPolls) Poll(context.Context, Concert, Token, time.Time) (TokenStatus, error) {
	q.asked.Add(1)
	return q.answer, q.err
}

// As a decorator, the cache passes a miss through to the queue, answers a repeat
// from memory, and keeps nothing from a failed poll.
func TestPollCacheDecoratesPolls(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	c := Concert{ID: 1, SaleOpensAt: at.Add(-time.Hour), Queue: QueueSettings{AdmitPerSecond: 10, MaxActive: 100}}
	tok := Token{ConcertID: 1, UserID: 7, Gen: 1}
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		answer    TokenStatus
		err       error
		wantAsked int64
	}{
		{name: "far back: the repeat from memory", answer: TokenStatus{State: TokenWaiting, Rank: 500}, wantAsked: 1},
		{name: "front of the line: both from the queue", answer: TokenStatus{State: TokenWaiting, Rank: 5}, wantAsked: 2},
		{name: "a failed poll is not kept", answer: TokenStatus{State: TokenWaiting, Rank: 500}, err: ErrUnavailable, wantAsked: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &countingPolls{answer: tc.answer, err: tc.err}
			p := newPollCache(q, time.Second, time.Minute)
			for i := range 2 {
				s, err := p.Poll(ctx, c, tok, at.Add(time.Duration(i)*100*time.Millisecond))
				if err != tc.err || (err == nil && s != tc.answer) {
					t.Fatalf("poll %d = %+v, %v; want %+v, %v", i, s, err, tc.answer, tc.err)
				}
			}
			if n := q.asked.Load(); n != tc.wantAsked {
				t.Fatalf("the queue was asked %d times, want %d", n, tc.wantAsked)
			}
		})
	}
}

func (p *pollCache) size() int { return p.answers.size() }

// BenchmarkPollCache is the cost of a poll answered from memory (get) and of
// keeping an answer (put), and the heap each kept answer takes: what a refresh
// storm costs an instance instead of a Redis round trip.
func BenchmarkPollCache(b *testing.B) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	c := Concert{ID: 1, SaleOpensAt: at.Add(-time.Hour), Queue: QueueSettings{AdmitPerSecond: 100, MaxActive: 1000}}
	const tokens = 100_000
	tok := func(i int) Token { return Token{ConcertID: 1, UserID: int64(i%tokens) + 1, Gen: 1} }
	fill := func(p *pollCache) {
		for i := range tokens {
			p.put(tok(i), c, TokenStatus{State: TokenWaiting, Rank: 1000 + int64(i)}, at)
		}
	}
	b.Run("get", func(b *testing.B) {
		p := newPollCache(nil, time.Second, time.Minute)
		fill(p)
		i := 0
		for b.Loop() {
			if _, ok := p.get(tok(i), c, at.Add(time.Millisecond)); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("put", func(b *testing.B) {
		p := newPollCache(nil, time.Second, time.Minute)
		i := 0
		for b.Loop() {
			p.put(tok(i), c, TokenStatus{State: TokenWaiting, Rank: 1000}, at)
			i++
		}
	})
	b.Run("memory", func(b *testing.B) { // ns/op: keeping 100,000 answers
		for b.Loop() {
			fill(newPollCache(nil, time.Second, time.Minute))
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		p := newPollCache(nil, time.Second, time.Minute)
		fill(p)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/tokens, "B/answer")
		runtime.KeepAlive(p)
	})
}
