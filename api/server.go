// Package api is concertd's HTTP front: it decodes requests, authenticates them,
// calls the engine and maps its answers and errors onto the contract (docs/API.md). It lives
// apart from engine so the domain never sees an HTTP type, and so the whole wire
// contract (routes, status codes, field names) is in one folder.
package api

import (
	"context"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// Options configure a Server.
type Options struct {
	// AdminKey opens the operator endpoints; empty keeps them shut for everyone.
	AdminKey string
	Log      zerolog.Logger
	// RequestTimeout bounds the engine work of one request; default 5s.
	RequestTimeout time.Duration
	// Limiter enforces RateLimits (see ratelimit.go); nil turns rate limiting off.
	Limiter    Limiter
	RateLimits RateLimits
	// Identity checks identity tokens from the site's own login (see
	// credentials.go); nil: not configured, only user keys and tokens prove a user.
	Identity IdentityTokens
	// UserAuthNone lets a bare userId in the body enter a waiting room
	// (USER_AUTH=none): the old behaviour, for a trusted network only.
	UserAuthNone bool
	// OutboxLag reports the age of the oldest unrelayed payment event, for /metrics;
	// nil when the ledger has no outbox (embedded mode).
	OutboxLag func(context.Context) (time.Duration, error)
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES; see clientaddr.go); empty: the peer is the client.
	TrustedProxies []netip.Prefix
}

// maxBody is the contract's request body limit. The fasthttp server accepts up to
// serverBodyLimit so that a body just over maxBody still reaches our own check and
// gets the contract's JSON answer instead of a dropped connection.
const (
	maxBody         = 64 << 10
	serverBodyLimit = 1 << 20
)

// Server answers the HTTP contract for one engine.
type Server struct {
	e   *engine.Engine
	log zerolog.Logger
	// outageLog is sampled: when Redis is down every request fails the same way,
	// and a line per request would bury everything else.
	outageLog zerolog.Logger
	deadlines deadlines
	adminKey  [32]byte // SHA-256 of the key; see auth.go
	hasAdmin  bool

	router   *router.Router
	handler  fasthttp.RequestHandler
	metrics  *metrics
	unrouted *routeStats
	seatMaps seatMapBodies
	limiter  Limiter
	limits   RateLimits

	identity     IdentityTokens
	userAuthNone bool
	proxies      trustedProxies
}

// New returns a Server over e.
func New(e *engine.Engine, o Options) *Server {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	s := &Server{
		e:         e,
		log:       o.Log,
		outageLog: o.Log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Second}),
		deadlines: deadlines{timeout: o.RequestTimeout},
		metrics:   newMetrics(e, o.OutboxLag),
		limiter:   o.Limiter,
		limits:    o.RateLimits,

		identity:     o.Identity,
		userAuthNone: o.UserAuthNone,
		proxies:      o.TrustedProxies,
	}
	s.setAdminKey(o.AdminKey)
	s.unrouted = s.metrics.route("", "unmatched")
	s.routes()
	s.handler = s.recoverer(s.router.Handler)
	return s
}

// Handler returns the request handler for the whole contract.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handler }

// HTTPServer returns a fasthttp server ready to Serve or ListenAndServe.
func (s *Server) HTTPServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:            s.handler,
		ErrorHandler:       s.serverError,
		Name:               "concertd",
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        60 * time.Second,
		MaxRequestBodySize: serverBodyLimit,
		Logger:             connLogger{s.log},
		// No endpoint takes a form; parsing multipart bodies would be wasted work.
		DisablePreParseMultipartForm: true,
	}
}

// connLogger sends fasthttp's connection-level messages (a client that sent
// garbage or went away) to our logger at debug level: they are the client's fault,
// and at info level a misbehaving client could flood the log.
type connLogger struct{ log zerolog.Logger }

func (l connLogger) Printf(format string, args ...any) { l.log.Debug().Msgf(format, args...) }

// serverError answers requests fasthttp could not read, before any route ran.
//
// A connection that sent nothing before the read timeout gets no answer but a
// close: a browser's preconnect or a client pool's spare connection is not a
// bad request, and an answer nobody asked for waits on that connection until
// the client sends a request there (Go's client logs it as an unsolicited
// response). fasthttp hands over that one case as the bare *net.OpError; a
// timeout partway through a request comes wrapped, and is answered.
func (s *Server) serverError(rc *fasthttp.RequestCtx, err error) {
	if op, ok := err.(*net.OpError); ok && op.Timeout() && len(rc.Request.Header.RawHeaders()) == 0 {
		// fasthttp still writes its (empty) response; onto a closed connection
		// that write fails, and it then closes the connection as after any error.
		_ = rc.Conn().Close()
		return
	}
	if isBodyTooLarge(err) {
		s.writeError(rc, errBodyTooLarge)
	} else {
		s.writeError(rc, engine.Errorf(engine.CodeBadRequest, "the request could not be read"))
	}
	s.unrouted.count(rc.Response.StatusCode())
}

// handlerFunc is an endpoint: it writes its success answer itself and returns any
// failure for the one place that maps errors to statuses.
type handlerFunc func(ctx context.Context, rc *fasthttp.RequestCtx) error

