package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

var bearerPrefix = []byte("bearer ")

// verifiedToken is the request's user-value key for a token already verified in
// this request (by the per-token rate limit), so the handler behind it does not
// check the same HMAC a second time. fasthttp drops user values when the
// request ends, so nothing carries over to the connection's next request.
type verifiedToken struct{}

// token authenticates a request: the Authorization header when present, else the
// legacy "userToken" body field. The engine decides INVALID and EXPIRED.
func (s *Server) token(rc *fasthttp.RequestCtx) (engine.Token, error) {
	if t, ok := rc.UserValue(verifiedToken{}).(*engine.Token); ok {
		return *t, nil
	}
	raw, err := s.bearer(rc, true)
	if err != nil {
		return engine.Token{}, err
	}
	return s.e.Authenticate(raw)
}

// legacyToken reads the "userToken" field older clients send in the body. It is
// lenient on purpose: a body it cannot read just has no token (401), and the
// endpoint's own decoder judges the body (400) once the caller is known.
func legacyToken(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	var w struct {
		UserToken string `json:"userToken"`
	}
	if json.Unmarshal(body, &w) != nil {
		return ""
	}
	return w.UserToken
}

// setAdminKey keeps only a digest: comparing fixed-size digests in constant time
// also hides the key's length, which ConstantTimeCompare on the raw key would not.
func (s *Server) setAdminKey(key string) {
	s.hasAdmin = key != ""
	s.adminKey = sha256.Sum256([]byte(key))
}

// admin guards an operator endpoint with X-Admin-Key.
func (s *Server) admin(h handlerFunc) handlerFunc {
	return func(ctx context.Context, rc *fasthttp.RequestCtx) error {
		given := rc.Request.Header.Peek("X-Admin-Key")
		sum := sha256.Sum256(given)
		if !s.hasAdmin || len(given) == 0 || subtle.ConstantTimeCompare(sum[:], s.adminKey[:]) != 1 {
			return engine.ErrAdminOnly
		}
		return h(ctx, rc)
	}
}

// tokenAndID authenticates the request and reads a positive id from the path, in
// that order, so a bad token is 401 before a bad id is 400 on every endpoint.
func (s *Server) tokenAndID(rc *fasthttp.RequestCtx, param string) (engine.Token, int64, error) {
	t, err := s.token(rc)
	if err != nil {
		return engine.Token{}, 0, err
	}
	id, err := pathID(rc, param)
	if err != nil {
		return engine.Token{}, 0, err
	}
	return t, id, nil
}
