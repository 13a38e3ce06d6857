package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/concertd/concertd/client"
	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/store/memstore"
	"github.com/concertd/concertd/store/redisstore"
	"github.com/concertd/concertd/store/storetest"
)

const testAdminKey = "admin-secret"

// testSecret signs the harness's user keys and tokens.
var testSecret = []byte("api-test-token-secret-0123456789abcdef")

// t0 is the simulated clock's start; every test concert plays after it.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// harness is one real engine (in-memory ledger, miniredis) behind the real
// fasthttp server on an in-memory listener, so tests cross the same code a client
// does: server limits, error handler, router, middleware, handlers.
type harness struct {
	t    testing.TB
	mr   *miniredis.Miniredis
	clk  *clock.Simulated
	e    *engine.Engine
	srv  *Server
	api  *client.Client
	dial func() (net.Conn, error)
	keys *sync.Map // userID -> the user key POST /api/users answered (shared by copies)
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
	return startHarnessWith(t, lim, limits, nil)
}

// startHarnessWith is startHarness with its Options changed by opt first.
func startHarnessWith(t testing.TB, lim Limiter, limits *RateLimits, opt func(*Options)) (*harness, *fasthttputil.InmemoryListener) {
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
		Secret:        testSecret,
		AdmitInterval: 5 * time.Millisecond,
		SweepInterval: 20 * time.Millisecond,
	}, clk, testStores(ledger, shared, shared))
	if opt != nil {
		opt(&opts)
	}
	srv := New(e, opts)

	ln := fasthttputil.NewInmemoryListener()
	serve(t, srv.HTTPServer(), ln)
	return &harness{t: t, mr: mr, clk: clk, e: e, srv: srv, api: apiOver(ln.Dial, 0), dial: ln.Dial, keys: &sync.Map{}}, ln
}

// apiOver is the client/ package over connections from dial, at most maxConns at
// once (0: no limit). It asks for no compression unless a test does.
func apiOver(dial func() (net.Conn, error), maxConns int) *client.Client {
	tr := &http.Transport{
		DialContext:        func(context.Context, string, string) (net.Conn, error) { return dial() },
		DisableCompression: true,
		MaxConnsPerHost:    maxConns,
	}
	return client.New("http://concertd.test", client.WithHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second}))
}

// testStores puts an in-memory ledger and a Redis store in the engine's roles,
// the queue role taken by q.
func testStores(l *memstore.Store, s *redisstore.Store, q engine.Queue) engine.Stores {
	st := s.Roles(l)
	st.Queue = q
	return st
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
	req := &client.Request{Method: method, Path: path, Header: http.Header{}, KeepEncoding: true}
	if body != "" {
		req.Body = []byte(body)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	a, err := h.api.Send(context.Background(), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	r := response{status: a.Status, body: a.Body, headers: map[string]string{}}
	for k := range a.Header {
		r.headers[strings.ToLower(k)] = a.Header.Get(k)
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

// user creates a user and keeps its key for enter and key.
func (h *harness) user(name string) int64 {
	h.t.Helper()
	m := h.mustStatus(201, "POST", "/api/users", `{"name":"`+name+`","email":"`+name+`@example.com"}`)
	id := number(h.t, m, "userId")
	key, _ := m["userKey"].(string)
	if key == "" {
		h.t.Fatalf("POST /api/users: no userKey in %v", m)
	}
	h.keys.Store(id, key)
	return id
}

// key is the user key the harness was given for userID (a key the engine signs
// for an id the harness did not create through the API, as a user created by a
// store directly would have).
func (h *harness) key(userID int64) string {
	if k, ok := h.keys.Load(userID); ok {
		return k.(string)
	}
	return h.e.UserKey(userID)
}

// enter enters userID into a concert's line with the user's key as Bearer.
func (h *harness) enter(userID, concertID int64) string {
	h.t.Helper()
	body := `{"concertId":` + itoa(concertID) + `}`
	r := h.do("POST", "/api/users/token", body, bearer(h.key(userID))...)
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

// admitted is the fixture with the engine running and the fixture's token ACTIVE.
func (h *harness) admitted() fixture {
	h.t.Helper()
	f := h.fixture()
	h.runEngine()
	h.waitActive(f.token)
	return f
}

// buyer is the admitted fixture with amount charged to its balance, and its
// token as the Authorization header.
func (h *harness) buyer(amount int64) (fixture, []string) {
	h.t.Helper()
	f := h.admitted()
	tok := bearer(f.token)
	h.mustStatus(200, "POST", "/api/users/balance/charge", `{"amount":`+itoa(amount)+`}`, tok...)
	return f, tok
}

// scrape reads GET /metrics, which must answer 200 in Prometheus's text format.
func (h *harness) scrape() string {
	h.t.Helper()
	r := h.do("GET", "/metrics", "")
	if r.status != 200 || !strings.HasPrefix(r.headers["content-type"], "text/plain") {
		h.t.Fatalf("metrics: %d %v %s", r.status, r.headers, r.body)
	}
	return string(r.body)
}

// lacking is what of wants the scraped body does not contain.
func lacking(body string, wants []string) []string {
	var out []string
	for _, w := range wants {
		if !strings.Contains(body, w) {
			out = append(out, w)
		}
	}
	return out
}

// mustScrape fails the test unless one scrape contains every one of wants; why,
// when not "", says in the failure what they stand for.
func (h *harness) mustScrape(why string, wants ...string) {
	h.t.Helper()
	body := h.scrape()
	if lack := lacking(body, wants); len(lack) > 0 {
		h.t.Fatalf("metrics lack %q%s:\n%s", lack, why, body)
	}
}

// waitScrape scrapes until one scrape contains every one of wants, for 5 s at
// most.
func (h *harness) waitScrape(wants ...string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := h.scrape()
		lack := lacking(body, wants)
		if len(lack) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("metrics never showed %q:\n%s", lack, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
