package engine

import "context"

// ExternalIdentity is a person as the operator's own login names them: what a
// verified identity token (package engine/identity) says about its bearer.
type ExternalIdentity struct {
	// Subject is the site's user id (the token's sub). It is the only thing that
	// decides which concertd user the bearer is.
	Subject string
	// Name and Email fill a new user's profile; either may be empty. They are
	// read once, when the subject is first seen, and never update the profile.
	Name  string
	Email string
}

// ExternalUsers is the ledger's side of identity tokens: the users that a site's
// login, not POST /api/users, brought in. Both ledgers implement it.
type ExternalUsers interface {
	// ExternalUser returns the user whose external id is u.Subject, creating it
	// with u.Name and u.Email the first time the subject is seen. However many
	// calls with one new subject overlap, on however many instances, one user is
	// created and every call returns it (created is true for that one call only).
	//
	// An email another user already has is left off the new user (its email stays
	// empty): an identity token proves who signed in at the site, not that the
	// bearer owns a concertd account registered under that address, so it neither
	// takes that account over nor fails the sign-in.
	ExternalUser(ctx context.Context, u ExternalIdentity) (userID int64, created bool, err error)
}
