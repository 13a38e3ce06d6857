package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// fixedKeyGens is a mirror and ledger whose generations never change: user 7
// rotated twice, everyone else never.
type fixedKeyGens struct{}

func (fixedKeyGens) KeyGen(_ context.Context, userID int64) (int64, bool, error) {
	if userID == 7 {
		return 3, true, nil
	}
	return 0, true, nil
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
// generation from this instance's memory (the mirror is asked once per user per
// keyCacheAge).
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
