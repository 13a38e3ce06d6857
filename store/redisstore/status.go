package redisstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/concertd/concertd/engine"
)

// Polling is the hottest path of a sale, and its cost is round trips and script
// runs, not Redis's work per token. Concurrent Status calls of one concert are
// therefore combined: the first caller runs status.lua for everyone waiting behind
// it, up to statusBatch tokens a call and statusFlushers calls in flight per
// concert. Nothing waits on a timer, so a lone poll goes out at once; batches form
// only when polls already queue up behind a call in flight.
const (
	statusBatch    = 128
	statusFlushers = 4
	statusTimeout  = 3 * time.Second
)

type statusCall struct {
	t    engine.Token
	now  time.Time
	st   engine.TokenStatus
	err  error
	done chan struct{}
}

type statusBatcher struct {
	mu       sync.Mutex
	pending  map[int64][]*statusCall // by concert
	flushing map[int64]int           // flushers at work, by concert
}

// Status reads a token's state; a waiting token's poll refreshes its heartbeat.
func (s *Store) Status(ctx context.Context, t engine.Token, now time.Time, idle time.Duration) (engine.TokenStatus, error) {
	call := &statusCall{t: t, now: now, done: make(chan struct{})}
	b := &s.status
	c := t.ConcertID
	b.mu.Lock()
	if b.pending == nil {
		b.pending, b.flushing = map[int64][]*statusCall{}, map[int64]int{}
	}
	b.pending[c] = append(b.pending[c], call)
	lead := b.flushing[c] < statusFlushers
	if lead {
		b.flushing[c]++
	}
	b.mu.Unlock()
	if lead {
		s.flushStatus(c, idle, call)
	}
	select {
	case <-call.done:
		return call.st, call.err
	case <-ctx.Done():
		return engine.TokenStatus{}, engine.Unavailable("redis status", ctx.Err())
	}
}

// flushStatus runs batches of a concert's pending calls. A request's goroutine
// flushes only until its own call is answered; if it is the last flusher and calls
// are still pending, it hands the work to a goroutine (own == nil), which stops
// when nothing is pending. So no pending call is ever left without a flusher.
func (s *Store) flushStatus(concertID int64, idle time.Duration, own *statusCall) {
	b := &s.status
	for {
		b.mu.Lock()
		batch := b.pending[concertID]
		if len(batch) == 0 {
			b.flushing[concertID]--
			delete(b.pending, concertID)
			b.mu.Unlock()
			return
		}
		if own != nil && isDone(own) {
			if b.flushing[concertID] > 1 {
				b.flushing[concertID]--
				b.mu.Unlock()
				return
			}
			b.mu.Unlock()
			go s.flushStatus(concertID, idle, nil) // keeps this flusher's slot
			return
		}
		if len(batch) > statusBatch {
			batch = batch[:statusBatch]
		}
		b.pending[concertID] = b.pending[concertID][len(batch):]
		b.mu.Unlock()
		s.runStatus(concertID, idle, batch)
	}
}

func isDone(c *statusCall) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// runStatus answers one batch with one status.lua call. The call gets its own
// timeout: the batch outlives any one request's context.
func (s *Store) runStatus(concertID int64, idle time.Duration, batch []*statusCall) {
	k := s.keys
	keys := []string{k.active(concertID), k.wait(concertID), k.tokens(concertID)}
	args := make([]any, 2, 2+2*len(batch))
	now := batch[0].now
	for _, call := range batch {
		args = append(args, call.t.UserID, call.t.Gen)
		if call.now.After(now) {
			now = call.now
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
		} else if call.st, call.err = parseTokenStatus(v[2*i : 2*i+2]); call.err != nil {
			call.err = fmt.Errorf("redis status: %w", call.err)
		}
		close(call.done)
	}
}
