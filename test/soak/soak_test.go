//go:build soak

package soak

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concertd/concertd/store/storetest"
	"github.com/concertd/concertd/test/rushtest"
)

const adminKey = "soak-admin-key"

// proc is one concertd process.
type proc struct {
	cmd  *exec.Cmd
	base string
}

// build compiles the binary once per test into its temp dir.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "concertd")
	out, err := exec.Command("go", "build", "-race", "-o", bin, "github.com/concertd/concertd/cmd/concertd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// launch starts the binary on a free port and waits until /healthz answers.
func launch(t *testing.T, bin string, env []string) *proc {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append(env, "CONCERTD_ADDR=127.0.0.1:"+port)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // keep the pipe drained; show only warnings and worse
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if l := sc.Text(); strings.Contains(l, `"level":"error"`) || strings.Contains(l, "panic") {
				t.Log(l)
			}
		}
	}()
	p := &proc{cmd: cmd, base: "http://127.0.0.1:" + port}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	c := rushtest.NewClient(adminKey, p.base)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := c.Do(context.Background(), "GET", "/healthz", nil)
		if err == nil && r.Status == 200 {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance on %s never answered /healthz: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	p, err := rushtest.NewProxy("127.0.0.1:1") // any listener gives a free port
	if err != nil {
		t.Fatal(err)
	}
	addr := p.Addr()
	p.Close()
	return addr[strings.LastIndexByte(addr, ':')+1:]
}

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
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = storetest.DefaultRedisURL
	}
	env := []string{
		"REDIS_URL=" + redisURL, "REDIS_PREFIX=" + prefix, "ADMIN_KEY=" + adminKey,
		"DATABASE_URL=" + strings.Replace(dbURL, "127.0.0.1:5432", pgProxy.Addr(), 1),
		"HOLD_TTL=3s", "RATE_LIMIT=off", "LOG_LEVEL=warn",
	}
	bin := build(t)
	var procs []*proc
	var bases []string
	for range 3 {
		p := launch(t, bin, env)
		procs = append(procs, p)
		bases = append(bases, p.base)
	}
	users, seats := 2000, 600
	if v := os.Getenv("SOAK_USERS"); v != "" {
		fmt.Sscan(v, &users)
		seats = users * 3 / 10
	}
	c := rushtest.NewClient(adminKey, bases...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sale, err := c.Rush(ctx, rushtest.Config{
		Users: users, Seats: seats, Price: 30000, Charge: 50000, AdmitPerSecond: 200, MaxActive: 2000,
		PollCap: 200 * time.Millisecond,
		During: func(ctx context.Context) {
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
			t.Logf("SIGKILL instance %s", procs[1].base)
			_ = procs[1].cmd.Process.Kill()
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
	survivors := rushtest.NewClient(adminKey, procs[0].base, procs[2].base)
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
