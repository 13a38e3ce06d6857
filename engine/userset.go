package engine

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// knownUsers answers "does this user exist?" for every token request without asking
// the ledger per user: users are never deleted, so ids once seen are kept, and ids
// not yet seen are learnt in bulk (every id above the highest one read so far, in
// pages), which turns a rush of first-time token requests into a few range reads.
type knownUsers struct {
	set      userSet
	mu       sync.Mutex   // one bulk read at a time; the others wait for it
	loadedTo atomic.Int64 // highest id a bulk read returned
	lastRead atomic.Int64 // wall time (ns) the last bulk read ended
}

const (
	userReadPage = 100_000
	// userReadEvery throttles bulk reads: ids that do not exist must not turn every
	// request into one. Within it a miss asks the ledger about its one id.
	userReadEvery = 100 * time.Millisecond
)

// knownUser returns nil if the user exists, ErrUserNotFound if not.
func (e *Engine) knownUser(ctx context.Context, userID int64) error {
	u := &e.users
	if u.set.has(userID) {
		return nil
	}
	if userID > u.loadedTo.Load() {
		if err := e.readUsersAbove(ctx, userID); err != nil {
			return err
		}
		if u.set.has(userID) {
			return nil
		}
	}
	// Still unknown: the id does not exist, or its row committed after a bulk read
	// had passed it (ids are drawn before commit, so they commit out of order).
	ok, err := e.ledger.UserExists(ctx, userID)
	if err != nil {
		return err
	}
	if !ok {
		return ErrUserNotFound
	}
	u.set.add(userID)
	return nil
}

// readUsersAbove learns every user id above the highest one read so far, or at
// least up to userID. The lock is taken per page, so a request whose id an
// earlier page covered goes on while later pages are still being read.
func (e *Engine) readUsersAbove(ctx context.Context, userID int64) error {
	for {
		done, err := e.readUserPage(ctx, userID)
		if done || err != nil {
			return err
		}
	}
}

// readUserPage reads the next page of user ids unless userID is covered already
// or the ledger was read to its end too recently; done is false when more pages
// may follow.
func (e *Engine) readUserPage(ctx context.Context, userID int64) (done bool, err error) {
	u := &e.users
	u.mu.Lock()
	defer u.mu.Unlock()
	if userID <= u.loadedTo.Load() || time.Since(time.Unix(0, u.lastRead.Load())) < userReadEvery {
		return true, nil // read while this one waited, or read to the end too recently
	}
	ids, err := e.ledger.UserIDsAbove(ctx, u.loadedTo.Load(), userReadPage)
	if err != nil {
		return true, err
	}
	for _, id := range ids {
		u.set.add(id)
	}
	if len(ids) > 0 {
		u.loadedTo.Store(ids[len(ids)-1])
	}
	if len(ids) < userReadPage {
		u.lastRead.Store(time.Now().UnixNano())
		return true, nil
	}
	return false, nil
}

// WarmUsers learns every user id the ledger holds, so the first token requests
// after a start do not wait for bulk reads. Run calls it once, in the background.
func (e *Engine) WarmUsers(ctx context.Context) error {
	return e.readUsersAbove(ctx, math.MaxInt64)
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
