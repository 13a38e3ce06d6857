package engine

import "context"

// A user key names a generation of the user's key (see userkey.go). The ledger
// holds each user's current generation as the truth; the shared state mirrors it,
// so checking a key asks Redis, never the database, on the hot path.

// UserKeyLedger is the ledger's part: the truth about key generations.
type UserKeyLedger interface {
	// UserKeyGens lists every user whose key generation is above 1 (1 is what a
	// new user has) with that generation, among ids congruent to bucket modulo
	// buckets, so the shared state can be rebuilt one bucket at a time.
	UserKeyGens(ctx context.Context, bucket, buckets int) (map[int64]int64, error)
	// RotateUserKey moves the user's key generation from gen to gen+1 and returns
	// gen+1; ErrTokenInvalid when it is no longer gen (rotated meanwhile),
	// ErrUserNotFound for an unknown user.
	RotateUserKey(ctx context.Context, userID, gen int64) (int64, error)
}

// UserKeyMirror is the shared state's part: a copy of every generation above 1,
// kept in buckets (user id modulo UserKeyBuckets). A bucket that was never loaded
// since the shared state was last empty says so, and the engine loads it from the
// ledger.
type UserKeyMirror interface {
	// KeyBucket reads one bucket: its version, whether it is loaded, and, when
	// the version is not since, every generation in it (Changed set). A bucket
	// the shared state lost reads version 0, not loaded.
	KeyBucket(ctx context.Context, bucket int, since int64) (KeyBucket, error)
	// RaiseKeyGens sets each user's generation unless the mirror already holds a
	// higher one (never backwards, whatever order writers arrive in), and moves
	// the bucket's version on when anything changed. With load set, the bucket is
	// then marked loaded: gens must then be every generation above 1 of the
	// bucket, as the ledger had them before the call.
	RaiseKeyGens(ctx context.Context, bucket int, gens map[int64]int64, load bool) error
}

// KeyBucket is what the mirror holds of one bucket.
type KeyBucket struct {
	// Version moves on whenever the bucket changes; a bucket the shared state
	// lost and loaded again never comes back to a version it had before.
	Version int64
	Loaded  bool
	// Changed tells that Version is not the one the reader gave, and Gens is
	// then the bucket's every generation above 1 (user id -> generation).
	Changed bool
	Gens    map[int64]int64
}

// UserKeyBuckets is how many buckets the mirror spreads users over, so that on
// Redis Cluster key checks do not all land on one server, and a bucket's rebuild
// after a wipe reads 1/64 of the rotated users.
const UserKeyBuckets = 64

// UserKeyBucket is the mirror bucket of a user.
func UserKeyBucket(userID int64) int { return int(uint64(userID) % UserKeyBuckets) }
