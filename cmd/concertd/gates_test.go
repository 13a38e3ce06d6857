package main

import (
	"testing"
	"time"

	"github.com/concertd/concertd/engine/pow"
	"github.com/concertd/concertd/test/rushtest"
)

// TestGatesEndToEnd: against the running binary with real Redis and PostgreSQL,
// two instances: rushtest's client solves a concert's proof of work as the load
// driver does, a challenge used on one instance is refused on the other, and a
// presale code enters one user only.
func TestGatesEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	a, b := start(t, cfg), start(t, cfg)
	ctx := ctxFor(t, 30*time.Second)
	c := rushtest.NewClient(testAdminKey, a.base)
	other := rushtest.NewClient(testAdminKey, b.base)

	concert, _, err := c.Concert(ctx, 10, 1000, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	mustDo(t, ctx, c, 200, "", "PATCH", "/api/admin/concerts/"+itoa(concert)+"/queue", map[string]any{"proofOfWorkBits": 8}, c.Admin()...)
	time.Sleep(1100 * time.Millisecond) // the other instance reads the gates at most once a second

	users := make([]int64, 3)
	for i := range users {
		creator := c // users[0] enters through the other instance, which keeps its key
		if i == 0 {
			creator = other
		}
		if users[i], err = creator.User(ctx, "g"); err != nil {
			t.Fatal(err)
		}
	}
	mustDo(t, ctx, other, 403, "PROOF_REQUIRED", "POST", "/api/users/token", map[string]any{"userId": users[0], "concertId": concert}, rushtest.Bearer(other.Key(users[0]))...)
	if _, err := other.Enter(ctx, users[0], concert); err != nil {
		t.Fatalf("rushtest's Enter with a proof of work: %v", err)
	}

	ch := mustDo(t, ctx, c, 200, "", "GET", "/api/queue/challenge?concertId="+itoa(concert), nil)
	proof := map[string]string{"challenge": ch.Str("challenge"), "nonce": pow.Solve(ch.Str("challenge"), int(ch.Int("bits")))}
	mustDo(t, ctx, c, 201, "", "POST", "/api/users/token", map[string]any{"userId": users[1], "concertId": concert, "proof": proof}, rushtest.Bearer(c.Key(users[1]))...)
	mustDo(t, ctx, other, 403, "PROOF_INVALID", "POST", "/api/users/token", map[string]any{"userId": users[2], "concertId": concert, "proof": proof}, rushtest.Bearer(c.Key(users[2]))...)

	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	codes := mustDo(t, ctx, c, 201, "", "POST", "/api/admin/concerts/"+itoa(concert)+"/presale", map[string]any{"count": 1, "until": until}, c.Admin()...)
	code := codes.JSON["codes"].([]any)[0].(string)
	mustDo(t, ctx, c, 200, "", "PATCH", "/api/admin/concerts/"+itoa(concert)+"/queue", map[string]any{"proofOfWorkBits": 0}, c.Admin()...)
	time.Sleep(1100 * time.Millisecond)
	mustDo(t, ctx, other, 403, "NOT_INVITED", "POST", "/api/users/token", map[string]any{"userId": users[2], "concertId": concert}, rushtest.Bearer(c.Key(users[2]))...)
	mustDo(t, ctx, other, 201, "", "POST", "/api/users/token", map[string]any{"userId": users[2], "concertId": concert, "presaleCode": code}, rushtest.Bearer(c.Key(users[2]))...)
	late, err := c.User(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	mustDo(t, ctx, c, 403, "NOT_INVITED", "POST", "/api/users/token", map[string]any{"userId": late, "concertId": concert, "presaleCode": code}, rushtest.Bearer(c.Key(late))...)
}
