package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/concertd/concertd/engine"
)

var _ engine.ExternalUsers = (*Store)(nil)

// externalUserByIDSQL finds the user of a sub (users_external_id_key serves it).
const externalUserByIDSQL = `SELECT id FROM users WHERE external_id = $1`

// insertExternalUserSQL creates the user of a new sub. ON CONFLICT DO NOTHING on
// the external id means a racing first sight waits for the winner's commit and
// then returns no row instead of failing. The email is left NULL when empty or
// already some user's (engine.ExternalUsers says why); a registration of that
// email committing between the check and the insert still fails on
// users_email_key, and ExternalUser then inserts without the email.
//
// $1 name, $2 email (empty for none), $3 external id.
const insertExternalUserSQL = `
INSERT INTO users (name, email, external_id)
VALUES ($1,
        CASE WHEN $2::text = '' OR EXISTS (SELECT 1 FROM users WHERE email = $2::text)
             THEN NULL ELSE $2::text END,
        $3)
ON CONFLICT (external_id) DO NOTHING
RETURNING id`

// ExternalUser returns the user of a sub, creating it on first sight; see
// engine.ExternalUsers.
//
// It reads before it inserts: a sub already known (the usual case once the
// instance's cache missed, say on another instance) then costs one indexed read
// and draws no id from the sequence. A conflicting insert returns no row; the
// winner's row is then read by a new statement, whose snapshot sees its commit
// (the insert's own snapshot, taken before the wait, would not).
func (s *Store) ExternalUser(ctx context.Context, u engine.ExternalIdentity) (int64, bool, error) {
	if id, ok, err := s.externalUserByID(ctx, u.Subject); err != nil || ok {
		return id, false, err
	}
	var id int64
	err := s.pool.QueryRow(ctx, insertExternalUserSQL, u.Name, u.Email, u.Subject).Scan(&id)
	if isUniqueViolation(err, "users_email_key") {
		err = s.pool.QueryRow(ctx, insertExternalUserSQL, u.Name, "", u.Subject).Scan(&id)
	}
	switch {
	case err == nil:
		return id, true, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, false, translate(err)
	}
	id, ok, err := s.externalUserByID(ctx, u.Subject)
	if err == nil && !ok {
		// The insert conflicted, so the row exists and users are never deleted.
		err = errors.New("pgstore: external user vanished after a conflicting insert")
	}
	return id, false, err
}

func (s *Store) externalUserByID(ctx context.Context, sub string) (int64, bool, error) {
	var id int64
	err := s.pool.QueryRow(ctx, externalUserByIDSQL, sub).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, translate(err)
	}
	return id, true, nil
}
