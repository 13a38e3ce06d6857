package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"

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
// lenient about the rest of the body: one that is not JSON, or not an object, just
// has no token (401), and the endpoint's own decoder judges the body (400) once
// the caller is known. A userToken that is there but not a string (nor null) is
// malformed input, though, and is 400: it is a credential sent wrong, not one
// left out. Telling the two apart costs nothing on the common path, since it
// looks only at the error of a decode that already failed.
func legacyToken(body []byte) (string, error) {
	if len(body) == 0 {
		return "", nil
	}
	var w struct {
		UserToken string `json:"userToken"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		// A syntax error comes before any type error: json.Unmarshal checks the
		// whole body is JSON before it decodes any of it.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "userToken" {
			return "", jsonError(err)
		}
		return "", nil
	}
	return w.UserToken, nil
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
