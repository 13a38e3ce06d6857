package memstore

import (
	"context"

	"github.com/concertd/concertd/engine"
)

var _ engine.ExternalUsers = (*Store)(nil)

// ExternalUser returns the user of a sub, creating it on first sight; see
// engine.ExternalUsers. The store's one mutex makes a first sight atomic, as the
// unique external id does in PostgreSQL; an email some user already has is left
// off, as there.
func (s *Store) ExternalUser(ctx context.Context, u engine.ExternalIdentity) (int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.external[u.Subject]; ok {
		return id, false, nil
	}
	email := u.Email
	if _, taken := s.emails[email]; taken {
		email = ""
	}
	s.users = append(s.users, &user{name: u.Name, email: email})
	id := int64(len(s.users))
	if email != "" {
		s.emails[email] = id
	}
	if s.external == nil {
		s.external = map[string]int64{}
	}
	s.external[u.Subject] = id
	return id, true, nil
}
