package api

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/store/memstore"
	"github.com/concertd/concertd/store/redisstore"
	"github.com/concertd/concertd/store/storetest"
)

// fixedQueue answers every status read from memory, so a benchmark measures the
// HTTP layer and the engine's own work, not miniredis.
type fixedQueue struct {
	engine.Queue
	status engine.TokenStatus
}

func (q fixedQueue) Status(context.Context, engine.Token, time.Time, time.Duration) (engine.TokenStatus, error) {
	return q.status, nil
}

// statusServer returns a Server with opts and a waiting token; fixed selects fixedQueue.
func statusServer(b *testing.B, fixed bool, opts Options) (*Server, string) {
	_, rdb := storetest.Miniredis(b)
	ledger := memstore.New()
	shared := redisstore.New(rdb, storetest.RandomName("b"), ledger)
	var q engine.Queue = shared
	if fixed {
		q = fixedQueue{Queue: shared, status: engine.TokenStatus{State: engine.TokenWaiting, Rank: 1203}}
	}
	e := engine.New(engine.Config{Secret: []byte("k")}, clock.NewSimulated(t0), testStores(ledger, shared, q))
	ctx := context.Background()
	c, _, err := e.CreateConcert(ctx, engine.NewConcert{Title: "b", Schedules: []engine.NewSchedule{{Date: "2026-12-24", SeatCount: 10, Price: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	u, err := e.CreateUser(ctx, "b", "b@example.com", "")
	if err != nil {
		b.Fatal(err)
	}
	g, err := e.IssueToken(ctx, u, c.ID)
	if err != nil {
		b.Fatal(err)
	}
	opts.Log = zerolog.Nop()
	return New(e, opts), g.Token
}

// bareHandler is the yardstick: fasthttp answering a constant status poll.
func bareHandler(rc *fasthttp.RequestCtx) {
	rc.SetStatusCode(200)
	rc.SetContentType(contentTypeJSON)
	rc.SetBodyString(`{"concertId":1,"status":"WAITING","position":1204,"estimatedWaitSeconds":13,"pollAfterSeconds":3}`)
}

// BenchmarkQueueStatusHandler calls the handler directly, without a connection:
// the cost our code adds per poll.
func BenchmarkQueueStatusHandler(b *testing.B) {
	run := func(b *testing.B, h fasthttp.RequestHandler, token string) {
		var req fasthttp.Request
		req.SetRequestURI("/api/queue/status")
		req.Header.SetMethod("GET")
		req.Header.Set("Authorization", "Bearer "+token)
		var rc fasthttp.RequestCtx
		rc.Init(&req, nil, nil)
		b.ReportAllocs()
		for b.Loop() {
			rc.Response.Reset()
			rc.ResetUserValues() // as fasthttp does after every request
			h(&rc)
		}
		if rc.Response.StatusCode() != 200 {
			b.Fatalf("status %d: %s", rc.Response.StatusCode(), rc.Response.Body())
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, bareHandler, "x") })
	b.Run("fixed-queue", func(b *testing.B) {
		s, tok := statusServer(b, true, Options{})
		run(b, s.Handler(), tok)
	})
	// The production default: the per-token poll limit in front, with a limiter
	// that always allows, so only what the limit adds in concertd is measured.
	b.Run("fixed-queue-rate-limited", func(b *testing.B) {
		s, tok := statusServer(b, true, Options{Limiter: &fakeLimiter{ok: true}, RateLimits: DefaultRateLimits()})
		run(b, s.Handler(), tok)
	})
	b.Run("miniredis", func(b *testing.B) {
		s, tok := statusServer(b, false, Options{})
		run(b, s.Handler(), tok)
	})
}

// BenchmarkQueueStatusServer polls through a fasthttp server and client on an
// in-memory listener, in parallel: the ratio of "api" to "bare" is the one the
// hot-path goal (>= 0.7) is about.
func BenchmarkQueueStatusServer(b *testing.B) {
	run := func(b *testing.B, h fasthttp.RequestHandler, token string) {
		ln := fasthttputil.NewInmemoryListener()
		srv := &fasthttp.Server{Handler: h}
		go func() { _ = srv.Serve(ln) }()
		defer func() { _ = srv.Shutdown(); _ = ln.Close() }()
		client := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://concertd.test/api/queue/status")
			req.Header.Set("Authorization", "Bearer "+token)
			for pb.Next() {
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Errorf("poll: %v %d", err, resp.StatusCode())
					return
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) { run(b, bareHandler, "x") })
	b.Run("api", func(b *testing.B) {
		s, tok := statusServer(b, true, Options{})
		run(b, s.Handler(), tok)
	})
}
