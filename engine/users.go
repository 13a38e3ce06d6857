package engine

import (
	"context"
	"net/mail"
	"strings"
)

const (
	maxName  = 100
	maxEmail = 254
)

// CreateUser registers a user. Emails are unique, compared case-insensitively.
func (e *Engine) CreateUser(ctx context.Context, name, email string) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxName {
		return 0, Errorf(CodeBadRequest, "name must be 1 to %d characters", maxName)
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > maxEmail {
		return 0, Errorf(CodeBadRequest, "email is longer than %d characters", maxEmail)
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || a.Name != "" {
		return 0, Errorf(CodeBadRequest, "email is not a valid address")
	}
	id, err := e.ledger.CreateUser(ctx, name, email)
	if err != nil {
		return 0, err
	}
	e.users.set.add(id)
	return id, nil
}
