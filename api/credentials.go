package api

import (
	"bytes"
	"context"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// IdentityTokens turns a site identity token (a JWT from the operator's own login) into the concertd user it names, creating that user on first sight.
type IdentityTokens interface {
	UserFor(ctx context.Context, raw string) (int64, error)
}

// credential says which credentials an endpoint takes in Authorization: Bearer
// (API.md "Identity"). A user key and an identity token prove a user; a user
// token proves a user too, where the endpoint takes one.
type credential int

const (
	// keyOrIdentity: a user key or an identity token (entering a waiting room).
	keyOrIdentity credential = iota
	// anyCredential: a user key, an identity token or a user token (the balance endpoints).
	anyCredential
)

// verifiedUser is the request's user-value key for the user a credential was
// already found to prove in this request (by the per-user rate limit), so the
// handler behind it does not check it a second time.
type verifiedUser struct{}

// callerAnswer is what checking the request's credential gave, kept under
// verifiedUser: a refused credential is not checked twice either.
type callerAnswer struct {
	id  int64
	err error
}

// caller returns the user the request's credential proves. The credential is
// told apart by its form: a user key ("uk1."), a user token ("v1.") where the
// endpoint takes one, and anything else is an identity token when the operator
// configured them; otherwise it is TOKEN_INVALID.
func (s *Server) caller(ctx context.Context, rc *fasthttp.RequestCtx, kind credential) (int64, error) {
	if a, ok := rc.UserValue(verifiedUser{}).(*callerAnswer); ok {
		return a.id, a.err
	}
	raw, err := s.bearer(rc, kind == anyCredential)
	if err != nil {
		return 0, err
	}
	id, err := s.userFor(ctx, raw, kind)
	rc.SetUserValue(verifiedUser{}, &callerAnswer{id, err})
	return id, err
}

func (s *Server) userFor(ctx context.Context, raw string, kind credential) (int64, error) {
	switch {
	case raw == "":
		return 0, engine.ErrTokenMissing
	case engine.IsUserKey(raw):
		return s.e.CheckUserKey(ctx, raw)
	case strings.HasPrefix(raw, "v1."):
		if kind != anyCredential {
			return 0, engine.Errorf(engine.CodeTokenInvalid, "this endpoint takes a user key or an identity token, not a user token")
		}
		t, err := s.e.Authenticate(raw)
		return t.UserID, err
	case s.identity != nil:
		id, err := s.identity.UserFor(ctx, raw)
		if err == nil && id <= 0 {
			return 0, engine.ErrTokenInvalid // an IdentityTokens bug must not enter user 0
		}
		return id, err
	}
	return 0, engine.Errorf(engine.CodeTokenInvalid, "credential is not a user key")
}

// bearer reads the credential of Authorization: Bearer; when the header is absent
// and legacy is set, the "userToken" field older clients send in the body (a
// userToken that is not a string is BAD_REQUEST). An empty answer with no error
// means no credential was sent.
func (s *Server) bearer(rc *fasthttp.RequestCtx, legacy bool) (string, error) {
	h := bytes.TrimSpace(rc.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if len(h) == 0 {
		if legacy {
			return legacyToken(rc.Request.Body())
		}
		return "", nil
	}
	if len(h) < len(bearerPrefix) || !bytes.EqualFold(h[:len(bearerPrefix)], bearerPrefix) {
		if bytes.EqualFold(h, bearerPrefix[:len(bearerPrefix)-1]) {
			return "", engine.ErrTokenMissing // "Bearer" with nothing after it
		}
		return "", engine.Errorf(engine.CodeTokenInvalid, "Authorization must be \"Bearer <credential>\"")
	}
	return string(bytes.TrimSpace(h[len(bearerPrefix):])), nil
}

// enteringUser is the user a POST /api/users/token enters: the credential's. A
// userId in the body (older clients send one) must be that user. With
// USER_AUTH=none a request with no credential enters the body's userId, the old
// behaviour for a trusted network.
func (s *Server) enteringUser(ctx context.Context, rc *fasthttp.RequestCtx, bodyUser int64) (int64, error) {
	if s.userAuthNone && len(rc.Request.Header.Peek(fasthttp.HeaderAuthorization)) == 0 {
		if bodyUser <= 0 {
			return 0, engine.Errorf(engine.CodeBadRequest, "userId is required (USER_AUTH=none)")
		}
		return bodyUser, nil
	}
	id, err := s.caller(ctx, rc, keyOrIdentity)
	if err != nil {
		return 0, err
	}
	if bodyUser != 0 && bodyUser != id {
		return 0, engine.Errorf(engine.CodeTokenInvalid, "userId is not the user the credential proves")
	}
	return id, nil
}
