package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestUserSet(t *testing.T) {
	var s userSet
	added := []int64{0, 1, 63, 64, 65535, 65536, 1<<28 - 1, 1 << 28, 1 << 40, -1}
	absent := []int64{2, 62, 65, 65534, 65537, 1<<28 - 2, 1<<28 + 1, -2}
	for _, id := range added {
		s.add(id)
	}
	for _, id := range added {
		if !s.has(id) {
			t.Errorf("%d added but not found", id)
		}
	}
	for _, id := range absent {
		if s.has(id) {
			t.Errorf("%d found but never added", id)
		}
	}
}

// TestUserSetConcurrent: writers racing on the same chunks and words lose no bit.
func TestUserSetConcurrent(t *testing.T) {
	var s userSet
	const writers, per = 16, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				id := int64(i*writers + w) // interleaved: neighbours share words
				s.add(id)
				if !s.has(id) {
					t.Errorf("%d missing right after add", id)
					return
				}
			}
		})
	}
	wg.Wait()
	for id := int64(0); id < writers*per; id++ {
		if !s.has(id) {
			t.Fatalf("%d lost", id)
		}
	}
	if s.has(writers * per) {
		t.Fatal("an id nobody added is present")
	}
}

// numberedLedger holds users 1..top and records the block reads asked of it.
type numberedLedger struct {
	Users  // only the user lookups below are called
	mu     sync.Mutex
	top    int64
	reads  []int64 // the after argument of each UserIDsAbove
	exists int
	fail   error
	gate   chan struct{} // when set, reads wait for it
}

func (l *numberedLedger) UserIDsAbove(ctx context.Context, after int64, limit int) ([]int64, error) {
	l.mu.Lock()
	l.reads = append(l.reads, after)
	top, fail, gate := l.top, l.fail, l.gate
	l.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return nil, fail
	}
	var ids []int64
	for id := max(after+1, 1); id <= top && len(ids) < limit; id++ {
		ids = append(ids, id)
	}
	return ids, nil
}

func (l *numberedLedger) UserExists(ctx context.Context, id int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.exists++
	return id >= 1 && id <= l.top, nil
}

func (l *numberedLedger) snapshot() (reads []int64, exists int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.reads...), l.exists
}

// A first request high in the id range waits for its own block only, and the
// blocks above it are then read in the background up to the table's top; nothing
// below it is read.
func TestKnownUserReadsItsOwnBlock(t *testing.T) {
	l := &numberedLedger{top: 1_000_000}
	e := &Engine{users: l}
	if err := e.knownUser(t.Context(), 750_001); err != nil {
		t.Fatal(err)
	}
	reads, _ := l.snapshot()
	if reads[0] != 750_000-1 {
		t.Fatalf("first read after id %d, want 749999 (the block of 750001)", reads[0])
	}
	deadline := time.Now().Add(5 * time.Second)
	for !e.knownUsers.set.has(1_000_000) {
		if time.Now().After(deadline) {
			t.Fatal("the blocks above were not read ahead")
		}
		time.Sleep(time.Millisecond)
	}
	for _, id := range []int64{750_000, 750_001, 759_999, 760_000, 999_999} {
		if err := e.knownUser(t.Context(), id); err != nil {
			t.Errorf("user %d: %v", id, err)
		}
	}
	time.Sleep(10 * time.Millisecond) // let the read ahead stop at the top
	reads, exists := l.snapshot()
	for _, after := range reads {
		if after < 749_999 {
			t.Errorf("read below the asked block: after %d", after)
		}
	}
	// Blocks 75 (ids 750,000-759,999) to 100 (the top, which holds 1,000,000
	// alone), each read once.
	if len(reads) != 26 || exists != 0 {
		t.Errorf("%d block reads, %d single lookups; want 26 and 0 (reads %v)", len(reads), exists, reads)
	}
}

// Many first requests in one block share one read of it.
func TestKnownUserSharesABlockRead(t *testing.T) {
	l := &numberedLedger{top: 5_000, gate: make(chan struct{})}
	e := &Engine{users: l}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if err := e.knownUser(t.Context(), int64(1+i*70)); err != nil {
				t.Errorf("user %d: %v", 1+i*70, err)
			}
		})
	}
	time.Sleep(20 * time.Millisecond) // let them all find the read under way
	close(l.gate)
	wg.Wait()
	reads, exists := l.snapshot()
	if len(reads) != 1 || exists != 0 {
		t.Errorf("%d block reads, %d single lookups for 64 users of one block; want 1 and 0", len(reads), exists)
	}
}

// Ids no one has are refused, each asked for alone once the table's top is
// known, and they leave nothing behind: a stream of made-up ids cannot grow the
// block map.
func TestKnownUserUnknownIds(t *testing.T) {
	l := &numberedLedger{top: 25_000}
	e := &Engine{users: l}
	if err := e.WarmUsers(t.Context()); err != nil {
		t.Fatal(err)
	}
	warm, _ := l.snapshot()
	if len(warm) != 3 {
		t.Fatalf("WarmUsers made %d reads for 25,000 users, want 3", len(warm))
	}
	for range 1000 {
		id := 25_001 + rand.Int64N(1<<40)
		if err := e.knownUser(t.Context(), id); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("made-up user %d: %v, want USER_NOT_FOUND", id, err)
		}
	}
	if err := e.knownUser(t.Context(), 0); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("user 0: %v, want USER_NOT_FOUND", err)
	}
	e.knownUsers.mu.Lock()
	n := len(e.knownUsers.blocks)
	e.knownUsers.mu.Unlock()
	if n != 3 {
		t.Errorf("%d blocks remembered after 1,000 made-up ids, want the 3 that hold users", n)
	}
	// A user created after the top was read is found, by its own lookup.
	l.mu.Lock()
	l.top++
	l.mu.Unlock()
	if err := e.knownUser(t.Context(), 25_001); err != nil {
		t.Errorf("user created after the read: %v", err)
	}
}

// A failed read is an error for its request and is not remembered: the next
// request reads the block again.
func TestKnownUserFailedRead(t *testing.T) {
	down := errors.New("ledger down")
	l := &numberedLedger{top: 100, fail: down}
	e := &Engine{users: l}
	if err := e.knownUser(t.Context(), 7); !errors.Is(err, down) {
		t.Fatalf("read failed: %v, want the ledger's error", err)
	}
	l.mu.Lock()
	l.fail = nil
	l.mu.Unlock()
	if err := e.knownUser(t.Context(), 7); err != nil {
		t.Fatalf("after the ledger came back: %v", err)
	}
	if reads, _ := l.snapshot(); len(reads) != 2 {
		t.Errorf("%d reads, want 2 (the failed one, then again)", len(reads))
	}
}
