package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/store/storetest"
	"github.com/concertd/concertd/test/rushtest"
)

// TestManyInstancesRush runs three instances on one Redis and one database and a
// rush through all of them at once: 300 buyers for 100 seats, every request to
// the next instance in turn. Whatever the interleaving, the database must show
// each seat sold once, money conserved, and admission no faster than the
// concert's rate across all instances together.
func TestManyInstancesRush(t *testing.T) {
	cfg := testConfig(t)
	var bases []string
	for range 3 {
		bases = append(bases, start(t, cfg).base)
	}
	rushAll(t, cfg.DatabaseURL, bases, 300, 100)
}

// rushAll runs a rush of users buyers for seats seats through the instances at
// bases, every request to the next instance in turn, admitting 100 a second.
// Whatever the interleaving, the database must show each seat sold once, money
// conserved, and admission no faster than that rate across all instances.
func rushAll(t *testing.T, databaseURL string, bases []string, users, seats int) {
	t.Helper()
	c := rushtest.NewClient(testAdminKey, bases...)
	ctx := ctxFor(t, 60*time.Second)
	sale, err := c.Rush(ctx, rushtest.Config{
		Users: users, Seats: seats, Price: 30000, Charge: 50000, AdmitPerSecond: 100, MaxActive: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	inv := sale.Check(ctx, databaseURL)
	if err := inv.Err(); err != nil {
		t.Fatal(err)
	}
	if inv.Payments != seats || inv.Ledger.Sales != int64(seats) {
		t.Fatalf("%d purchases and %d sales, want every one of %d seats sold", inv.Payments, inv.Ledger.Sales, seats)
	}
	t.Logf("ledger %+v, admission %+v", *inv.Ledger, inv.Admission)
}

// outage starts one instance whose dependency (which: "redis" or "postgresql")
// goes through a proxy the test can cut.
func outage(t *testing.T, which string) (*rushtest.Client, *rushtest.Proxy, Config) {
	cfg := testConfig(t)
	var target string
	switch which {
	case "redis":
		target = strings.TrimSuffix(strings.TrimPrefix(cfg.RedisURL, "redis://"), "/0")
	case "postgresql":
		target = "127.0.0.1:5432"
	}
	p, err := rushtest.NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	switch which {
	case "redis":
		cfg.RedisURL = strings.Replace(cfg.RedisURL, target, p.Addr(), 1)
	case "postgresql":
		cfg.DatabaseURL = strings.Replace(cfg.DatabaseURL, target, p.Addr(), 1)
	}
	in := start(t, cfg)
	return rushtest.NewClient(testAdminKey, in.base), p, cfg
}

// eventually polls f until it returns "" or the deadline passes; real servers
// reconnect on their own schedule, which no test clock controls.
func eventually(t *testing.T, d time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgresOutage cuts the database away mid-sale: money endpoints answer 503
// and do nothing, the queue (all Redis) keeps working, /readyz names postgresql,
// and once the database is back the same hold is paid without a restart.
func TestPostgresOutage(t *testing.T) {
	c, p, cfg := outage(t, "postgresql")
	ctx := ctxFor(t, 40*time.Second)
	sl := newSale(t, ctx, c, 10, 3)
	cid, b := sl.concertID, sl.buyer
	pay := map[string]any{"reservationId": sl.reservationID, "paymentAmount": 1000}
	// A waiter who arrived before the outage keeps polling through it.
	w := newBuyer(t, ctx, c, cid, 0)

	p.Cut()
	for _, try := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/users/balance/charge", map[string]any{"amount": 100}},
		{"POST", "/api/payments", pay},
		{"GET", "/api/users/balance", nil},
	} {
		r := mustDo(t, ctx, c, 503, "UNAVAILABLE", try.method, try.path, try.body, append(rushtest.Bearer(b.token), "Idempotency-Key", "k-"+try.path)...)
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", try.method, try.path)
		}
	}
	for range 3 {
		if r := mustDo(t, ctx, c, 200, "", "GET", "/api/queue/status", nil, rushtest.Bearer(w.token)...); r.Str("status") == "" {
			t.Fatalf("status during the outage: %s", r)
		}
	}
	r := mustDo(t, ctx, c, 503, "", "GET", "/readyz", nil)
	if down, _ := r.JSON["down"].([]any); len(down) != 1 || down[0] != "database" {
		t.Fatalf("/readyz during a database outage: %s, want it to name the database, and nothing else down", r)
	}
	for _, leak := range []string{"127.0.0.1", "postgres", "dial", "connect", "tcp"} {
		if strings.Contains(strings.ToLower(string(r.Body)), leak) {
			t.Fatalf("/readyz during a database outage: %s gives away %q", r, leak)
		}
	}

	p.Restore()
	eventually(t, 15*time.Second, func() string {
		r, err := c.Do(ctx, "GET", "/readyz", nil)
		if err != nil || r.Status != http.StatusOK {
			return "not ready again: " + r.String()
		}
		return ""
	})
	// The failed payment left the hold payable and charged nothing.
	var (
		paid rushtest.Response
		err  error
	)
	// The attempt cut by the outage may still be PAYING: retries answer 503 until
	// the payment window (10 s) ends and the sweeper, finding no sale in the
	// ledger, gives the hold back.
	eventually(t, 20*time.Second, func() string {
		paid, err = c.Do(ctx, "POST", "/api/payments", pay, append(rushtest.Bearer(b.token), "Idempotency-Key", "k-/api/payments")...)
		if err != nil || paid.Status != http.StatusCreated {
			return "payment after the outage: " + paid.String()
		}
		return ""
	})
	if paid.Int("currentBalance") != 4000 {
		t.Fatalf("balance after paying 1000 of 5000: %s", paid)
	}
	led, err := rushtest.ReadLedger(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := led.Check(nil, 0); err != nil || led.Sales != 1 || led.Charges != 5000 {
		t.Fatalf("ledger after the outage: %+v %v", led, err)
	}
}

// TestRedisOutage cuts Redis away: every endpoint answers without a 5xx other
// than 503, /readyz names redis, and the same instance serves again once Redis is
// back, without a restart.
func TestRedisOutage(t *testing.T) {
	c, p, _ := outage(t, "redis")
	ctx := ctxFor(t, 40*time.Second)
	sl := newSale(t, ctx, c, 10, 3)
	cid, sid, b := sl.concertID, sl.scheduleID, sl.buyer
	rid := itoa(sl.reservationID)

	p.Cut()
	tries := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/queue/status", nil},
		{"GET", "/api/concerts/schedules/" + itoa(sid) + "/seats", nil},
		{"POST", "/api/reservations", map[string]any{"concertScheduleId": sid, "seatNumber": 4}},
		{"GET", "/api/reservations/" + rid, nil},
		{"POST", "/api/payments", map[string]any{"reservationId": sl.reservationID, "paymentAmount": 1000}},
		{"POST", "/api/users/token", map[string]any{"concertId": cid}}, // with a user token as Bearer: refused
		{"GET", "/api/admin/concerts/" + itoa(cid) + "/stats", nil},
		{"GET", "/api/users/balance", nil},
		{"GET", "/api/concerts", nil},
		{"GET", "/readyz", nil},
	}
	sawUnavailable := false
	for _, try := range tries {
		r, err := c.Do(ctx, try.method, try.path, try.body, append(rushtest.Bearer(b.token), c.Admin()...)...)
		if err != nil {
			t.Fatalf("%s %s: %v", try.method, try.path, err)
		}
		if r.Status >= 500 && r.Status != 503 {
			t.Errorf("%s %s during a Redis outage: %s", try.method, try.path, r)
		}
		if r.Status == 503 {
			sawUnavailable = true
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("%s %s: 503 without Retry-After", try.method, try.path)
			}
		}
		if try.path == "/readyz" {
			if down, _ := r.JSON["down"].([]any); r.Status != 503 || len(down) != 1 || down[0] != "redis" {
				t.Errorf("/readyz during a Redis outage: %s, want 503 naming redis alone", r)
			}
			for _, leak := range []string{"127.0.0.1", "dial", "connect", "tcp", "refused"} {
				if strings.Contains(strings.ToLower(string(r.Body)), leak) {
					t.Errorf("/readyz during a Redis outage: %s gives away %q", r, leak)
				}
			}
		}
	}
	if !sawUnavailable {
		t.Fatal("nothing answered 503 with Redis cut: the proxy is not in the path")
	}

	p.Restore()
	eventually(t, 15*time.Second, func() string {
		r, err := c.Do(ctx, "GET", "/api/queue/status", nil, rushtest.Bearer(b.token)...)
		if err != nil || r.Status != http.StatusOK || r.Str("status") != "ACTIVE" {
			return "status after Redis came back: " + r.String()
		}
		return ""
	})
	paid := mustDo(t, ctx, c, 201, "", "POST", "/api/payments", map[string]any{"reservationId": sl.reservationID, "paymentAmount": 1000}, rushtest.Bearer(b.token)...)
	if paid.Int("currentBalance") != 4000 {
		t.Fatalf("payment after the outage: %s", paid)
	}
}

