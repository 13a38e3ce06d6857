package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A user key is "uk1.<userID>.<gen>.<mac>": the user's secret credential. The mac
// is an HMAC over the rest under a key derived from the token secret, so nothing
// about a key can be worked out from the id without the secret, and a forged or
// altered key is refused without any lookup. gen is the user's key generation:
// a rotation moves it on, and every key of an older generation stops working.
//
// The ledger holds each user's generation; the shared state mirrors every one
// above 1 (UserKeyMirror) in UserKeyBuckets buckets, and each instance keeps a
// copy of every bucket, read again when older than keyCacheAge (whole only when
// its version moved). Rotated users are few, so a check costs an HMAC and a map
// lookup: at most UserKeyBuckets Redis reads per keyCacheAge per instance however
// many users arrive, and never a database round trip, except once per bucket
// after the shared state lost its data.
const userKeyVersion = "uk1"

// keyCacheAge bounds how long an instance trusts its copy of a mirror bucket: a
// rotation on any instance is seen on every other within it (plus one Redis round
// trip), inside the contract's 1 s.
const keyCacheAge = 500 * time.Millisecond

// userKeyMacLen is the bytes of HMAC-SHA256 kept: 192 bits, 32 base64url characters.
const userKeyMacLen = 24

// maxUserKeyLen bounds what is parsed at all: "uk1." + two int64s + dots + mac.
const maxUserKeyLen = len(userKeyVersion) + 1 + 19 + 1 + 19 + 1 + 32

// IsUserKey reports whether raw has a user key's form (not whether it is valid), so
// a caller can tell a key from a user token or an identity token before checking it.
func IsUserKey(raw string) bool { return strings.HasPrefix(raw, userKeyVersion+".") }

type userKeys struct {
	signer signer // keyed with a key derived from the token secret
	ledger UserKeyLedger
	mirror UserKeyMirror
	copies [UserKeyBuckets]bucketCopy
}

// bucketCopy is this instance's copy of one mirror bucket.
type bucketCopy struct {
	// mu is held across a read of the bucket, so a crowd meeting a stale copy
	// waits for one read rather than sending one each.
	mu      sync.Mutex
	readAt  int64 // unix ns when the last read was sent; 0: never read
	version int64
	gens    map[int64]int64 // user id -> generation, rotated users only
}

func newUserKeys(secret []byte, ledger UserKeyLedger, mirror UserKeyMirror) *userKeys {
	// A key of its own: a user token's mac can never pass as a user key's.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("concertd user key"))
	return &userKeys{signer: newSigner(m.Sum(nil)), ledger: ledger, mirror: mirror}
}

// sign returns the key of a user's generation.
func (k *userKeys) sign(userID, gen int64) string {
	buf := make([]byte, 0, maxUserKeyLen)
	buf = append(buf, userKeyVersion...)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, userID, 10)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, gen, 10)
	return string(k.signer.seal(buf, userKeyMacLen))
}

// parse checks a key's form and mac, and returns what it names.
func (k *userKeys) parse(raw string) (userID, gen int64, err error) {
	if raw == "" {
		return 0, 0, ErrTokenMissing
	}
	if len(raw) > maxUserKeyLen || !IsUserKey(raw) {
		return 0, 0, errKeyInvalid
	}
	payload, _, ok := k.signer.open(raw, userKeyMacLen)
	if !ok {
		return 0, 0, errKeyInvalid
	}
	ids, ok := strings.CutPrefix(payload, userKeyVersion+".")
	a, b, ok2 := strings.Cut(ids, ".")
	if !ok || !ok2 {
		return 0, 0, errKeyInvalid
	}
	userID, err1 := strconv.ParseInt(a, 10, 64)
	gen, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || userID < 1 || gen < 1 {
		return 0, 0, errKeyInvalid
	}
	return userID, gen, nil
}

// errKeyInvalid covers forged, altered, truncated and rotated keys alike: telling
// them apart would only help whoever is guessing.
var errKeyInvalid = &Error{CodeTokenInvalid, "user key is not valid (forged, altered or rotated)"}

var errNoKeyStores = errors.New("engine: the ledger or the shared state cannot keep user keys")

