package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/concertd/concertd/api"
	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/storetest"
	"github.com/concertd/concertd/test/rushtest"
)

// The secrets of every test deployment: long enough for the operating contract.
const (
	testAdminKey    = "e2e-admin-key-0123456789abcdefghijklmnop"
	testTokenSecret = "e2e-token-secret-0123456789abcdefghijklmnop"
)

// testConfig is one deployment's configuration: a fresh database, a Redis prefix
// of its own, port 0, no rate limits (tests poll and hold much faster than a
// person; the limits have their own tests) unless a test sets them.
func testConfig(t *testing.T) Config {
	t.Helper()
	_, prefix := storetest.Redis(t)
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = storetest.DefaultRedisURL
	}
	return Config{
		Addr:        "127.0.0.1:0",
		RedisURL:    redisURL,
		DatabaseURL: storetest.Database(t),
		AdminKey:    testAdminKey,
		TokenSecret: testTokenSecret,
		RedisPrefix: prefix,
		Config:      engine.DefaultConfig(),
		LogLevel:    "error",
		RateLimits:  api.RateLimits{},
	}
}

// instance is one Main running in-process.
type instance struct {
	base string
	stop context.CancelFunc
	done chan error
}

// start runs Main with cfg and returns once it listens; the test's cleanup stops it.
func start(t *testing.T, cfg Config) *instance {
	t.Helper()
	return startMain(t, &Main{Config: cfg})
}

// startMain is start for a Main whose banner or log the test reads.
func startMain(t *testing.T, m *Main) *instance {
	t.Helper()
	ready := m.Ready()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stop: cancel, done: make(chan error, 1)}
	go func() { in.done <- m.Run(ctx) }()
	select {
	case <-ready:
	case err := <-in.done:
		cancel()
		t.Fatalf("Main.Run: %v", err)
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("Main did not become ready in 15s")
	}
	in.base = "http://" + m.Addr
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-in.done:
			in.done <- err // Run's result stays readable; a test asks for it through wait
		case <-time.After(15 * time.Second):
			t.Error("Main.Run did not return 15s after cancel")
		}
	})
	return in
}

// wait returns Run's result, failing the test if it takes longer than d.
func (in *instance) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-in.done:
		in.done <- err // the cleanup reads it too
		return err
	case <-time.After(d):
		t.Fatalf("Main.Run did not return within %v", d)
		return nil
	}
}

// startClient starts an instance of a fresh test config and returns it, the
// config, a client of it and a 30-second context.
func startClient(t *testing.T) (*instance, Config, *rushtest.Client, context.Context) {
	t.Helper()
	cfg := testConfig(t)
	in := start(t, cfg)
	return in, cfg, rushtest.NewClient(testAdminKey, in.base), ctxFor(t, 30*time.Second)
}

