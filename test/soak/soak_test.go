//go:build soak

package soak

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/store/storetest"
	"github.com/concertd/concertd/test/proctest"
	"github.com/concertd/concertd/test/rushtest"
)

const adminKey = "soak-admin-key"

// TestSoakKillAndCut runs three processes through a long rush. Mid-rush one is
// killed with SIGKILL and, separately, the database is cut for two seconds. With
// HOLD_TTL=3s the sale must still end with no payment lost (every payment a buyer
// was told of is in the ledger), no seat sold twice, money conserved, and no hold
// left pending HOLD_TTL+1s after the last buyer stopped.
func TestSoakKillAndCut(t *testing.T) {
	_, prefix := storetest.Redis(t)
	dbURL := storetest.Database(t)
	pgProxy, err := rushtest.NewProxy("127.0.0.1:5432")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pgProxy.Close)
	redisURL := proctest.RedisURL()
	env := []string{
		"REDIS_URL=" + redisURL, "REDIS_PREFIX=" + prefix, "ADMIN_KEY=" + adminKey,
		"DATABASE_URL=" + strings.Replace(dbURL, "127.0.0.1:5432", pgProxy.Addr(), 1),
		"HOLD_TTL=3s", "RATE_LIMIT=off", "LOG_LEVEL=warn",
	}
	bin := proctest.Build(t)
	var procs []*proctest.Proc
	var bases []string
	for range 3 {
		p := proctest.Launch(t, bin, env)
		procs = append(procs, p)
		bases = append(bases, p.Base)
	}
	users, seats := 2000, 600
	if v := os.Getenv("SOAK_USERS"); v != "" {
		if _, err := fmt.Sscan(v, &users); err != nil {
			t.Fatalf("SOAK_USERS=%q: %v", v, err)
		}
		seats = users * 3 / 10
	}
	c := rushtest.NewClient(adminKey, bases...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sale, err := c.Rush(ctx, rushtest.Config{
		Users: users, Seats: seats, Price: 30000, Charge: 50000, AdmitPerSecond: 200, MaxActive: 2000,
		PollCap: 200 * time.Millisecond,
		During: func(ctx context.Context, _ *rushtest.Sale) {
			wait := func(d time.Duration) bool {
				select {
				case <-ctx.Done():
					return false
				case <-time.After(d):
					return true
				}
			}
			if !wait(3 * time.Second) {
				return
			}
			t.Logf("SIGKILL instance %s", procs[1].Base)
			_ = procs[1].Cmd.Process.Kill()
			if !wait(2 * time.Second) {
				return
			}
			t.Log("cutting PostgreSQL for 2s")
			pgProxy.Cut()
			wait(2 * time.Second)
			pgProxy.Restore()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Holds left by the killed instance's buyers must lapse on their own.
	survivors := rushtest.NewClient(adminKey, procs[0].Base, procs[2].Base)
	deadline := time.Now().Add(3*time.Second + time.Second + 2*time.Second)
	for {
		r, err := survivors.Retry(ctx, "GET", fmt.Sprintf("/api/admin/concerts/%d/stats", sale.ConcertID), nil, survivors.Admin()...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Int("held") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("holds still pending past HOLD_TTL+1s: %s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	inv := sale.Check(ctx, dbURL)
	if err := inv.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d buyers, %d seats: %d purchases told, ledger %+v", users, seats, inv.Payments, *inv.Ledger)
}
