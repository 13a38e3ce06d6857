package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
)

// TestUserKeys: a new user's key proves that user; an altered, truncated, forged
// or rotated key proves nobody; a rotation is seen by another instance within the
// key cache's age (well inside the contract's 1 s); and a Redis that lost its data
// still refuses a rotated key, having reloaded the generations from the ledger.
func TestUserKeys(t *testing.T) {
	t.Parallel()
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		ids := v.users(2)
		a, b := ids[0], ids[1]
		other := v.another()
		key := v.e.UserKey(a)
		if key != other.UserKey(a) || !engine.IsUserKey(key) {
			t.Fatalf("user key %q: want the same key from every instance, in uk1 form", key)
		}
		if strings.Contains(key, "."+itoa64(a)+".") == false {
			t.Fatalf("key %q does not name user %d", key, a)
		}
		for _, e := range []*engine.Engine{v.e, other} {
			v.wantKey(e, key, a, "key")
		}
		parts := strings.Split(key, ".")
		bad := map[string]string{
			"empty":          "",
			"truncated":      key[:len(key)-1],
			"altered mac":    key[:len(key)-1] + flipLast(key),
			"no mac":         strings.Join(parts[:3], "."),
			"another id":     parts[0] + "." + itoa64(b) + "." + parts[2] + "." + parts[3],
			"a later gen":    parts[0] + "." + parts[1] + ".2." + parts[3],
			"another secret": engine.SignUserKey([]byte("not the secret"), a, 1),
			"gen zero":       engine.SignUserKey(secret, a, 0),
			"negative id":    engine.SignUserKey(secret, -a, 1),
			"a token":        "v1.1." + itoa64(a) + ".1.1.AAAAAAAAAAAAAAAAAAAAAAAA",
			"extra field":    key + ".x",
			"too long":       key + strings.Repeat("A", 100),
			"leading space":  " " + key,
			"version only":   "uk1.",
			"padded base64":  key + "=",
		}
		for name, k := range bad {
			if _, err := v.e.CheckUserKey(v.ctx, k); !isCode(err, engine.CodeTokenInvalid) && !isCode(err, engine.CodeTokenMissing) {
				t.Errorf("%s key %q: %v, want TOKEN_INVALID", name, k, err)
			}
		}

		// Rotate on one instance; the other has the old generation in memory.
		id, fresh, err := v.e.RotateUserKey(v.ctx, key)
		if err != nil || id != a || fresh == key {
			t.Fatalf("RotateUserKey = %d, %q, %v", id, fresh, err)
		}
		v.wantKeyRefused(v.e, key, "old key on the rotating instance")
		v.clk.Advance(500 * time.Millisecond) // the key cache's age
		v.wantKeyRefused(other, key, "old key on another instance after 500ms")
		for _, e := range []*engine.Engine{v.e, other} {
			v.wantKey(e, fresh, a, "new key")
		}
		if _, _, err := other.RotateUserKey(v.ctx, key); !isCode(err, engine.CodeTokenInvalid) {
			t.Fatalf("rotating with the old key: %v, want TOKEN_INVALID", err)
		}
		// The other user is untouched.
		v.wantKey(other, other.UserKey(b), b, "user b's key")

		// Redis loses everything: the ledger still knows a rotated, and a fresh
		// instance (nothing in memory) refuses the old key and takes the new.
		v.flush()
		third := v.another()
		v.wantKeyRefused(third, key, "old key after Redis lost its data")
		v.wantKey(third, fresh, a, "new key after Redis lost its data")
	})
}

// TestRotateUserKeyRace: many rotations with one key at once yield exactly one
// new key; every other attempt is refused, and only the winner's key works.
func TestRotateUserKeyRace(t *testing.T) {
	t.Parallel()
	eachBackend(t, engine.Config{}, func(t *testing.T, v *env) {
		a := v.users(1)[0]
		key := v.e.UserKey(a)
		instances := []*engine.Engine{v.e, v.another(), v.another()}
		keys := make([]string, 12)
		errs := make([]error, 12)
		parallel(t, 12, 12, func(i int) error {
			_, keys[i], errs[i] = instances[i%3].RotateUserKey(v.ctx, key)
			return nil
		})
		var winner string
		for i, err := range errs {
			switch {
			case err == nil && winner == "":
				winner = keys[i]
			case err == nil:
				t.Fatalf("two rotations won: %q and %q", winner, keys[i])
			case !isCode(err, engine.CodeTokenInvalid):
				t.Fatalf("rotation: %v", err)
			}
		}
		if winner == "" {
			t.Fatal("no rotation won")
		}
		v.clk.Advance(time.Second)
		for _, e := range instances {
			v.wantKeyRefused(e, key, "old key")
			v.wantKey(e, winner, a, "winning key")
		}
	})
}

// TestOldTokenReissued: a user whose token record outlived the token lifetime
// (still polling in a long line) entering again gets a new, live token for the
// same place in line, not the dead one; the dead one stays dead.
func TestOldTokenReissued(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{IdleTimeout: 48 * time.Hour}
	eachBackend(t, cfg, func(t *testing.T, v *env) {
		c, _ := v.concert(show{})
		v.pause(c.ID)
		ids := v.users(3)
		for _, id := range ids {
			v.enter(v.e, id, c.ID)
		}
		old, g := v.enter(v.e, ids[1], c.ID)
		if !g.Reused || g.Status.Position != 2 {
			t.Fatalf("re-entry: %+v, want the same token at place 2", g)
		}
		// A day less 30 minutes: the token has under an hour left.
		v.clk.Advance(23*time.Hour + 30*time.Minute)
		tok, g2 := v.enter(v.e, ids[1], c.ID)
		if g2.Token == g.Token || tok.Gen == old.Gen || !tok.IssuedAt.Equal(v.clk.Now().Truncate(time.Second)) {
			t.Fatalf("entry near the end of the token's life: %+v, want a new token issued now", tok)
		}
		if !g2.Reused || g2.Status.State != engine.TokenWaiting || g2.Status.Position != 2 {
			t.Fatalf("renewed token: %+v, want the same place (2)", g2)
		}
		if st, err := v.e.Status(v.ctx, tok); err != nil || st.Position != 2 {
			t.Fatalf("poll of the renewed token = %+v, %v; want place 2", st, err)
		}
		if _, err := v.e.Status(v.ctx, old); !errors.Is(err, engine.ErrTokenExpired) && !errors.Is(err, engine.ErrTokenInvalid) {
			t.Fatalf("poll of the old token = %v, want it over", err)
		}
		// Entering again right away gives the renewed token back, unchanged.
		if _, g3 := v.enter(v.e, ids[1], c.ID); g3.Token != g2.Token {
			t.Fatalf("entry after renewal gave %q, want %q", g3.Token, g2.Token)
		}
	})
}

// flipLast is another base64url character than key's last.
func flipLast(key string) string {
	if key[len(key)-1] == 'A' {
		return "B"
	}
	return "A"
}
