package api

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/store/memstore"
	"github.com/concertd/concertd/store/redisstore"
	"github.com/concertd/concertd/store/storetest"
)

const testAdminKey = "admin-secret"

// t0 is the simulated clock's start; every test concert plays after it.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// harness is one real engine (in-memory ledger, miniredis) behind the real
// fasthttp server on an in-memory listener, so tests cross the same code a client
// does: server limits, error handler, router, middleware, handlers.
type harness struct {
	t      testing.TB
	mr     *miniredis.Miniredis
	clk    *clock.Simulated
	e      *engine.Engine
	srv    *Server
	client *fasthttp.Client
	dial   func() (net.Conn, error)
}

func newHarness(t testing.TB) *harness {
	h, _ := startHarness(t, nil, nil)
	return h
}

// startHarness builds the engine and an in-memory server. With limits nil rate
// limiting is off; otherwise lim enforces them, and a nil lim means the Redis
// limiter on the engine's simulated clock, so a test refills an allowance by
// moving the clock instead of sleeping.
func startHarness(t testing.TB, lim Limiter, limits *RateLimits) (*harness, *fasthttputil.InmemoryListener) {
	t.Helper()
	mr, rdb := storetest.Miniredis(t)
	prefix := storetest.RandomName("t")
	ledger := memstore.New()
	shared := redisstore.New(rdb, prefix, ledger)
	clk := clock.NewSimulated(t0)
	opts := Options{AdminKey: testAdminKey, Log: zerolog.Nop(), RequestTimeout: 2 * time.Second}
	if limits != nil {
		if lim == nil {
			lim = redisstore.NewLimiter(rdb, prefix, clk)
		}
		opts.Limiter, opts.RateLimits = lim, *limits
	}
	e := engine.New(engine.Config{
		Secret:        []byte("k"),
		AdmitInterval: 5 * time.Millisecond,
		SweepInterval: 20 * time.Millisecond,
	}, clk, testStores(ledger, shared, shared))
	srv := New(e, opts)

	ln := fasthttputil.NewInmemoryListener()
	serve(t, srv.HTTPServer(), ln)
	client := &fasthttp.Client{
		Dial:                func(string) (net.Conn, error) { return ln.Dial() },
		MaxResponseBodySize: 64 << 20,
	}
	return &harness{t: t, mr: mr, clk: clk, e: e, srv: srv, client: client, dial: ln.Dial}, ln
}

// testStores puts an in-memory ledger and a Redis store in the engine's roles,
// the queue role taken by q.
func testStores(l *memstore.Store, s *redisstore.Store, q engine.Queue) engine.Stores {
	return engine.Stores{
		Users: l, Concerts: l, Wallet: l, Sales: l,
		Queue: q, Holds: s, Payments: s, Expiries: s,
		Health: []engine.Pinger{s, l},
	}
}

// serve runs hs on ln until the test ends, then shuts it down and waits for Serve
// to return.
func serve(t testing.TB, hs *fasthttp.Server, ln net.Listener) {
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = hs.Shutdown()
		_ = ln.Close()
		<-served
	})
}

// runEngine starts the engine's background work (admission, sweeps) until the test ends.
func (h *harness) runEngine() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.e.Run(ctx, nil)
	}()
	h.t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

type response struct {
	status  int
	body    []byte
	headers map[string]string
}

// json decodes the body into a generic map, failing the test if it is not an object.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, r.body)
	}
	return m
}

// do sends one request; headers alternate name, value.
func (h *harness) do(method, path, body string, headers ...string) response {
	h.t.Helper()
	return h.request(h.t, method, path, body, headers...)
}

// request is do for a subtest, which must fail itself and not its parent.
func (h *harness) request(t testing.TB, method, path, body string, headers ...string) response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://concertd.test" + path)
	req.Header.SetMethod(method)
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if err := h.client.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r := response{status: resp.StatusCode(), body: append([]byte(nil), resp.Body()...), headers: map[string]string{}}
	for k, v := range resp.Header.All() {
		r.headers[strings.ToLower(string(k))] = string(v)
	}
	return r
}

// mustStatus sends a request and fails unless it answers status.
func (h *harness) mustStatus(status int, method, path, body string, headers ...string) map[string]any {
	h.t.Helper()
	r := h.do(method, path, body, headers...)
	if r.status != status {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body)
	}
	if ct := r.headers["content-type"]; ct != "application/json" {
		h.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return r.json(h.t)
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func admin() []string { return []string{"X-Admin-Key", testAdminKey} }

// number reads a JSON number field as int64.
func number(t testing.TB, m map[string]any, field string) int64 {
	t.Helper()
	v, ok := m[field].(float64)
	if !ok {
		t.Fatalf("field %q is %T (%v), want a number in %v", field, m[field], m[field], m)
	}
	return int64(v)
}

// fixture is a concert with one 50-seat schedule and a user waiting in its line.
type fixture struct {
	concertID, scheduleID int64
	userID                int64
	token                 string
}

func (h *harness) concert(body string) (concertID int64, scheduleIDs []int64) {
	h.t.Helper()
	m := h.mustStatus(201, "POST", "/api/admin/concerts", body, admin()...)
	ids, _ := m["scheduleIds"].([]any)
	for _, id := range ids {
		scheduleIDs = append(scheduleIDs, int64(id.(float64)))
	}
	return number(h.t, m, "concertId"), scheduleIDs
}

func (h *harness) user(name string) int64 {
	h.t.Helper()
	m := h.mustStatus(201, "POST", "/api/users", `{"name":"`+name+`","email":"`+name+`@example.com"}`)
	return number(h.t, m, "userId")
}

func (h *harness) enter(userID, concertID int64) string {
	h.t.Helper()
	body := `{"userId":` + itoa(userID) + `,"concertId":` + itoa(concertID) + `}`
	r := h.do("POST", "/api/users/token", body)
	if r.status != 201 && r.status != 200 {
		h.t.Fatalf("token: %d %s", r.status, r.body)
	}
	tok, _ := r.json(h.t)["userToken"].(string)
	if tok == "" {
		h.t.Fatalf("token: no userToken in %s", r.body)
	}
	return tok
}

const concertBody = `{"title":"Winter Gala","description":"strings","queue":{"admitPerSecond":100,"maxActive":1000},
	"schedules":[{"concertDate":"2026-12-24","seatCount":50,"price":50000}]}`

func (h *harness) fixture() fixture {
	h.t.Helper()
	c, s := h.concert(concertBody)
	u := h.user("kim")
	return fixture{concertID: c, scheduleID: s[0], userID: u, token: h.enter(u, c)}
}

// waitActive polls the status endpoint until the token is admitted. Admission is
// a token bucket on the engine's clock, so the simulated clock has to move for the
// running engine to admit anyone.
func (h *harness) waitActive(token string) map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.clk.Advance(100 * time.Millisecond)
		m := h.mustStatus(200, "GET", "/api/queue/status", "", bearer(token)...)
		if m["status"] == "ACTIVE" {
			return m
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("token never became ACTIVE: %v", m)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
