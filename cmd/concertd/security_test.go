package main

import (
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/test/rushtest"
)

// TestSecurity walks the ways a client may try to act beyond its token, each
// against the running binary's logic with real Redis and PostgreSQL.
func TestSecurity(t *testing.T) {
	_, cfg, c, ctx := startClient(t)

	concertA, schedA := newConcert(t, ctx, c, 10)
	concertB, schedB := newConcert(t, ctx, c, 10)
	alice := newBuyer(t, ctx, c, concertA, 10000).admitted(t, ctx, c)
	bob := newBuyer(t, ctx, c, concertA, 10000).admitted(t, ctx, c)
	seats := func(sched int64) string { return "/api/concerts/schedules/" + itoa(sched) + "/seats" }
	holdBody := func(sched int64, seat int) map[string]any {
		return map[string]any{"concertScheduleId": sched, "seatNumber": seat}
	}
	res := mustDo(t, ctx, c, 201, "", "POST", "/api/reservations", holdBody(schedA, 1), rushtest.Bearer(alice.token)...)
	aliceRes := "/api/reservations/" + itoa(res.Int("reservationId"))

	t.Run("forged and altered tokens", func(t *testing.T) {
		parts := strings.Split(alice.token, ".")
		if len(parts) != 6 {
			t.Fatalf("token %q is not the v1 shape this test alters", alice.token)
		}
		alter := func(i int, v string) string {
			p := append([]string(nil), parts...)
			p[i] = v
			return strings.Join(p, ".")
		}
		for name, tok := range map[string]string{
			"random":           "not-a-token",
			"unsigned":         "v1.1.1.1.1",
			"other user":       alter(2, itoa(bob.id)),
			"other concert":    alter(1, itoa(concertB)),
			"later issue":      alter(4, "9999999999"),
			"mac of another":   alter(5, strings.Split(bob.token, ".")[5]),
			"mac flipped":      alter(5, flip(parts[5])),
			"version":          alter(0, "v2"),
			"truncated":        alice.token[:len(alice.token)-1],
			"trailing garbage": alice.token + "A",
		} {
			for _, ep := range []struct{ method, path string }{
				{"GET", "/api/queue/status"}, {"GET", "/api/users/balance"}, {"GET", seats(schedA)}, {"GET", aliceRes},
			} {
				r := mustDo(t, ctx, c, 401, "", ep.method, ep.path, nil, rushtest.Bearer(tok)...)
				if code := r.Code(); code != "TOKEN_INVALID" && code != "TOKEN_EXPIRED" {
					t.Errorf("%s token at %s %s: %s", name, ep.method, ep.path, r)
				}
			}
		}
	})

	t.Run("cross-concert token", func(t *testing.T) {
		mustDo(t, ctx, c, 403, "WRONG_CONCERT", "GET", seats(schedB), nil, rushtest.Bearer(alice.token)...)
		mustDo(t, ctx, c, 403, "WRONG_CONCERT", "POST", "/api/reservations", holdBody(schedB, 1), rushtest.Bearer(alice.token)...)
	})

	t.Run("another user's reservation", func(t *testing.T) {
		mustDo(t, ctx, c, 404, "RESERVATION_NOT_FOUND", "GET", aliceRes, nil, rushtest.Bearer(bob.token)...)
		mustDo(t, ctx, c, 404, "RESERVATION_NOT_FOUND", "DELETE", aliceRes, nil, rushtest.Bearer(bob.token)...)
		mustDo(t, ctx, c, 404, "RESERVATION_NOT_FOUND", "POST", "/api/payments",
			map[string]any{"reservationId": res.Int("reservationId"), "paymentAmount": 1000}, rushtest.Bearer(bob.token)...)
		// Bob's attempts changed nothing: Alice's hold is hers and pending, Bob paid nothing.
		r := mustDo(t, ctx, c, 200, "", "GET", aliceRes, nil, rushtest.Bearer(alice.token)...)
		if r.Str("status") != "PENDING" {
			t.Fatalf("alice's reservation after bob's attempts: %s", r)
		}
		if r := mustDo(t, ctx, c, 200, "", "GET", "/api/users/balance", nil, rushtest.Bearer(bob.token)...); r.Int("currentBalance") != 10000 {
			t.Fatalf("bob's balance: %s", r)
		}
	})

	t.Run("waiting token cannot reach seats", func(t *testing.T) {
		concertC, schedC := newConcert(t, ctx, c, 10)
		mustDo(t, ctx, c, 200, "", "PATCH", "/api/admin/concerts/"+itoa(concertC)+"/queue", map[string]any{"paused": true}, c.Admin()...)
		w := newBuyer(t, ctx, c, concertC, 0)
		mustDo(t, ctx, c, 403, "NOT_ADMITTED", "GET", seats(schedC), nil, rushtest.Bearer(w.token)...)
		mustDo(t, ctx, c, 403, "NOT_ADMITTED", "POST", "/api/reservations", holdBody(schedC, 1), rushtest.Bearer(w.token)...)
	})

	t.Run("token replayed after DONE", func(t *testing.T) {
		mustDo(t, ctx, c, 201, "", "POST", "/api/payments",
			map[string]any{"reservationId": res.Int("reservationId"), "paymentAmount": 1000}, rushtest.Bearer(alice.token)...)
		if r := mustDo(t, ctx, c, 200, "", "GET", "/api/queue/status", nil, rushtest.Bearer(alice.token)...); r.Str("status") != "DONE" {
			t.Fatalf("status after paying: %s, want DONE", r)
		}
		for _, try := range []struct {
			method, path string
			body         any
		}{
			{"GET", seats(schedA), nil},
			{"POST", "/api/reservations", holdBody(schedA, 2)},
		} {
			r, err := c.Do(ctx, try.method, try.path, try.body, rushtest.Bearer(alice.token)...)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != 401 && r.Status != 403 {
				t.Errorf("DONE token at %s %s: %s, want 401 or 403", try.method, try.path, r)
			}
		}
		// The refused hold left nothing behind.
		if r := mustDo(t, ctx, c, 200, "", "GET", "/api/admin/concerts/"+itoa(concertA)+"/stats", nil, c.Admin()...); r.Int("sold") != 1 || r.Int("held") != 0 {
			t.Fatalf("stats after the replay: %s, want 1 sold, 0 held", r)
		}
	})

	t.Run("admin endpoints need the key", func(t *testing.T) {
		for _, key := range [][]string{nil, {"X-Admin-Key", ""}, {"X-Admin-Key", "wrong"}, {"X-Admin-Key", testAdminKey + "x"},
			{"X-Admin-Key", strings.ToUpper(testAdminKey)}, {"Authorization", "Bearer " + testAdminKey}, {"X-Admin-Key", testAdminKey[:5]}} {
			for _, ep := range []struct {
				method, path string
				body         any
			}{
				{"POST", "/api/admin/concerts", `{"title":"x","schedules":[{"concertDate":"2030-01-01","seatCount":1,"price":1}]}`},
				{"PATCH", "/api/admin/concerts/" + itoa(concertA) + "/queue", `{"paused":true}`},
				{"GET", "/api/admin/concerts/" + itoa(concertA) + "/stats", nil},
			} {
				mustDo(t, ctx, c, 403, "ADMIN_ONLY", ep.method, ep.path, ep.body, key...)
			}
		}
		if n, err := queryInt(ctx, cfg.DatabaseURL, `SELECT count(*) FROM concerts`); err != nil || n != 3 {
			t.Fatalf("concerts after refused creates: %d %v, want 3", n, err)
		}
	})
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
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
		cid, _ := newConcert(t, ctx, c, 10)
		uid := newUser(t, ctx, c, "bare")
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
