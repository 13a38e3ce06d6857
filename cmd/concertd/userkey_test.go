package main

import (
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/test/rushtest"
)

// TestUserKeyRotationAcrossInstances: two instances share Redis and PostgreSQL; a
// key rotated on one is refused by the other within 1 s (the contract), although
// the other checked it a moment before and remembers it; the new key works on
// both; and hostile variants of the key are refused on both.
func TestUserKeyRotationAcrossInstances(t *testing.T) {
	cfg := testConfig(t)
	a, b := start(t, cfg), start(t, cfg)
	ctx := ctxFor(t, 30*time.Second)
	ca, cb := rushtest.NewClient(testAdminKey, a.base), rushtest.NewClient(testAdminKey, b.base)
	cid, _, err := ca.Concert(ctx, 10, 1000, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	uid, err := ca.User(ctx, "rotating")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.User(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	key := ca.Key(uid)
	enter := map[string]any{"concertId": cid}
	tok := mustDo(t, ctx, cb, 201, "", "POST", "/api/users/token", enter, rushtest.Bearer(key)...).Str("userToken")

	parts := strings.Split(key, ".")
	for name, bad := range map[string]string{
		"altered":         key[:len(key)-3] + "AAA",
		"truncated":       key[:len(key)-5],
		"another's id":    parts[0] + "." + itoa(other) + "." + parts[2] + "." + parts[3],
		"another user's":  ca.Key(other) + "",
		"token as key":    tok,
		"key with spaces": key + " x",
	} {
		for _, c := range []*rushtest.Client{ca, cb} {
			body := map[string]any{"userId": uid, "concertId": cid}
			r := mustDo(t, ctx, c, 401, "", "POST", "/api/users/token", body, rushtest.Bearer(bad)...)
			if code := r.Code(); code != "TOKEN_INVALID" {
				t.Errorf("%s key: %s, want TOKEN_INVALID", name, r)
			}
		}
	}

	rot := mustDo(t, ctx, ca, 200, "", "POST", "/api/users/key", nil, rushtest.Bearer(key)...)
	rotated := time.Now()
	fresh := rot.Str("userKey")
	if rot.Int("userId") != uid || fresh == "" || fresh == key {
		t.Fatalf("rotation: %s", rot)
	}
	mustDo(t, ctx, ca, 401, "TOKEN_INVALID", "GET", "/api/users/balance", nil, rushtest.Bearer(key)...)
	for {
		r, err := cb.Do(ctx, "GET", "/api/users/balance", nil, rushtest.Bearer(key)...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == 401 {
			break
		}
		if r.Status != 200 || time.Since(rotated) > time.Second {
			t.Fatalf("old key on the other instance %v after rotating: %s, want 401 within 1 s", time.Since(rotated), r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second - time.Since(rotated) + 50*time.Millisecond)
	for _, c := range []*rushtest.Client{ca, cb} {
		mustDo(t, ctx, c, 401, "TOKEN_INVALID", "POST", "/api/users/token", enter, rushtest.Bearer(key)...)
		if got := mustDo(t, ctx, c, 200, "", "POST", "/api/users/token", enter, rushtest.Bearer(fresh)...).Str("userToken"); got != tok {
			t.Fatalf("entering with the new key gave %q, want the live token %q", got, tok)
		}
	}
}

// TestUserAuthNoneWarns: USER_AUTH=none lets a bare userId enter, and the server
// says at start, in its log, that it does; with keys required (the default) it
// says nothing of the kind and the bare userId is refused.
func TestUserAuthNoneWarns(t *testing.T) {
	for _, none := range []bool{true, false} {
		cfg := testConfig(t)
		cfg.UserAuthNone = none
		cfg.LogLevel = "warn"
		var log syncBuffer
		in := startMain(t, &Main{Config: cfg, Log: &log})
		ctx := ctxFor(t, 20*time.Second)
		c := rushtest.NewClient(testAdminKey, in.base)
		cid, _, err := c.Concert(ctx, 10, 1000, 1000, 1000)
		if err != nil {
			t.Fatal(err)
		}
		uid, err := c.User(ctx, "bare")
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(log.String(), "USER_AUTH=none")
		body := map[string]any{"userId": uid, "concertId": cid}
		if none {
			if !warned {
				t.Fatalf("USER_AUTH=none: no warning in the log:\n%s", log.String())
			}
			mustDo(t, ctx, c, 201, "", "POST", "/api/users/token", body)
		} else {
			if warned {
				t.Fatalf("keys required, yet the log warns of USER_AUTH=none:\n%s", log.String())
			}
			mustDo(t, ctx, c, 401, "TOKEN_MISSING", "POST", "/api/users/token", body)
		}
	}
}
