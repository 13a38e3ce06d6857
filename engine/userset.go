package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// knownUsers answers "does this user exist?" for every token request without asking
// the ledger per user: users are never deleted, so ids once seen are kept, and ids
// not yet seen are learnt in blocks of userBlock consecutive ids, which turns a rush
// of first-time token requests into a few range reads.
//
// A miss reads the block its id falls in, not every block below it: a request for
// user 750,001 waits for one block read, not for the 75 below it (an instance
// started mid-rush, or users created after it started, cost a second of waiting at
// the 99th percentile when it read from the lowest unread id up). Each block read
// then reads the next one in the background, so a crowd walking up the ids finds
// its users known before it gets there.
type knownUsers struct {
	set    userSet
	mu     sync.Mutex // guards the fields below
	blocks map[int64]*userBlockRead
	// emptyFrom is a block the ledger had no id in or above at emptyAt: misses
	// there within userReadEvery ask for their one id instead of reading.
	emptyFrom int64
	emptyAt   time.Time
}

// userBlockRead is one read of a block: done is closed when its ids are in the set.
type userBlockRead struct {
	done chan struct{}
	// full: a later id existed when it was read, so every id of the block had been
	// drawn (a row committing after the read is found by its own lookup). A block
	// that was not full (the table's top) is read again on a miss, at most once per
	// userReadEvery.
	full   bool
	readAt time.Time
}

const (
	userBlock = 10_000
	// userReadEvery throttles reads of the top block: ids that do not exist must not
	// turn every request into one. Within it a miss asks the ledger about its one id.
	userReadEvery = 100 * time.Millisecond
)

// knownUser returns nil if the user exists, ErrUserNotFound if not.
func (e *Engine) knownUser(ctx context.Context, userID int64) error {
	u := &e.knownUsers
	if u.set.has(userID) {
		return nil
	}
	if _, err := e.readUserBlock(ctx, userID/userBlock, true); err != nil {
		return err
	}
	if u.set.has(userID) {
		return nil
	}
	// Still unknown: the id does not exist, or its row committed after its block
	// was read (ids are drawn before commit, so they commit out of order).
	ok, err := e.users.UserExists(ctx, userID)
	if err != nil {
		return err
	}
	if !ok {
		return ErrUserNotFound
	}
	u.set.add(userID)
	return nil
}

// readUserBlock makes sure block b has been read: it reads it, waits for the read
// already under way, or returns at once when the block was read before (and, for
// the top block, recently). It reports whether the block is full. With ahead, a
// full block's read goes on to the next block in the background.
func (e *Engine) readUserBlock(ctx context.Context, b int64, ahead bool) (full bool, err error) {
	u := &e.knownUsers
	u.mu.Lock()
	if b < 0 || (b >= u.emptyFrom && time.Since(u.emptyAt) < userReadEvery) {
		u.mu.Unlock()
		return false, nil // no such block, or none of its ids existed a moment ago
	}
	r := u.blocks[b]
	if r != nil {
		select {
		case <-r.done:
			if r.full || time.Since(r.readAt) < userReadEvery {
				u.mu.Unlock()
				return r.full, nil
			}
			r = nil // the top block, read a while ago: read it again
		default:
		}
	}
	if r != nil { // a read under way
		u.mu.Unlock()
		select {
		case <-r.done:
			return r.full, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	r = &userBlockRead{done: make(chan struct{})}
	if u.blocks == nil {
		u.blocks = make(map[int64]*userBlockRead)
	}
	u.blocks[b] = r
	u.mu.Unlock()

	// One row past the block tells whether the block is full.
	ids, err := e.users.UserIDsAbove(ctx, b*userBlock-1, userBlock+1)
	for _, id := range ids {
		u.set.add(id)
	}
	r.full = len(ids) > 0 && ids[len(ids)-1] >= (b+1)*userBlock
	r.readAt = time.Now()
	if err != nil || len(ids) == 0 {
		// Only blocks holding users are kept, so ids no one has cannot grow the
		// map; an empty read is remembered as the table's top instead.
		u.mu.Lock()
		if u.blocks[b] == r {
			delete(u.blocks, b)
		}
		if err == nil && (b < u.emptyFrom || r.readAt.Sub(u.emptyAt) >= userReadEvery) {
			u.emptyFrom, u.emptyAt = b, r.readAt
		}
		u.mu.Unlock()
	}
	close(r.done) // after a failed read the waiters ask for their ids alone
	if err != nil {
		return false, err
	}
	if ahead && r.full {
		go e.readUsersAhead(b + 1)
	}
	return r.full, nil
}

// readUsersAhead reads block b and the blocks after it, in the background, until
// it reaches the table's top or a block read (or being read) already.
func (e *Engine) readUsersAhead(b int64) {
	u := &e.knownUsers
	for ; ; b++ {
		u.mu.Lock()
		_, seen := u.blocks[b]
		u.mu.Unlock()
		if seen {
			return
		}
		ctx, cancel := background()
		full, err := e.readUserBlock(ctx, b, false)
		cancel()
		if err != nil || !full {
			return
		}
	}
}

// WarmUsers learns every user id the ledger holds, so the first token requests
// after a start do not wait for block reads. Run calls it once, in the background.
func (e *Engine) WarmUsers(ctx context.Context) error {
	for b := int64(0); ; b++ {
		full, err := e.readUserBlock(ctx, b, false)
		if err != nil || !full {
			return err
		}
	}
}

// userSet remembers which user ids are known to exist. Ids come from a database
// sequence, so they are dense: a bitmap costs a bit per id (125 KB per million
// users) where a map cost ~100 bytes per entry, which kept growing the server with
// every user of a rush. It is read on every token request, so reads take no lock:
// the bitmap is split into chunks published once with atomic pointers.
type userSet struct {
	chunks [userChunks]atomic.Pointer[userChunk]
	mu     sync.Mutex // serialises publishing a new chunk
	far    sync.Map   // ids beyond the bitmap's range (not expected from a sequence)
}

const (
	userChunkBits = 1 << 16 // ids per chunk: 8 KB of bits
	userChunks    = 1 << 12 // chunks: the bitmap covers ids below 2^28
)

type userChunk [userChunkBits / 64]atomic.Uint64

func (s *userSet) has(id int64) bool {
	if id < 0 || id >= userChunkBits*userChunks {
		_, ok := s.far.Load(id)
		return ok
	}
	c := s.chunks[id/userChunkBits].Load()
	if c == nil {
		return false
	}
	bit := id % userChunkBits
	return c[bit/64].Load()&(1<<(bit%64)) != 0
}

func (s *userSet) add(id int64) {
	if id < 0 || id >= userChunkBits*userChunks {
		s.far.Store(id, struct{}{})
		return
	}
	slot := &s.chunks[id/userChunkBits]
	c := slot.Load()
	if c == nil {
		s.mu.Lock()
		if c = slot.Load(); c == nil {
			c = new(userChunk)
			slot.Store(c)
		}
		s.mu.Unlock()
	}
	bit := id % userChunkBits
	c[bit/64].Or(1 << (bit % 64))
}