// startPair starts two instances of one fresh test config, sharing Redis and
// PostgreSQL, and returns a client of each and a 30-second context.
func startPair(t *testing.T) (a, b *rushtest.Client, ctx context.Context) {
	t.Helper()
	cfg := testConfig(t)
	ina, inb := start(t, cfg), start(t, cfg)
	return rushtest.NewClient(testAdminKey, ina.base), rushtest.NewClient(testAdminKey, inb.base), ctxFor(t, 30*time.Second)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// buyer is a user admitted to a concert, with money.
type buyer struct {
	id    int64
	token string
}

// sale is a test concert (price 1000 a seat) with one buyer, admitted and charged
// 5000, holding one seat.
type sale struct {
	concertID, scheduleID, reservationID int64
	buyer                                buyer
}

// newConcert creates a concert of seats seats at 1000 each, admitting 1000 a
// second up to 1000 active, and returns its id and its schedule's.
func newConcert(t *testing.T, ctx context.Context, c *rushtest.Client, seats int) (concertID, scheduleID int64) {
	t.Helper()
	cid, sid, err := c.Concert(ctx, seats, 1000, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return cid, sid
}

// newUser creates a user named name and returns its id.
func newUser(t *testing.T, ctx context.Context, c *rushtest.Client, name string) int64 {
	t.Helper()
	id, err := c.User(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newSale(t *testing.T, ctx context.Context, c *rushtest.Client, seats, seat int) sale {
	t.Helper()
	cid, sid := newConcert(t, ctx, c, seats)
	b := newBuyer(t, ctx, c, cid, 5000).admitted(t, ctx, c)
	hold := mustDo(t, ctx, c, 201, "", "POST", "/api/reservations", map[string]any{"concertScheduleId": sid, "seatNumber": seat}, rushtest.Bearer(b.token)...)
	return sale{concertID: cid, scheduleID: sid, reservationID: hold.Int("reservationId"), buyer: b}
}

func newBuyer(t *testing.T, ctx context.Context, c *rushtest.Client, concertID int64, charge int64) buyer {
	t.Helper()
	id := newUser(t, ctx, c, "b")
	tok, err := c.Enter(ctx, id, concertID)
	if err != nil {
		t.Fatal(err)
	}
	if charge > 0 {
		if err := c.Charge(ctx, tok, charge, fmt.Sprintf("c-%d", id)); err != nil {
			t.Fatal(err)
		}
	}
	return buyer{id, tok}
}

func (b buyer) admitted(t *testing.T, ctx context.Context, c *rushtest.Client) buyer {
	t.Helper()
	if err := c.WaitActive(ctx, b.token, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustDo(t *testing.T, ctx context.Context, c *rushtest.Client, wantStatus int, wantCode, method, path string, body any, headers ...string) rushtest.Response {
	t.Helper()
	r, err := c.Do(ctx, method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.Status != wantStatus || (wantCode != "" && r.Code() != wantCode) {
		t.Fatalf("%s %s: %s, want %d %s", method, path, r, wantStatus, wantCode)
	}
	return r
}

func itoa(n int64) string { return fmt.Sprint(n) }

// TestStartWithoutDependencies: a missing Redis or PostgreSQL at start is an error
// that names it, returned promptly, not a panic or a hang.
func TestStartWithoutDependencies(t *testing.T) {
	t.Parallel()
	dead := deadAddress(t)
	cases := []struct {
		name  string
		edit  func(*Config)
		names string
	}{
		{"redis", func(c *Config) { c.RedisURL = "redis://" + dead + "/0" }, "redis"},
		{"postgresql", func(c *Config) {
			c.DatabaseURL = "postgres://postgres@" + dead + "/postgres?sslmode=disable"
		}, "postgresql"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.edit(&cfg)
			ctx := ctxFor(t, 20*time.Second)
			err := (&Main{Config: cfg}).Run(ctx)
			if err == nil {
				t.Fatal("Run succeeded without its dependency")
			}
			if msg := err.Error(); !strings.Contains(strings.ToLower(msg), tc.names) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q should name %s on one line", msg, tc.names)
			}
		})
	}
}

// TestExitsQuietly: a port already taken is a one-line error naming it, and a
// stop, whether after that failure or after serving, logs no failure: the
// stores close only after every loop has returned, and no loop (admission
// included) starts before the port is known to be free.
func TestExitsQuietly(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	cfg := testConfig(t)
	cfg.LogLevel = "warn"
	cfg.Addr = taken.Addr().String()
	var logged syncBuffer
	err = (&Main{Config: cfg, Log: &logged}).Run(ctxFor(t, 20*time.Second))
	if err == nil || !strings.Contains(err.Error(), cfg.Addr) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Run on a taken port: %v; want one line naming %s", err, cfg.Addr)
	}
	if logged.String() != "" {
		t.Errorf("a failed start logged:\n%s", logged.String())
	}

	cfg = testConfig(t)
	cfg.LogLevel = "warn"
	var stopped syncBuffer
	in := startMain(t, &Main{Config: cfg, Log: &stopped})
	// Long enough for every loop to have run a step against both stores.
	time.Sleep(1500 * time.Millisecond)
	in.stop()
	if err := in.wait(t, 15*time.Second); err != nil {
		t.Fatalf("Run after a stop: %v", err)
	}
	if stopped.String() != "" {
		t.Errorf("a clean stop logged:\n%s", stopped.String())
	}
}

// syncBuffer is a bytes.Buffer the server's goroutines may log into at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// deadAddress is a local port nothing listens on.
func deadAddress(t *testing.T) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestGracefulShutdownUnderLoad cancels Run while requests are in flight. Two
// kinds of request prove it: slow clients that have sent half a body when the
// cancel comes (certainly in flight, and they must still get their 201 and their
// user created), and a flood of fast requests of which none may get a 5xx.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	in, cfg, c, ctx := startClient(t)
	cid, _ := newConcert(t, ctx, c, 50)
	b := newBuyer(t, ctx, c, cid, 0)

	const slow = 20
	addr := strings.TrimPrefix(in.base, "http://")
	type slowReq struct {
		conn net.Conn
		rest string
	}
	var slows []slowReq
	for i := range slow {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// A whole request first proves the server accepted the connection.
		if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("warm-up: %v %v", resp, err)
		}
		resp.Body.Close()
		body := fmt.Sprintf(`{"name":"slow","email":"slow%d@example.com"}`, i)
		half := len(body) / 2
		if _, err := fmt.Fprintf(conn, "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:half]); err != nil {
			t.Fatal(err)
		}
		slows = append(slows, slowReq{conn: &bufConn{Conn: conn, r: br}, rest: body[half:]})
	}

	var (
		stopping  atomic.Bool
		served    atomic.Int64
		failures  = make(chan string, 100)
		loadWG    sync.WaitGroup
		loadStop  = make(chan struct{})
		endpoints = []struct{ method, path string }{
			{"GET", "/api/concerts"}, {"GET", "/api/queue/status"}, {"GET", "/api/users/balance"},
			{"GET", "/api/admin/concerts/" + itoa(cid) + "/stats"}, {"GET", "/healthz"},
		}
	)
	for w := range 32 {
		loadWG.Add(1)
		go func() {
			defer loadWG.Done()
			for i := 0; ; i++ {
				select {
				case <-loadStop:
					return
				default:
				}
				ep := endpoints[(w+i)%len(endpoints)]
				r, err := c.DoAt(ctx, in.base, ep.method, ep.path, nil, append(rushtest.Bearer(b.token), c.Admin()...)...)
				switch {
				case err != nil && !stopping.Load():
					failures <- fmt.Sprintf("%s %s before shutdown: %v", ep.method, ep.path, err)
				case err == nil && r.Status >= 500:
					failures <- fmt.Sprintf("%s %s: %s", ep.method, ep.path, r)
				case err == nil:
					served.Add(1)
				}
				if err != nil && stopping.Load() {
					return // the listener is gone, as it should be
				}
			}
		}()
	}
	// Let the flood build up; there is no event to wait for but "it is busy".
	for served.Load() < 200 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	// fasthttp exposes no signal that it has read the half bodies' first bytes;
	// they were written well before the flood above built up, so it has.
	stopping.Store(true)
	stopAt := time.Now()
	in.stop()

	var slowWG sync.WaitGroup
	slowStatus := make([]int, slow)
	for i, s := range slows {
		slowWG.Add(1)
		go func() {
			defer slowWG.Done()
			if _, err := s.conn.Write([]byte(s.rest)); err != nil {
				failures <- fmt.Sprintf("slow request %d: finishing the body: %v", i, err)
				return
			}
			resp, err := http.ReadResponse(s.conn.(*bufConn).r, nil)
			if err != nil {
				failures <- fmt.Sprintf("slow request %d: no answer: %v", i, err)
				return
			}
			resp.Body.Close()
			slowStatus[i] = resp.StatusCode
		}()
	}
	if err := in.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run returned %v after a graceful stop, want nil", err)
	}
	t.Logf("Run returned %v after cancel; %d fast requests served", time.Since(stopAt).Round(time.Millisecond), served.Load())
	close(loadStop)
	loadWG.Wait()
	slowWG.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	for i, st := range slowStatus {
		if st != http.StatusCreated && st != 0 {
			t.Errorf("slow request %d answered %d, want 201", i, st)
		}
	}
	// Each 201 must be a user that exists: the answer was not sent before the work.
	led, err := usersCount(ctx, cfg.DatabaseURL, "slow%")
	if err != nil {
		t.Fatal(err)
	}
	if led != slow {
		t.Fatalf("%d slow users in the database, want %d", led, slow)
	}
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func usersCount(ctx context.Context, url, emailLike string) (int, error) {
	return queryInt(ctx, url, `SELECT count(*) FROM users WHERE email LIKE $1`, emailLike)
}

func queryInt(ctx context.Context, url, sql string, args ...any) (int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}
