package redisstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

// batchTimeout bounds one batch's script call. The batch outlives any one
// request's context, so it cannot use theirs.
const batchTimeout = 3 * time.Second

// The hot paths of a sale (entries, polls, holds) cost round trips and script
// runs, not Redis's work per request. Concurrent calls that one script can serve
// together (the entries and polls of one concert, the holds on one schedule) are
// combined: the first caller runs the script for everyone waiting behind it, up to
// max calls a run and flushers runs in flight per key. Nothing waits on a timer,
// so a lone call goes out at once; batches form only when calls already queue up
// behind a run in flight.
type batcher[Req, Res any] struct {
	name     string // in errors: "redis <name>"
	max      int
	flushers int
	// run answers every call of one batch (sets res or err), usually with
	// answerBatch.
	run func(key int64, batch []*batchCall[Req, Res])

	mu       sync.Mutex
	pending  map[int64][]*batchCall[Req, Res]
	flushing map[int64]int // flushers at work, by key
}

type batchCall[Req, Res any] struct {
	ctx  context.Context // the caller's: a call whose caller gave up is not run
	req  Req
	res  Res
	err  error
	done chan struct{}
}

// do queues req under key and waits for its answer or for ctx to end, which is
// ErrUnavailable. A call whose context ended before its batch went out is left
// out of it, so a request that timed out waiting in line changes nothing; once
// sent it runs to the end, and its result is simply not read.
func (b *batcher[Req, Res]) do(ctx context.Context, key int64, req Req) (Res, error) {
	call := &batchCall[Req, Res]{ctx: ctx, req: req, done: make(chan struct{})}
	b.mu.Lock()
	if b.pending == nil {
		b.pending, b.flushing = map[int64][]*batchCall[Req, Res]{}, map[int64]int{}
	}
	b.pending[key] = append(b.pending[key], call)
	lead := b.flushing[key] < b.flushers
	if lead {
		b.flushing[key]++
	}
	b.mu.Unlock()
	if lead {
		b.flush(key, call)
	}
	select {
	case <-call.done:
		return call.res, call.err
	case <-ctx.Done():
		var zero Res
		return zero, engine.Unavailable("redis "+b.name, ctx.Err())
	}
}

// flush runs batches of a key's pending calls. A request's goroutine flushes only
// until its own call is answered; if it is the last flusher and calls are still
// pending, it hands the work to a goroutine (own == nil), which stops when nothing
// is pending. So no pending call is ever left without a flusher.
func (b *batcher[Req, Res]) flush(key int64, own *batchCall[Req, Res]) {
	for {
		b.mu.Lock()
		batch := b.pending[key]
		if len(batch) == 0 {
			b.flushing[key]--
			delete(b.pending, key)
			b.mu.Unlock()
			return
		}
		if own != nil && own.answered() {
			if b.flushing[key] > 1 {
				b.flushing[key]--
				b.mu.Unlock()
				return
			}
			b.mu.Unlock()
			go b.flush(key, nil) // keeps this flusher's slot
			return
		}
		if len(batch) > b.max {
			batch = batch[:b.max]
		}
		b.pending[key] = b.pending[key][len(batch):]
		b.mu.Unlock()
		live := batch[:0] // pending no longer refers to batch's part of the array
		for _, call := range batch {
			if err := call.ctx.Err(); err != nil {
				call.err = engine.Unavailable("redis "+b.name, err)
				close(call.done)
				continue
			}
			live = append(live, call)
		}
		if len(live) > 0 {
			b.run(key, live)
		}
		for _, call := range live {
			close(call.done)
		}
	}
}

func (c *batchCall[Req, Res]) answered() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// answerBatch runs sc once for a whole batch and answers each call from its
// width entries of the reply, read by parse with the call's request; an error of
// the call itself answers every call of the batch.
func answerBatch[Req, Res any](s *Store, sc *redis.Script, op string, keys []string, args []any,
	width int, batch []*batchCall[Req, Res], parse func(req Req, entries []any) (Res, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	v, err := sc.Run(ctx, s.rdb, keys, args...).Slice()
	cancel()
	if err != nil {
		err = domainError(op, err)
	} else if len(v) != width*len(batch) {
		err = fmt.Errorf("redis %s: %d replies for %d calls", op, len(v)/width, len(batch))
	}
	for i, call := range batch {
		if err != nil {
			call.err = err
			continue
		}
		call.res, call.err = parse(call.req, v[width*i:width*(i+1)])
	}
}
