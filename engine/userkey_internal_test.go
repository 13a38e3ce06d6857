package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// fixedKeyGens is a mirror and ledger whose generations never change: user 7
// rotated twice, everyone else never.
type fixedKeyGens struct{}

func (fixedKeyGens) KeyBucket(_ context.Context, bucket int, since int64) (KeyBucket, error) {
	b := KeyBucket{Version: 1, Loaded: true, Changed: since != 1}
	if b.Changed && bucket == UserKeyBucket(7) {
		b.Gens = map[int64]int64{7: 3}
	}
	return b, nil
}

func (fixedKeyGens) RaiseKeyGens(context.Context, int, map[int64]int64, bool) error { return nil }

func (fixedKeyGens) UserKeyGens(context.Context, int, int) (map[int64]int64, error) {
	return map[int64]int64{7: 3}, nil
}

func (fixedKeyGens) RotateUserKey(context.Context, int64, int64) (int64, error) {
	return 0, ErrTokenInvalid
}

func keyEngine(secret string) *Engine {
	return &Engine{clock: clock.Real{}, keys: newUserKeysFrom([]byte(secret), fixedKeyGens{}, fixedKeyGens{})}
}

// newUserKeysFrom is newUserKeys with the stores given directly.
func newUserKeysFrom(secret []byte, l UserKeyLedger, m UserKeyMirror) *userKeys {
	k := newUserKeys(secret, nil, nil)
	k.ledger, k.mirror = l, m
	return k
}

// FuzzCheckUserKey: whatever the input, the check does not panic, and it accepts
// only the exact key the server signs for a user's current generation.
func FuzzCheckUserKey(f *testing.F) {
	e := keyEngine("fuzz-secret")
	f.Add(e.keys.sign(1, 1))
	f.Add(e.keys.sign(7, 3))
	f.Add(e.keys.sign(7, 2))
	f.Add("uk1.1.1.")
	f.Add("uk1.-1.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("uk1.01.1." + strings.Repeat("A", 32))
	f.Add("v1.1.2.3.4.AAAAAAAAAAAAAAAAAAAAAAAA")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := e.CheckUserKey(ctx, raw)
		if err != nil {
			if !isCode(err, CodeTokenInvalid) && !isCode(err, CodeTokenMissing) {
				t.Fatalf("%q: %v, want TOKEN_INVALID or TOKEN_MISSING", raw, err)
			}
			return
		}
		gen := int64(1)
		if id == 7 {
			gen = 3
		}
		if want := e.keys.sign(id, gen); raw != want {
			t.Fatalf("accepted %q for user %d, which is not its key %q", raw, id, want)
		}
	})
}

// BenchmarkCheckUserKey is the hot path of a key check: the HMAC, and the
// generation from this instance's copy of the user's mirror bucket.
func BenchmarkCheckUserKey(b *testing.B) {
	e := keyEngine("bench-secret-0123456789abcdefghij")
	raw := e.keys.sign(123456, 1)
	ctx := context.Background()
	if _, err := e.CheckUserKey(ctx, raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.CheckUserKey(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKeyCacheAge: an instance stops trusting what it remembered of a user's
// generation after keyCacheAge, inside the contract's 1 s.
func TestKeyCacheAge(t *testing.T) {
	if keyCacheAge <= 0 || keyCacheAge+100*time.Millisecond > time.Second {
		t.Fatalf("keyCacheAge %v leaves no room inside the contract's 1 s", keyCacheAge)
	}
}

// countingMirror is a mirror in memory that counts its reads; it implements the
// ledger too, answering what it holds.
type countingMirror struct {
	mu    sync.Mutex
	reads int
	whole int           // reads that returned the bucket whole
	bumps map[int]int64 // bucket -> changes: its version is 1 + that
	gens  map[int64]int64
}

func (m *countingMirror) KeyBucket(_ context.Context, bucket int, since int64) (KeyBucket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	v := 1 + m.bumps[bucket]
	b := KeyBucket{Version: v, Loaded: true, Changed: since != v}
	if b.Changed {
		m.whole++
		b.Gens = map[int64]int64{}
		for id, g := range m.gens {
			if UserKeyBucket(id) == bucket {
				b.Gens[id] = g
			}
		}
	}
	return b, nil
}

func (m *countingMirror) rotate(userID, gen int64) {
	m.mu.Lock()
	m.gens[userID] = gen
	m.bumps[UserKeyBucket(userID)]++
	m.mu.Unlock()
}

func (m *countingMirror) RaiseKeyGens(context.Context, int, map[int64]int64, bool) error { return nil }
func (m *countingMirror) UserKeyGens(context.Context, int, int) (map[int64]int64, error) {
	return nil, nil
}
func (m *countingMirror) RotateUserKey(context.Context, int64, int64) (int64, error) {
	return 0, ErrTokenInvalid
}

// TestUserKeyBucketCopy: checking keys of users who never rotated reads each
// mirror bucket once per keyCacheAge however many users arrive; a copy is read
// whole only when its version moved; and a rotation made elsewhere is refused
// here once keyCacheAge has passed.
func TestUserKeyBucketCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &countingMirror{bumps: map[int]int64{}, gens: map[int64]int64{}}
	clk := clock.NewSimulated(time.Unix(1_800_000_000, 0))
	e := &Engine{clock: clk, keys: newUserKeysFrom([]byte("copy-secret"), m, m)}
	check := func(userID, gen int64) error {
		_, err := e.CheckUserKey(ctx, e.keys.sign(userID, gen))
		return err
	}
	const users = 5000
	for id := int64(1); id <= users; id++ {
		if err := check(id, 1); err != nil {
			t.Fatalf("user %d: %v", id, err)
		}
	}
	if m.reads != UserKeyBuckets || m.whole != UserKeyBuckets {
		t.Fatalf("%d users checked with %d mirror reads (%d whole); want one per bucket, %d", users, m.reads, m.whole, UserKeyBuckets)
	}
	m.rotate(42, 2)
	if err := check(42, 1); err != nil {
		t.Fatalf("within keyCacheAge the old key still passes on this instance, got %v", err)
	}
	clk.Advance(keyCacheAge)
	if err := check(42, 1); !isCode(err, CodeTokenInvalid) {
		t.Fatalf("rotated key after keyCacheAge: %v, want TOKEN_INVALID", err)
	}
	if err := check(42, 2); err != nil {
		t.Fatalf("new key: %v", err)
	}
	reads, whole := m.reads, m.whole
	if err := check(43, 1); err != nil { // another bucket: read, but unchanged
		t.Fatal(err)
	}
	if m.reads != reads+1 || m.whole != whole {
		t.Fatalf("an unchanged bucket: %d reads, %d whole; want %d, %d", m.reads, m.whole, reads+1, whole)
	}
}
