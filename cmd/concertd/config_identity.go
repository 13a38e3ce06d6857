package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/concertd/concertd/api"
	"github.com/concertd/concertd/engine/identity"
)

// maxJWKSFile bounds IDENTITY_JWKS_FILE: a key set of a few dozen keys is a few
// tens of kilobytes.
const maxJWKSFile = 1 << 20

// identityFromEnv reads IDENTITY_JWT_SECRET, IDENTITY_JWKS_FILE,
// IDENTITY_JWT_ISSUER and IDENTITY_JWT_AUDIENCE (API.md "Identity") into a
// verifier, or nil when neither key is set. A secret that is too short, or a
// key set that cannot be read or holds a key concertd will not trust, is an
// error naming the variable: better no start than a login nobody can use or
// anybody can forge.
func identityFromEnv(getenv func(string) string) (*identity.Verifier, error) {
	secret, file := getenv("IDENTITY_JWT_SECRET"), getenv("IDENTITY_JWKS_FILE")
	iss, aud := getenv("IDENTITY_JWT_ISSUER"), getenv("IDENTITY_JWT_AUDIENCE")
	if secret == "" && file == "" {
		if iss != "" || aud != "" {
			return nil, errors.New("IDENTITY_JWT_ISSUER and IDENTITY_JWT_AUDIENCE need IDENTITY_JWT_SECRET or IDENTITY_JWKS_FILE")
		}
		return nil, nil
	}
	if secret != "" && len(secret) < identity.MinSecretLength {
		// The value is a secret: the message gives its length only.
		return nil, fmt.Errorf("IDENTITY_JWT_SECRET is %d bytes; at least %d are needed", len(secret), identity.MinSecretLength)
	}
	c := identity.Config{Secret: []byte(secret), Issuer: iss, Audience: aud}
	if file != "" {
		data, err := readSmallFile(file, maxJWKSFile)
		if err != nil {
			return nil, fmt.Errorf("IDENTITY_JWKS_FILE=%q: %v", file, err)
		}
		c.JWKS = data
	}
	v, err := identity.New(c)
	if err != nil {
		// With the secret checked above, what is left is the key set's.
		return nil, fmt.Errorf("IDENTITY_JWKS_FILE=%q: %v", file, err)
	}
	return v, nil
}

// trustedProxiesFromEnv reads TRUSTED_PROXIES.
func trustedProxiesFromEnv(getenv func(string) string) ([]netip.Prefix, error) {
	p, err := api.ParseTrustedProxies(getenv("TRUSTED_PROXIES"))
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES=%q: %v", getenv("TRUSTED_PROXIES"), err)
	}
	return p, nil
}

func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err // the path is in the message already
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}
