package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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
// above 1 (UserKeyMirror), and each instance remembers what the mirror said for
// at most keyCacheAge. So a check costs an HMAC and, at most once per user per
// keyCacheAge per instance, one Redis read; never a database round trip, except
// once per mirror bucket after the shared state lost its data.
const userKeyVersion = "uk1"

// keyCacheAge bounds how long an instance trusts what the mirror said about a
// user's generation: a rotation on any instance is seen on every other within it
// (plus one Redis round trip), inside the contract's 1 s.
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
	gens   recentMap[int64] // userID (in tokenKey.userID) -> current generation
	loads  [UserKeyBuckets]sync.Mutex
}

func newUserKeys(secret []byte, ledger UserKeyLedger, mirror UserKeyMirror) *userKeys {
	// A key of its own: a user token's mac can never pass as a user key's.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("concertd user key"))
	k := &userKeys{signer: newSigner(m.Sum(nil))}
	k.gens.maxAge = keyCacheAge
	k.ledger, k.mirror = ledger, mirror
	return k
}

// sign returns the key of a user's generation.
func (k *userKeys) sign(userID, gen int64) string {
	buf := make([]byte, 0, maxUserKeyLen)
	buf = append(buf, userKeyVersion...)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, userID, 10)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, gen, 10)
	var sum [sha256.Size]byte
	k.signer.sum(string(buf), &sum)
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, sum[:userKeyMacLen])
	return string(buf)
}

// parse checks a key's form and mac, and returns what it names.
func (k *userKeys) parse(raw string) (userID, gen int64, err error) {
	if raw == "" {
		return 0, 0, ErrTokenMissing
	}
	if len(raw) > maxUserKeyLen || !IsUserKey(raw) {
		return 0, 0, errKeyInvalid
	}
	i := strings.LastIndexByte(raw, '.')
	payload, encoded := raw[:i], raw[i+1:]
	var mac [userKeyMacLen]byte
	if len(encoded) != base64.RawURLEncoding.EncodedLen(userKeyMacLen) {
		return 0, 0, errKeyInvalid
	}
	if n, err := base64.RawURLEncoding.Decode(mac[:], []byte(encoded)); err != nil || n != userKeyMacLen {
		return 0, 0, errKeyInvalid
	}
	var sum [sha256.Size]byte
	k.signer.sum(payload, &sum)
	if !hmac.Equal(mac[:], sum[:userKeyMacLen]) {
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
	k.gens.put(tokenKey{userID: userID}, e.clock.Now().UnixNano(), next)
	return userID, k.sign(userID, next), nil
}

// currentKeyGen is the user's key generation: from this instance's memory when the
// mirror said it within keyCacheAge, else from the mirror, which loads the user's
// bucket from the ledger first if it lost it.
func (e *Engine) currentKeyGen(ctx context.Context, userID int64) (int64, error) {
	k := e.keys
	tk := tokenKey{userID: userID}
	now := e.clock.Now().UnixNano()
	if g, ok := k.gens.get(tk, now); ok {
		return g, nil
	}
	if k.ledger == nil || k.mirror == nil {
		return 0, errNoKeyStores
	}
	gen, loaded, err := k.mirror.KeyGen(ctx, userID)
	if err == nil && !loaded {
		gen, err = e.loadKeyBucket(ctx, userID)
	}
	if err != nil {
		return 0, err
	}
	gen = max(gen, 1)
	k.gens.put(tk, now, gen)
	return gen, nil
}

// loadKeyBucket copies a bucket's generations from the ledger into the mirror
// after the shared state lost them, once per instance at a time: a rush of checks
// on a wiped Redis waits for one read, not one read each.
func (e *Engine) loadKeyBucket(ctx context.Context, userID int64) (int64, error) {
	k := e.keys
	b := UserKeyBucket(userID)
	k.loads[b].Lock()
	defer k.loads[b].Unlock()
	if gen, loaded, err := k.mirror.KeyGen(ctx, userID); err != nil || loaded {
		return gen, err
	}
	gens, err := k.ledger.UserKeyGens(ctx, b, UserKeyBuckets)
	if err != nil {
		return 0, err
	}
	if err := k.mirror.RaiseKeyGens(ctx, b, gens, true); err != nil {
		return 0, err
	}
	gen, loaded, err := k.mirror.KeyGen(ctx, userID)
	if err == nil && !loaded {
		err = Unavailable("user keys", errors.New("the shared state lost a key bucket again while loading it"))
	}
	return gen, err
}
