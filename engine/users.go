package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"strings"
)

const (
	maxEmail = 254
)

// CreateUser registers a user. Emails are unique, compared case-insensitively.
// idemKey may be empty; with one, a retry whose answer was lost gets the same user
// back rather than EMAIL_TAKEN.
func (e *Engine) CreateUser(ctx context.Context, name, email, idemKey string) (int64, error) {
	name = strings.TrimSpace(name)
	if err := nameText.check(name); err != nil {
		return 0, err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > maxEmail {
		return 0, Errorf(CodeBadRequest, "email is longer than %d characters", maxEmail)
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || a.Name != "" {
		return 0, Errorf(CodeBadRequest, "email is not a valid address")
	}
	// A digest, so the key's row does not keep a second copy of the address.
	sum := sha256.Sum256([]byte(name + "\x00" + email))
	idem := Idempotency{Key: idemKey, Fingerprint: "user:" + hex.EncodeToString(sum[:])}
	id, err := e.users.CreateUser(ctx, name, email, idem)
	if err != nil {
		return 0, err
	}
	e.knownUsers.set.add(id)
	return id, nil
}
