package api

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/concertd/concertd/engine"
)

// buildHarness is newHarness with rate limits (see startHarness for lim == nil).
func buildHarness(t *testing.T, lim Limiter, limits RateLimits) *harness {
	h, _ := startHarness(t, lim, &limits)
	return h
}

func buildHarnessListener(t *testing.T, lim Limiter, limits RateLimits) (*harness, *fasthttputil.InmemoryListener) {
	return startHarness(t, lim, &limits)
}

// fromAddress returns a copy of h whose connections come from ip.
func fromAddress(h *harness, ln *fasthttputil.InmemoryListener, ip string) *harness {
	c := *h
	c.api = apiOver(func() (net.Conn, error) {
		return ln.DialWithLocalAddr(&net.TCPAddr{IP: net.ParseIP(ip), Port: 40000})
	}, 0)
	return &c
}

// mustLimited checks the whole 429 answer: code, and a Retry-After of whole seconds.
func mustLimited(t *testing.T, r response, wantRetry string) {
	t.Helper()
	if r.status != 429 {
		t.Fatalf("status %d, want 429: %s", r.status, r.body)
	}
	if code := r.json(t)["code"]; code != "RATE_LIMITED" {
		t.Fatalf("code %v, want RATE_LIMITED", code)
	}
	if got := r.headers["retry-after"]; got != wantRetry {
		t.Fatalf("Retry-After %q, want %q", got, wantRetry)
	}
}

func TestRateLimitPollPerToken(t *testing.T) {
	h := buildHarness(t, nil, RateLimits{Poll: Limit{Rate: 2, Burst: 5}})
	f := h.fixture()
	other := h.enter(h.user("lee"), f.concertID)

	for range 5 {
		h.mustStatus(200, "GET", "/api/queue/status", "", bearer(f.token)...)
	}
	mustLimited(t, h.do("GET", "/api/queue/status", "", bearer(f.token)...), "1")
	// One bot's bucket is its own: the person behind it in line still polls.
	h.mustStatus(200, "GET", "/api/queue/status", "", bearer(other)...)

	// One interval later exactly one more poll fits.
	h.clk.Advance(500 * time.Millisecond)
	h.mustStatus(200, "GET", "/api/queue/status", "", bearer(f.token)...)
	mustLimited(t, h.do("GET", "/api/queue/status", "", bearer(f.token)...), "1")

	// A forged token never reaches the limiter (it cannot spend anyone's
	// allowance) and still gets its 401.
	for range 10 {
		h.mustStatus(401, "GET", "/api/queue/status", "", bearer("v1.1.1.1.1.AAAAAAAAAAAAAAAAAAAAAAAA")...)
	}
}

