package api

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// Limiter decides whether one more request under key fits within rate requests per
// second with bursts of up to burst. It is the api's whole view of rate limiting,
// so a store (store/redisstore.Limiter) or a test fake can stand behind it.
type Limiter interface {
	Allow(ctx context.Context, key string, rate, burst int) (ok bool, retryAfter time.Duration, err error)
}

// Limit is a sustained rate per second and a burst; a Rate below 1 is no limit.
type Limit struct {
	Rate  int
	Burst int
}

// RateLimits are the per-client limits. The zero value limits nothing, which is
// what load tests want; DefaultRateLimits is what concertd serves with.
type RateLimits struct {
	// Poll bounds GET /api/queue/status per token (one user in one concert's line).
	Poll Limit
	// Hold bounds POST /api/reservations per token.
	Hold Limit
	// IP bounds POST /api/users and POST /api/users/token per client address,
	// each endpoint with its own allowance.
	IP Limit
	// User bounds every other endpoint that takes a token or key, per user and
	// endpoint (POST /api/users/token as well as IP).
	User Limit
}

// DefaultRateLimits are set at what a person with a browser does at most: a
// client polls every pollAfterSeconds and clicks a seat a few times a second. A
// bot that goes faster gains nothing but 429s. The per-address limit is looser
// because households and offices share an address.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Poll: Limit{Rate: 2, Burst: 5},
		Hold: Limit{Rate: 5, Burst: 10},
		IP:   Limit{Rate: 10, Burst: 20},
		// No person clicks one button ten times a second for two seconds; a
		// script hammering one endpoint meets it within a second.
		User: Limit{Rate: 10, Burst: 20},
	}
}

// rateLimited wraps the endpoints that have a limit; the rest pass through
// untouched, so an unlimited endpoint pays nothing. Every endpoint that takes a
// token or key is limited per user; those that take none, per address.
func (s *Server) rateLimited(method, path string, h handlerFunc) handlerFunc {
	if s.limiter == nil {
		return h
	}
	route := method + " " + path
	switch route {
	case "GET /api/queue/status":
		return s.perToken("poll:", s.limits.Poll, h)
	case "POST /api/reservations", "POST /api/reservations/best":
		// One allowance for both: a best-available hold is a hold.
		return s.perToken("hold:", s.limits.Hold, h)
	case "POST /api/users":
		return s.perAddress("user:", s.limits.IP, h)
	case "POST /api/users/token":
		return s.perAddress("enter:", s.limits.IP, s.perCaller("enter-user:", keyOrIdentity, h))
	case "POST /api/users/key":
		return s.perCaller("key:", keyOrIdentity, h)
	case "POST /api/users/balance/charge":
		return s.perCaller("charge:", anyCredential, h)
	case "GET /api/users/balance":
		return s.perCaller("balance:", anyCredential, h)
	case "GET /api/queue/challenge":
		return s.perAddress("challenge:", s.limits.IP, h)
	case "GET /api/concerts", "GET /api/concerts/schedules":
		return h // the catalog takes no credential
	}
	if !strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/api/admin/") {
		return h // service endpoints, pages, and operators (who hold the admin key)
	}
	// Every other endpoint under /api/ takes a user token.
	return s.perTokenUser(routeKey.Replace(route)+":", h)
}

// routeKey makes a route a rate-limit key prefix: no braces, which would make
// Redis Cluster hash every user's key of the route to one slot, and no spaces.
var routeKey = strings.NewReplacer("{", "", "}", "", " ", "")

// perCaller limits an endpoint that takes a user key (or an identity token, or a
// user token) by the user the credential proves. As with perToken only a
// credential that checks out counts; the handler answers any other with a 401.
func (s *Server) perCaller(prefix string, kind credential, h handlerFunc) handlerFunc {
	l := s.limits.User
	if l.Rate < 1 {
		return h
	}
	return func(ctx context.Context, rc *fasthttp.RequestCtx) error {
		id, err := s.caller(ctx, rc, kind)
		if err != nil {
			return h(ctx, rc)
		}
		if !s.allow(ctx, rc, prefix+strconv.FormatInt(id, 10), l) {
			return nil
		}
		return h(ctx, rc)
	}
}

// perTokenUser limits an endpoint that takes a user token by the token's user,
// whichever concert the token is for.
func (s *Server) perTokenUser(prefix string, h handlerFunc) handlerFunc {
	return s.perVerifiedToken(s.limits.User, func(t engine.Token) string {
		return prefix + strconv.FormatInt(t.UserID, 10)
	}, h)
}

// perToken limits by the verified token's user and concert.
func (s *Server) perToken(prefix string, l Limit, h handlerFunc) handlerFunc {
	return s.perVerifiedToken(l, func(t engine.Token) string {
		return prefix + strconv.FormatInt(t.ConcertID, 10) + ":" + strconv.FormatInt(t.UserID, 10)
	}, h)
}

// perVerifiedToken limits by a key of the request's verified token. Only a
// verified token counts: keying on an unverified one would let anyone spend a
// victim's allowance by forging a token with the victim's ids. A token that fails
// verification goes on to the handler, which answers the 401 (that costs an
// HMAC, not Redis). The token is kept for the handler, which does not verify it
// again.
func (s *Server) perVerifiedToken(l Limit, key func(engine.Token) string, h handlerFunc) handlerFunc {
	if l.Rate < 1 {
		return h
	}
	return func(ctx context.Context, rc *fasthttp.RequestCtx) error {
		t, err := s.token(rc)
		if err != nil {
			return h(ctx, rc)
		}
		rc.SetUserValue(verifiedToken{}, &t)
		if !s.allow(ctx, rc, key(t), l) {
			return nil
		}
		return h(ctx, rc)
	}
}

// perAddress limits by the client's address (clientaddr.go). X-Forwarded-For is
// believed only from TRUSTED_PROXIES: any client can write it, and a limit it
// can choose its key for is no limit.
func (s *Server) perAddress(prefix string, l Limit, h handlerFunc) handlerFunc {
	if l.Rate < 1 {
		return h
	}
	return func(ctx context.Context, rc *fasthttp.RequestCtx) error {
		if !s.allow(ctx, rc, prefix+clientAddress(s.clientIP(rc)), l) {
			return nil
		}
		return h(ctx, rc)
	}
}

// clientAddress is the unit one client controls: an IPv4 address, or an IPv6 /64,
// since one host is routinely handed a whole /64 and could rotate through it.
func clientAddress(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String()
}

// allow asks the limiter and, when refused, writes the 429 itself. A limiter that
// fails lets the request through: it only fails when Redis does, and then the
// request's own Redis call answers 503, which is the truthful answer.
func (s *Server) allow(ctx context.Context, rc *fasthttp.RequestCtx, key string, l Limit) bool {
	ok, retry, err := s.limiter.Allow(ctx, key, l.Rate, max(l.Burst, 1))
	if err != nil {
		s.outageLog.Warn().Err(err).Msg("rate limiter unavailable; letting requests through")
		return true
	}
	if ok {
		return true
	}
	writeErrorBody(rc, engine.CodeRateLimited, "too many requests; retry after the time in Retry-After")
	rc.Response.Header.Set("Retry-After", strconv.Itoa(retryAfterSeconds(retry)))
	return false
}

// retryAfterSeconds rounds up: a client that waits the whole seconds it is told
// must then get through, and Retry-After has no fractions.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
