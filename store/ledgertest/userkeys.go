package ledgertest

import (
	"errors"
	"testing"

	"github.com/concertd/concertd/engine"
)

// testUserKeyGens: a rotation moves a user's key generation on by one, only from
// the current one, exactly once under a race; and a bucket lists every rotated
// user of it, and no other.
func testUserKeyGens(t *testing.T, l Ledger) {
	kl, ok := l.(engine.UserKeyLedger)
	if !ok {
		t.Fatalf("%T does not keep user key generations (engine.UserKeyLedger)", l)
	}
	f := newFixture(t, l)
	a, b, c := f.user(0), f.user(0), f.user(0)

	if _, err := kl.RotateUserKey(f.ctx, a, 2); !errors.Is(err, engine.ErrTokenInvalid) {
		t.Fatalf("rotate from a generation the user never had = %v, want TOKEN_INVALID", err)
	}
	if _, err := kl.RotateUserKey(f.ctx, 1<<40, 1); !errors.Is(err, engine.ErrUserNotFound) {
		t.Fatalf("rotate an unknown user = %v, want USER_NOT_FOUND", err)
	}
	for want := int64(2); want <= 3; want++ {
		got, err := kl.RotateUserKey(f.ctx, a, want-1)
		if err != nil || got != want {
			t.Fatalf("rotate from %d = %d, %v; want %d", want-1, got, err, want)
		}
	}
	if _, err := kl.RotateUserKey(f.ctx, a, 2); !errors.Is(err, engine.ErrTokenInvalid) {
		t.Fatalf("rotate from an old generation = %v, want TOKEN_INVALID", err)
	}

	// Eight rotations with one key at once: one wins, the rest find it moved.
	errs := parallel(8, func(int) error { _, err := kl.RotateUserKey(f.ctx, b, 1); return err })
	if n := count(t, errs, engine.ErrTokenInvalid); n[nil] != 1 || n[engine.ErrTokenInvalid] != 7 {
		t.Fatalf("8 racing rotations: %v, want one success", n)
	}

	for _, u := range []struct {
		id, gen int64
	}{{a, 3}, {b, 2}, {c, 0}} {
		bucket := engine.UserKeyBucket(u.id)
		gens, err := kl.UserKeyGens(f.ctx, bucket, engine.UserKeyBuckets)
		if err != nil {
			t.Fatal(err)
		}
		if gens[u.id] != u.gen {
			t.Errorf("bucket %d lists user %d at %d, want %d (0: not listed)", bucket, u.id, gens[u.id], u.gen)
		}
		for id := range gens {
			if engine.UserKeyBucket(id) != bucket {
				t.Errorf("bucket %d lists user %d of bucket %d", bucket, id, engine.UserKeyBucket(id))
			}
		}
	}
}