func TestRateLimitHoldPerToken(t *testing.T) {
	h := buildHarness(t, nil, RateLimits{Hold: Limit{Rate: 1, Burst: 2}})
	f := h.admitted()
	hold := func(seat string) response {
		return h.do("POST", "/api/reservations", `{"concertScheduleId":`+itoa(f.scheduleID)+`,"seatNumber":`+seat+`}`, bearer(f.token)...)
	}
	if r := hold("1"); r.status != 201 {
		t.Fatalf("hold 1: %d %s", r.status, r.body)
	}
	if r := hold("2"); r.status != 201 {
		t.Fatalf("hold 2: %d %s", r.status, r.body)
	}
	// The refused hold must not have taken the seat: a 429 changes nothing.
	mustLimited(t, hold("3"), "1")
	m := h.mustStatus(200, "GET", "/api/admin/concerts/"+itoa(f.concertID)+"/stats", "", admin()...)
	if number(t, m, "held") != 2 {
		t.Fatalf("held = %v after a refused hold, want 2", m["held"])
	}
	h.clk.Advance(time.Second)
	if r := hold("3"); r.status != 201 {
		t.Fatalf("hold 3 after a second: %d %s", r.status, r.body)
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	h, ln := buildHarnessListener(t, nil, RateLimits{IP: Limit{Rate: 1, Burst: 3}})
	a := fromAddress(h, ln, "203.0.113.7")
	b := fromAddress(h, ln, "203.0.113.8")

	for i := range 3 {
		a.mustStatus(201, "POST", "/api/users", `{"name":"a","email":"a`+itoa(int64(i))+`@example.com"}`)
	}
	mustLimited(t, a.do("POST", "/api/users", `{"name":"a","email":"a9@example.com"}`), "1")
	// Another address has its own allowance, and so does the token endpoint.
	b.mustStatus(201, "POST", "/api/users", `{"name":"b","email":"b@example.com"}`)
	c, _ := h.concert(concertBody)
	for range 3 {
		r := a.do("POST", "/api/users/token", `{"userId":1,"concertId":`+itoa(c)+`}`, bearer(h.key(1))...)
		if r.status != 201 && r.status != 200 {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
	}
	mustLimited(t, a.do("POST", "/api/users/token", `{"userId":1,"concertId":`+itoa(c)+`}`, bearer(h.key(1))...), "1")
	// The limit applies before the body is read, so garbage costs the same allowance.
	mustLimited(t, a.do("POST", "/api/users/token", `{`), "1")
}

// IPv6 clients are limited per /64: rotating through one's own prefix is free.
func TestClientAddress(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
	} {
		if got := clientAddress(net.ParseIP(tc.ip)); got != tc.want {
			t.Errorf("clientAddress(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}

// fakeLimiter answers every Allow the same way and counts calls.
type fakeLimiter struct {
	mu    sync.Mutex
	ok    bool
	retry time.Duration
	err   error
	calls int
}

func (f *fakeLimiter) Allow(context.Context, string, int, int) (bool, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.ok, f.retry, f.err
}

func TestRateLimitRetryAfterRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		retry time.Duration
		want  string
	}{
		{time.Microsecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Millisecond, "2"},
		{2500 * time.Millisecond, "3"},
	} {
		lim := &fakeLimiter{retry: tc.retry}
		h := buildHarness(t, lim, RateLimits{IP: Limit{Rate: 1, Burst: 1}})
		mustLimited(t, h.do("POST", "/api/users", `{"name":"a","email":"a@example.com"}`), tc.want)
	}
}

// TestRateLimitFailsOpen: with the limiter's Redis gone the request goes on to its
// own handler, so a Redis outage is the handler's 503, not a 429 or a 500.
func TestRateLimitFailsOpen(t *testing.T) {
	lim := &fakeLimiter{err: engine.Unavailable("redis", errors.New("connection refused"))}
	h := buildHarness(t, lim, DefaultRateLimits())
	h.mustStatus(201, "POST", "/api/users", `{"name":"a","email":"a@example.com"}`)
	if lim.calls != 1 {
		t.Fatalf("limiter called %d times, want 1", lim.calls)
	}
}

// TestRateLimitOff: the zero RateLimits and a nil Limiter both leave every
// endpoint unwrapped, which is what RATE_LIMIT=off relies on.
func TestRateLimitOff(t *testing.T) {
	lim := &fakeLimiter{}
	h := buildHarness(t, lim, RateLimits{})
	f := h.fixture()
	for range 20 {
		h.mustStatus(200, "GET", "/api/queue/status", "", bearer(f.token)...)
	}
	if lim.calls != 0 {
		t.Fatalf("limiter called %d times with every limit off", lim.calls)
	}
}

// TestRateLimitedHandlerReusesVerifiedToken: the per-token limit verifies the
// token, and the handler behind it gets that token without checking the HMAC a
// second time. The handler here sees a request whose Authorization header is
// gone, so only the verified token the limit kept can answer it.
func TestRateLimitedHandlerReusesVerifiedToken(t *testing.T) {
	lim := &fakeLimiter{ok: true}
	h := buildHarness(t, lim, DefaultRateLimits())
	f := h.fixture()
	want, err := h.e.Authenticate(f.token)
	if err != nil {
		t.Fatal(err)
	}
	var got engine.Token
	var gotErr error
	calls := lim.calls // the fixture's own requests were limited per address
	limited := h.srv.perToken("poll:", Limit{Rate: 2, Burst: 5}, func(_ context.Context, rc *fasthttp.RequestCtx) error {
		rc.Request.Header.Del(fasthttp.HeaderAuthorization)
		got, gotErr = h.srv.token(rc)
		return nil
	})
	var rc fasthttp.RequestCtx
	rc.Request.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+f.token)
	if err := limited(context.Background(), &rc); err != nil {
		t.Fatal(err)
	}
	if gotErr != nil || got != want || lim.calls-calls != 1 {
		t.Fatalf("handler got %+v, %v (limiter calls %d), want %+v", got, gotErr, lim.calls-calls, want)
	}
}

// TestVerifiedTokenDoesNotOutliveItsRequest: the token a rate limit verified is
// kept for that request only. On one keep-alive connection (as a reverse proxy
// pools them for many users), a request after a verified one is judged by its
// own Authorization header: missing or forged, it is refused.
func TestVerifiedTokenDoesNotOutliveItsRequest(t *testing.T) {
	h := buildHarness(t, &fakeLimiter{ok: true}, DefaultRateLimits())
	f := h.fixture()
	one := *h
	var dials atomic.Int64
	one.api = apiOver(func() (net.Conn, error) { dials.Add(1); return h.dial() }, 1)
	forged := f.token[:len(f.token)-2] + "AA"
	if forged == f.token {
		forged = f.token[:len(f.token)-2] + "BB"
	}
	one.mustStatus(200, "GET", "/api/queue/status", "", bearer(f.token)...)
	for _, tc := range []struct {
		headers []string
		code    string
	}{
		{nil, "TOKEN_MISSING"},
		{bearer(forged), "TOKEN_INVALID"},
	} {
		m := one.mustStatus(401, "GET", "/api/queue/status", "", tc.headers...)
		if m["code"] != tc.code {
			t.Fatalf("code %v, want %s", m["code"], tc.code)
		}
		one.mustStatus(200, "GET", "/api/queue/status", "", bearer(f.token)...)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d connections, want every request on one", n)
	}
}