// SignUserKey returns the key of a user's generation under secret (the token
// secret), as every instance sharing that secret signs it. For tools that load
// users straight into the database (bench/run.sh) and need keys the server
// accepts; a server hands keys out only through UserKey and RotateUserKey.
func SignUserKey(secret []byte, userID, gen int64) string {
	return newUserKeys(secret, nil, nil).sign(userID, gen)
}

// UserKey returns the key a new user is given: their first generation. It is a
// pure function of the id and the secret, so a creation retried with its
// Idempotency-Key answers the same key.
func (e *Engine) UserKey(userID int64) string { return e.keys.sign(userID, 1) }

// CheckUserKey returns the user a key proves: its mac must be right and its
// generation the user's current one.
func (e *Engine) CheckUserKey(ctx context.Context, raw string) (int64, error) {
	userID, gen, err := e.keys.parse(raw)
	if err != nil {
		return 0, err
	}
	cur, err := e.currentKeyGen(ctx, userID)
	if err != nil {
		return 0, err
	}
	if gen != cur {
		return 0, errKeyInvalid
	}
	return userID, nil
}

// RotateUserKey replaces the user's key with a new one and returns it; the key
// given stops working on this instance at once and on every other within
// keyCacheAge. Only the current key may rotate itself.
func (e *Engine) RotateUserKey(ctx context.Context, raw string) (int64, string, error) {
	userID, err := e.CheckUserKey(ctx, raw)
	if err != nil {
		return 0, "", err
	}
	_, gen, _ := e.keys.parse(raw)
	k := e.keys
	if k.ledger == nil || k.mirror == nil {
		return 0, "", errNoKeyStores
	}
	next, err := k.ledger.RotateUserKey(ctx, userID, gen)
	if err != nil {
		return 0, "", err
	}
	// The ledger has the new generation; the mirror must too, or other instances
	// would go on accepting the old key. A failed write is tried again (a
	// RaiseKeyGens is idempotent); if the shared state stays down, checks fail
	// with it, and a shared state that comes back empty reloads from the ledger.
	for try := 0; ; try++ {
		err = k.mirror.RaiseKeyGens(ctx, UserKeyBucket(userID), map[int64]int64{userID: next}, false)
		if err == nil || try == 2 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return 0, "", err
	}
	c := &k.copies[UserKeyBucket(userID)]
	c.mu.Lock()
	if c.gens == nil {
		c.gens = map[int64]int64{}
	}
	c.gens[userID] = max(c.gens[userID], next)
	c.mu.Unlock()
	return userID, k.sign(userID, next), nil
}

// currentKeyGen is the user's key generation, from this instance's copy of the
// user's mirror bucket, read again first when older than keyCacheAge.
func (e *Engine) currentKeyGen(ctx context.Context, userID int64) (int64, error) {
	k := e.keys
	if k.ledger == nil || k.mirror == nil {
		return 0, errNoKeyStores
	}
	b := UserKeyBucket(userID)
	c := &k.copies[b]
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := e.clock.Now().UnixNano(); c.readAt == 0 || now-c.readAt >= int64(keyCacheAge) {
		if err := e.readKeyBucket(ctx, b, c); err != nil {
			return 0, err
		}
		c.readAt = now
	}
	return max(c.gens[userID], 1), nil
}

// readKeyBucket brings c up to the mirror's bucket b, loading the bucket from the
// ledger first when the shared state lost it. The caller holds c.mu.
func (e *Engine) readKeyBucket(ctx context.Context, b int, c *bucketCopy) error {
	k := e.keys
	kb, err := k.mirror.KeyBucket(ctx, b, c.version)
	if err == nil && !kb.Loaded {
		var gens map[int64]int64
		if gens, err = k.ledger.UserKeyGens(ctx, b, UserKeyBuckets); err == nil {
			err = k.mirror.RaiseKeyGens(ctx, b, gens, true)
		}
		if err == nil {
			kb, err = k.mirror.KeyBucket(ctx, b, c.version)
		}
		if err == nil && !kb.Loaded {
			err = Unavailable("user keys", errors.New("the shared state lost a key bucket again while loading it"))
		}
	}
	if err != nil {
		return err
	}
	if kb.Changed {
		c.version, c.gens = kb.Version, kb.Gens
	}
	return nil
}