// TestRushOnRedisCluster runs two instances on a real three-master Redis Cluster,
// one given all its servers in REDIS_URL and one a single server's URL (a seed,
// as a managed cluster's configuration endpoint is), and a rush through both:
// every script's keys must share the concert's hash tag, or the cluster refuses
// them. Each master must also have been told to publish expiries and have the
// listener subscribed, since on Cluster a server publishes only its own keys'
// expiries.
func TestRushOnRedisCluster(t *testing.T) {
	rdb, prefix := storetest.Cluster(t)
	cfg := testConfig(t)
	cfg.RedisPrefix = prefix
	var bases []string
	for _, url := range []string{strings.Join(rdb.Options().Addrs, ","), "redis://" + rdb.Options().Addrs[1] + "/0"} {
		cfg.RedisURL = url
		bases = append(bases, start(t, cfg).base)
	}
	rushAll(t, cfg.DatabaseURL, bases, 150, 60)
	err := rdb.ForEachMaster(ctxFor(t, 10*time.Second), func(ctx context.Context, node *redis.Client) error {
		ev, err := node.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err != nil {
			return err
		}
		if flags := ev["notify-keyspace-events"]; !strings.Contains(flags, "E") || !strings.ContainsAny(flags, "xA") {
			return fmt.Errorf("master %s publishes %q: no expiry events", node.Options().Addr, flags)
		}
		if n, err := node.PubSubNumPat(ctx).Result(); err != nil || n == 0 {
			return fmt.Errorf("master %s: %d pattern subscriptions (%v), want the expiry listener's", node.Options().Addr, n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
