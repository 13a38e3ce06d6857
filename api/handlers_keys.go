package api

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// userKeyJSON answers POST /api/users and POST /api/users/key.
type userKeyJSON struct {
	UserID  int64  `json:"userId"`
	UserKey string `json:"userKey"`
}

// rotateKey replaces the user key given as Bearer with a new one; the old one is
// refused on every instance within a second. Only the current key rotates itself:
// an identity token or a user token is not enough to take over a user's key.
func (s *Server) rotateKey(ctx context.Context, rc *fasthttp.RequestCtx) error {
	raw, err := s.bearer(rc, false)
	if err != nil {
		return err
	}
	if raw == "" {
		return engine.ErrTokenMissing
	}
	if !engine.IsUserKey(raw) {
		return engine.Errorf(engine.CodeTokenInvalid, "rotating a key takes the current user key")
	}
	id, key, err := s.e.RotateUserKey(ctx, raw)
	if err != nil {
		return err
	}
	return writeValue(rc, fasthttp.StatusOK, userKeyJSON{id, key})
}

// walletUser is the user of a balance endpoint, which takes a user key, an
// identity token or a user token in any state. The engine's wallet reads only the
// token's user.
func (s *Server) walletUser(ctx context.Context, rc *fasthttp.RequestCtx) (engine.Token, error) {
	id, err := s.caller(ctx, rc, anyCredential)
	if err != nil {
		return engine.Token{}, err
	}
	return engine.Token{UserID: id}, nil
}
