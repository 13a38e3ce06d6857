// Package identity checks identity tokens: JWTs that the operator's own login
// issues, so that a ticketing site which already has accounts can put concertd
// behind it (../shared/API.md "Identity"). It exists so that what is trusted —
// which algorithms, which keys, which issuer and audience, how much clock skew —
// is decided in one small place with no HTTP in it, tested with hostile tokens
// and fuzzed on its own. Turning a verified subject into a concertd user is the
// engine's (Engine.ExternalUser); Tokens joins the two for the api.
//
// Parsing and signature checks are github.com/golang-jwt/jwt/v5's. What this
// package adds is the policy: only the algorithms whose keys are configured,
// each key verifying only its own algorithm (so an RS256 key can never serve as
// an HMAC secret, and "none" is never accepted), exp required, iss and aud when
// configured, and one error of the contract for each way a token fails.
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/concertd/concertd/engine"
)

const (
	// MinSecretLength is the shortest HS256 secret accepted, in bytes: the
	// contract's minimum for TOKEN_SECRET, and 256 bits as RFC 7518 (3.2) asks.
	MinSecretLength = 32
	// DefaultLeeway is the clock skew allowed on exp and nbf: small against a
	// token's life of minutes, large enough for two clocks kept by NTP.
	DefaultLeeway = 30 * time.Second
	// maxTokenLength bounds what is parsed at all; real identity tokens are a
	// few hundred bytes to a couple of kilobytes.
	maxTokenLength = 8 << 10
)

// Config says which identity tokens to trust. At least one of Secret and JWKS
// must be set.
type Config struct {
	// Secret is the HS256 key (IDENTITY_JWT_SECRET), at least MinSecretLength
	// bytes; empty: HS256 tokens are refused.
	Secret []byte
	// JWKS is a JSON Web Key Set (the contents of IDENTITY_JWKS_FILE) of public
	// keys: RSA for RS256, EC P-256 for ES256, OKP Ed25519 for EdDSA. Empty:
	// those algorithms are refused.
	JWKS []byte
	// Issuer and Audience, when set, must be the token's iss and one of its aud.
	Issuer   string
	Audience string
	// Leeway is the clock skew allowed on exp and nbf; 0 means DefaultLeeway,
	// below 0 none.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks identity tokens. It is safe for concurrent use.
type Verifier struct {
	parser *jwt.Parser
	secret []byte
	byKid  map[string]publicKey
	byAlg  map[string][]any // keys of each algorithm, for tokens without a kid
	algs   []string
}

// New builds a Verifier, or says in one line what is wrong with c.
func New(c Config) (*Verifier, error) {
	if len(c.Secret) == 0 && len(c.JWKS) == 0 {
		return nil, errors.New("no key: set an HS256 secret or a JSON Web Key Set")
	}
	v := &Verifier{byKid: map[string]publicKey{}, byAlg: map[string][]any{}}
	if len(c.Secret) > 0 {
		if len(c.Secret) < MinSecretLength {
			return nil, fmt.Errorf("the HS256 secret is %d bytes; at least %d are needed", len(c.Secret), MinSecretLength)
		}
		v.secret = c.Secret
		v.algs = append(v.algs, jwt.SigningMethodHS256.Alg())
	}
	if len(c.JWKS) > 0 {
		keys, err := parseKeySet(c.JWKS)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if len(v.byAlg[k.alg]) == 0 {
				v.algs = append(v.algs, k.alg)
			}
			v.byAlg[k.alg] = append(v.byAlg[k.alg], k.key)
			if k.kid != "" {
				v.byKid[k.kid] = k
			}
		}
	}
	sort.Strings(v.algs)
	leeway := c.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs),
		jwt.WithLeeway(max(leeway, 0)),
		jwt.WithExpirationRequired(),
		// One encoding per token: a token altered in its unused base64 bits is
		// not the token that was signed.
		jwt.WithStrictDecoding(),
	}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		opts = append(opts, jwt.WithAudience(c.Audience))
	}
	if c.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(c.Now))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Algorithms lists the algorithms this Verifier accepts.
