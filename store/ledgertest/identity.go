package ledgertest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/concertd/concertd/engine"
)

// testExternalUsers: a sub's first sight makes a user whom later calls get back; a
// sub is not an email or a name; an email another user has is left off the new
// user (which then cannot take that address), a free one is kept (which then can
// be registered by no one else); and such users are users like any other.
func testExternalUsers(t *testing.T, l Ledger) {
	x := role[engine.ExternalUsers](t, l)
	f := newFixture(t, l)
	kim, err := l.CreateUser(f.ctx, "Kim", "kim@example.com", engine.Idempotency{})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	a, created, err := x.ExternalUser(f.ctx, engine.ExternalIdentity{Subject: "site|1", Name: "Ana", Email: "ana@example.com"})
	if err != nil || !created || a <= 0 || a == kim {
		t.Fatalf("first sight = %d, %v, %v; want a new user", a, created, err)
	}
	again, created, err := x.ExternalUser(f.ctx, engine.ExternalIdentity{Subject: "site|1", Name: "Other", Email: "other@example.com"})
	if err != nil || created || again != a {
		t.Errorf("second sight = %d, %v, %v; want %d, not created", again, created, err, a)
	}
	// The email a new external user came with is theirs now.
	if _, err := l.CreateUser(f.ctx, "Ana", "ana@example.com", engine.Idempotency{}); !errors.Is(err, engine.ErrEmailTaken) {
		t.Errorf("registering an external user's email: %v, want EMAIL_TAKEN", err)
	}
	// The second sight's profile was ignored: other@example.com is still free.
	if _, err := l.CreateUser(f.ctx, "Other", "other@example.com", engine.Idempotency{}); err != nil {
		t.Errorf("an email only a repeat sight carried: %v, want it free", err)
	}

	// Kim's email on another sub: a new user without it, not Kim, not an error.
	b, created, err := x.ExternalUser(f.ctx, engine.ExternalIdentity{Subject: "site|2", Name: "Mallory", Email: "kim@example.com"})
	if err != nil || !created || b == kim || b == a {
		t.Errorf("sub with a taken email = %d, %v, %v; want a new user (kim %d, a %d)", b, created, err, kim, a)
	}

	// Users without an email do not collide with each other, and subs are case-sensitive
	// and never confused with emails or names.
	seen := map[int64]string{kim: "kim", a: "site|1", b: "site|2"}
	for _, sub := range []string{"site|3", "site|4", "SITE|3", "kim@example.com", "Kim"} {
		id, created, err := x.ExternalUser(f.ctx, engine.ExternalIdentity{Subject: sub})
		if err != nil || !created {
			t.Errorf("sub %q = %d, %v, %v; want a new user", sub, id, created, err)
			continue
		}
		if other, dup := seen[id]; dup {
			t.Errorf("sub %q got user %d, already %q's", sub, id, other)
		}
		seen[id] = sub
	}

	for _, id := range []int64{a, b} {
		if ok, err := l.UserExists(f.ctx, id); err != nil || !ok {
			t.Errorf("UserExists(%d) = %v, %v", id, ok, err)
		}
		if got, err := l.Charge(f.ctx, id, 500, engine.MaxBalance, engine.Idempotency{}); err != nil || got != 500 {
			t.Errorf("Charge(external user %d) = %d, %v; want 500", id, got, err)
		}
	}
}

// testConcurrentFirstSight: 50 calls with one new sub, released at once, make one
// user: one call is told it created it, all get its id, and the ledger holds one
// user more than before. Five subs racing at once likewise make five users.
func testConcurrentFirstSight(t *testing.T, l Ledger) {
	x := role[engine.ExternalUsers](t, l)
	f := newFixture(t, l)
	before := f.user(0)

	const n = 50
	ids := make([]int64, n)
	createdBy := make([]bool, n)
	errs := AtOnce(n, func(i int) error {
		var err error
		ids[i], createdBy[i], err = x.ExternalUser(f.ctx, engine.ExternalIdentity{Subject: "sub-rush", Name: "Rush", Email: "rush@example.com"})
		return err
	})
	if c := Count(t, errs); c[nil] != n {
		t.Fatalf("%d of %d calls succeeded", c[nil], n)
	}
	creators := 0
	for i := range ids {
		if ids[i] != ids[0] || ids[i] <= before {
			t.Fatalf("one sub, many users: %v (user before %d)", ids, before)
		}
		if createdBy[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d calls said they created the user, want 1", creators)
	}
	if got, err := l.UserIDsAbove(f.ctx, before, 1000); err != nil || !slices.Equal(got, []int64{ids[0]}) {
		t.Errorf("users after %d: %v, %v; want only [%d]", before, got, err, ids[0])
	}

	// Five new subs, ten calls each, all at once.
	const subs, per = 5, 10
	got := make([]int64, subs*per)
	errs = AtOnce(subs*per, func(i int) error {
		var err error
		got[i], _, err = x.ExternalUser(f.ctx, engine.ExternalIdentity{Subject: fmt.Sprintf("sub-%d", i%subs)})
		return err
	})
	if c := Count(t, errs); c[nil] != subs*per {
		t.Fatalf("%d of %d calls succeeded", c[nil], subs*per)
	}
	bySub := map[int]int64{}
	for i, id := range got {
		if prev, ok := bySub[i%subs]; ok && prev != id {
			t.Errorf("sub-%d got users %d and %d", i%subs, prev, id)
		}
		bySub[i%subs] = id
	}
	after, err := l.UserIDsAbove(f.ctx, ids[0], 1000)
	if err != nil || len(after) != subs {
		t.Errorf("users after %d: %v, %v; want %d", ids[0], after, err, subs)
	}
}

// testUserKeyGens: a rotation moves a user's key generation on by one, only from
// the current one, exactly once under a race; and a bucket lists every rotated
// user of it, and no other.
func testUserKeyGens(t *testing.T, l Ledger) {
	kl := role[engine.UserKeyLedger](t, l)
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
	errs := AtOnce(8, func(int) error { _, err := kl.RotateUserKey(f.ctx, b, 1); return err })
	if n := Count(t, errs, engine.ErrTokenInvalid); n[nil] != 1 || n[engine.ErrTokenInvalid] != 7 {
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
