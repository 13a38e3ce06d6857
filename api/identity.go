package api

import "context"

// IdentityTokens turns a site identity token (a JWT from the operator's own login) into the concertd user it names, creating that user on first sight.
type IdentityTokens interface {
	UserFor(ctx context.Context, raw string) (int64, error)
}