func (v *Verifier) Algorithms() []string { return append([]string(nil), v.algs...) }

// claims are the members of an identity token concertd reads.
type claims struct {
	jwt.RegisteredClaims
	Name  looseString `json:"name"`
	Email looseString `json:"email"`
}

// looseString is a profile claim: a string, or nothing when the site sends
// something else there, since a display name of an odd type must not make a
// sign-in fail.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	str, _ := v.(string)
	*s = looseString(str)
	return nil
}

// Verify checks raw and returns who it names. Errors are TOKEN_EXPIRED for a
// token past its exp (and the leeway), TOKEN_INVALID for anything else.
func (v *Verifier) Verify(raw string) (engine.ExternalIdentity, error) {
	if raw == "" || len(raw) > maxTokenLength {
		return engine.ExternalIdentity{}, engine.Errorf(engine.CodeTokenInvalid, "identity token is empty or longer than %d bytes", maxTokenLength)
	}
	var c claims
	if _, err := v.parser.ParseWithClaims(raw, &c, v.key); err != nil {
		return engine.ExternalIdentity{}, refusal(err)
	}
	if c.Subject == "" {
		return engine.ExternalIdentity{}, engine.Errorf(engine.CodeTokenInvalid, "identity token has no sub")
	}
	return engine.ExternalIdentity{Subject: c.Subject, Name: string(c.Name), Email: string(c.Email)}, nil
}

var (
	errUnknownKid = errors.New("no configured key has this kid")
	errKidAlg     = errors.New("the key of this kid verifies another algorithm")
	errNoKey      = errors.New("no configured key for this algorithm")
)

// key is the jwt.Keyfunc. The parser has already refused any algorithm not in
// v.algs. An HMAC token is checked with the secret and nothing else, whatever
// its kid says; a public-key token with a kid gets that key only if the key is
// of the token's algorithm, and one without a kid is tried against every key of
// its algorithm.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == jwt.SigningMethodHS256.Alg() {
		return v.secret, nil
	}
	if kid, ok := t.Header["kid"]; ok {
		s, _ := kid.(string)
		k, found := v.byKid[s]
		switch {
		case !found:
			return nil, errUnknownKid
		case k.alg != alg:
			return nil, errKidAlg
		}
		return k.key, nil
	}
	keys := v.byAlg[alg]
	switch len(keys) {
	case 0:
		return nil, errNoKey
	case 1:
		return keys[0], nil
	}
	set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k
	}
	return set, nil
}

// refusal maps a parse failure onto the contract's codes, with a message that
// helps an operator wire their login up and tells a forger nothing new.
func refusal(err error) error {
	msg := "identity token is not valid"
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return engine.Errorf(engine.CodeTokenExpired, "identity token has expired")
	case errors.Is(err, jwt.ErrTokenMalformed):
		msg = "identity token is not a well-formed JWT"
	case errors.Is(err, errUnknownKid):
		msg = "identity token's kid names no configured key"
	case errors.Is(err, errKidAlg):
		msg = "identity token's alg is not its key's"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		msg = "identity token's algorithm or signature is not accepted"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		msg = "identity token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		msg = "identity token lacks a required claim (exp, or the configured iss or aud)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		msg = "identity token's iss is not the configured issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "identity token's aud does not name the configured audience"
	}
	return engine.Errorf(engine.CodeTokenInvalid, "%s", msg)
}

// Users is the engine's side of Tokens: the user a verified subject names.
type Users interface {
	ExternalUser(ctx context.Context, u engine.ExternalIdentity) (int64, error)
}

// Tokens turns identity tokens into users: it is what the api's
// Options.Identity takes.
type Tokens struct {
	v     *Verifier
	users Users
}

// NewTokens joins a Verifier and the engine.
func NewTokens(v *Verifier, users Users) *Tokens { return &Tokens{v: v, users: users} }

// UserFor verifies raw and returns the concertd user its sub names, creating
// that user on first sight.
func (t *Tokens) UserFor(ctx context.Context, raw string) (int64, error) {
	id, err := t.v.Verify(raw)
	if err != nil {
		return 0, err
	}
	return t.users.ExternalUser(ctx, id)
}
