package redisstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// TestBatcherAnswersEveryCall: many callers on a few keys each get the answer to
// their own request; no batch is larger than max, and no key has more than
// flushers runs at once.
func TestBatcherAnswersEveryCall(t *testing.T) {
	var inFlight [3]atomic.Int32
	var mostInFlight, biggest atomic.Int32
	b := &batcher[int, int]{name: "test", max: 8, flushers: 2}
	b.run = func(key int64, batch []*batchCall[int, int]) {
		n := inFlight[key].Add(1)
		defer inFlight[key].Add(-1)
		for m := mostInFlight.Load(); n > m && !mostInFlight.CompareAndSwap(m, n); m = mostInFlight.Load() {
		}
		for m := biggest.Load(); int32(len(batch)) > m && !biggest.CompareAndSwap(m, int32(len(batch))); m = biggest.Load() {
		}
		time.Sleep(100 * time.Microsecond) // let callers queue up behind the run
		for _, c := range batch {
			c.res = c.req*10 + int(key)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 600)
	for i := range 600 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := int64(i % 3)
			got, err := b.do(context.Background(), key, i)
			if err != nil || got != i*10+int(key) {
				errs <- errors.Join(err, errors.New("wrong answer"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m := mostInFlight.Load(); m > 2 {
		t.Errorf("%d runs of one key at once, want at most 2", m)
	}
	if m := biggest.Load(); m > 8 || m < 2 {
		t.Errorf("largest batch %d, want 2..8 (calls must batch, within max)", m)
	}
}

// TestBatcherSkipsAbandonedCalls: a call whose caller gave up before its batch
// went out is not run at all (a timed-out hold must not hold a seat).
func TestBatcherSkipsAbandonedCalls(t *testing.T) {
	var ran atomic.Int32
	b := &batcher[int, int]{name: "test", max: 8, flushers: 1}
	b.run = func(_ int64, batch []*batchCall[int, int]) {
		ran.Add(int32(len(batch)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.do(ctx, 1, 7)
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("abandoned call: %v, want UNAVAILABLE", err)
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d abandoned calls were run", n)
	}
	if _, err := b.do(context.Background(), 1, 8); err != nil || ran.Load() != 1 {
		t.Fatalf("next call: err %v, %d run", err, ran.Load())
	}
}
