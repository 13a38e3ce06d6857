package memstore

import (
	"context"
	"time"

	"github.com/concertd/concertd/engine"
)

var _ engine.PresaleLedger = (*Store)(nil)

type presale struct {
	until time.Time
	codes map[engine.CodeHash]int64 // code -> bound user id, 0 while unbound
	users map[int64]bool            // users with a bound code
}

// AddPresaleCodes stores the codes' hashes and sets the presale's end.
func (s *Store) AddPresaleCodes(ctx context.Context, concertID int64, codes []engine.CodeHash, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if concertID < 1 || concertID > int64(len(s.concerts)) {
		return engine.ErrConcertNotFound
	}
	if s.presales == nil {
		s.presales = map[int64]*presale{}
	}
	p := s.presales[concertID]
	if p == nil {
		p = &presale{codes: map[engine.CodeHash]int64{}, users: map[int64]bool{}}
		s.presales[concertID] = p
	}
	p.until = until.UTC().Truncate(time.Microsecond)
	for _, c := range codes {
		if _, ok := p.codes[c]; !ok {
			p.codes[c] = 0
		}
	}
	return nil
}

// PresaleUntil reads the presale's end; zero when the concert has none.
func (s *Store) PresaleUntil(ctx context.Context, concertID int64) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.presales[concertID]; p != nil {
		return p.until, nil
	}
	return time.Time{}, nil
}

// EnterPresale binds code to the user under the store's lock; see engine.PresaleLedger.
func (s *Store) EnterPresale(ctx context.Context, concertID, userID int64, code *engine.CodeHash) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.presales[concertID]
	if p == nil {
		return false, nil
	}
	if p.users[userID] {
		return true, nil
	}
	if code == nil {
		return false, nil
	}
	owner, ok := p.codes[*code]
	if !ok || (owner != 0 && owner != userID) {
		return false, nil
	}
	p.codes[*code] = userID
	p.users[userID] = true
	return true, nil
}