// handle registers an endpoint with what every endpoint needs: a deadline of its
// own (fasthttp's RequestCtx has none, and is recycled once we return), the body
// limit, panic recovery and the request counter.
//
// A GET endpoint answers HEAD too, as HTTP requires of every resource served by
// GET (RFC 9110, 9.1), and as load balancers' and uptime monitors' checks expect.
// HEAD runs the GET endpoint, its rate limit included, so a HEAD poll is a poll;
// fasthttp sends the headers and drops the body. Metrics count it with the GET:
// a series of its own per route would double /metrics for a few health checks.
func (s *Server) handle(method, path string, h handlerFunc) {
	rs := s.metrics.route(method, path)
	h = s.rateLimited(method, path, h)
	s.register(method, path, h, rs)
	if method == fasthttp.MethodGet {
		s.register(fasthttp.MethodHead, path, h, rs)
	}
}

func (s *Server) register(method, path string, h handlerFunc, rs *routeStats) {
	s.router.Handle(method, path, func(rc *fasthttp.RequestCtx) {
		defer s.finish(rc, rs)
		if len(rc.Request.Body()) > maxBody {
			s.writeError(rc, errBodyTooLarge)
			return
		}
		if err := h(s.deadlines.context(), rc); err != nil {
			s.writeError(rc, err)
		}
	})
}

// finish runs deferred after every endpoint: a panic becomes a 500 INTERNAL answer
// and the request is counted with the status it really got.
func (s *Server) finish(rc *fasthttp.RequestCtx, rs *routeStats) {
	if v := recover(); v != nil {
		s.panicked(rc, v)
	}
	rs.observe(rc)
}

// recoverer catches panics outside any endpoint (the router, the 404/405 answers).
func (s *Server) recoverer(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		defer func() {
			if v := recover(); v != nil {
				s.panicked(rc, v)
			}
		}()
		next(rc)
	}
}

func (s *Server) panicked(rc *fasthttp.RequestCtx, v any) {
	s.log.Error().
		Str("method", string(rc.Method())).
		Str("path", string(rc.Path())).
		Interface("panic", v).
		Bytes("stack", debug.Stack()).
		Msg("handler panicked")
	// Whatever the handler had written is unreliable now.
	rc.Response.Reset()
	s.writeError(rc, errInternal)
}

func (s *Server) routes() {
	r := router.New()
	// Redirects would answer unknown paths with a 301 and an HTML body; the
	// contract wants a JSON 404 there.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.HandleMethodNotAllowed = true
	r.NotFound = func(rc *fasthttp.RequestCtx) {
		s.writeError(rc, engine.Errorf(engine.CodeNotFound, "no such route"))
		s.unrouted.count(rc.Response.StatusCode())
	}
	r.MethodNotAllowed = func(rc *fasthttp.RequestCtx) {
		dropOptions(&rc.Response.Header)
		s.writeError(rc, engine.Errorf(engine.CodeMethodNotAllowed, "method %s is not allowed here", rc.Method()))
		s.unrouted.count(rc.Response.StatusCode())
	}
	s.router = r

	s.handle("POST", "/api/users", s.createUser)
	s.handle("POST", "/api/users/token", s.issueToken)
	s.handle("POST", "/api/users/key", s.rotateKey)
	s.handle("GET", "/api/queue/status", s.queueStatus)
	s.handle("GET", "/api/queue/challenge", s.challenge)

	s.handle("GET", "/api/concerts", s.concerts)
	s.handle("GET", "/api/concerts/schedules", s.schedules)
	s.handle("GET", "/api/concerts/schedules/{scheduleId}/seats", s.seatMap)

	s.handle("POST", "/api/reservations", s.hold)
	s.handle("POST", "/api/reservations/best", s.holdBest) // handlers_best.go
	s.handle("GET", "/api/reservations/{reservationId}", s.reservation)
	s.handle("DELETE", "/api/reservations/{reservationId}", s.cancel)

	s.handle("POST", "/api/users/balance/charge", s.charge)
	s.handle("GET", "/api/users/balance", s.balance)
	s.handle("POST", "/api/payments", s.countPayments(s.pay))

	s.handle("POST", "/api/admin/concerts", s.admin(s.createConcert))
	s.handle("PATCH", "/api/admin/concerts/{concertId}/queue", s.admin(s.patchQueue))
	s.handle("GET", "/api/admin/concerts/{concertId}/stats", s.admin(s.stats))
	s.handle("POST", "/api/admin/concerts/{concertId}/presale", s.admin(s.createPresale))

	s.handle("GET", "/healthz", s.healthz)
	s.handle("GET", "/readyz", s.readyz)
	s.handle("GET", "/metrics", s.serveMetrics)
	s.pageRoutes() // docs.go
}

// dropOptions takes OPTIONS out of a 405's Allow header. The router lists it on
// every path whether or not it answers it, and with HandleOPTIONS off concertd
// answers OPTIONS with 405 like any method it does not serve: Allow names only
// the methods that work.
func dropOptions(h *fasthttp.ResponseHeader) {
	allow := h.Peek(fasthttp.HeaderAllow)
	if len(allow) == 0 {
		return
	}
	kept := make([]string, 0, 4)
	for _, m := range strings.Split(string(allow), ",") {
		if m = strings.TrimSpace(m); m != "" && m != fasthttp.MethodOptions {
			kept = append(kept, m)
		}
	}
	h.Set(fasthttp.HeaderAllow, strings.Join(kept, ", "))
}
