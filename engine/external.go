package engine

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"
)

// MaxSubjectLength bounds an identity token's sub, in bytes: room for any site's
// user ids (numbers, UUIDs, URLs), and a bound on what a token can make the ledger
// store and the cache hold.
const MaxSubjectLength = 255

// externalUsers maps identity tokens' subjects to concertd users for one instance.
// A subject's user never changes (users are never deleted and an external id is
// unique), so an entry never goes stale: only the first request of a subject on
// an instance reaches the ledger, and requests for one new subject that overlap
// share that one ledger call.
//
// The map is bounded in two generations: when the current one is full it becomes
// the old one and the oldest is dropped; a hit in the old one moves back. A
// subject that fell out costs one ledger read, which finds the existing user.
type externalUsers struct {
	mu       sync.Mutex
	cur, old map[string]int64
	flight   singleflight.Group
}

// externalCacheGen is the size of one generation: two of them hold about 130,000
// subjects in some 15 MB.
const externalCacheGen = 1 << 16

func (c *externalUsers) get(sub string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.cur[sub]; ok {
		return id, true
	}
	id, ok := c.old[sub]
	if ok {
		c.putLocked(sub, id)
	}
	return id, ok
}

func (c *externalUsers) put(sub string, id int64) {
	c.mu.Lock()
	c.putLocked(sub, id)
	c.mu.Unlock()
}

func (c *externalUsers) putLocked(sub string, id int64) {
	if c.cur == nil || len(c.cur) >= externalCacheGen {
		c.old, c.cur = c.cur, make(map[string]int64)
	}
	c.cur[sub] = id
}

// ExternalUser returns the concertd user that the operator's own login calls
// u.Subject, creating it on first sight (see ExternalUsers). The caller has
// verified the identity token; Name and Email are tidied here, since a profile
// must not make a sign-in fail: a name that breaks the free-text rule loses what
// breaks it, and an email that is not a plain address is left off.
func (e *Engine) ExternalUser(ctx context.Context, u ExternalIdentity) (int64, error) {
	if err := checkSubject(u.Subject); err != nil {
		return 0, err
	}
	c := &e.externals
	if id, ok := c.get(u.Subject); ok {
		return id, nil
	}
	v, err, _ := c.flight.Do(u.Subject, func() (any, error) {
		// A flight that ended between our miss and this one has filled the cache.
		if id, ok := c.get(u.Subject); ok {
			return id, nil
		}
		ledger := e.external
		if ledger == nil {
			return int64(0), errors.New("engine: this ledger does not keep external users")
		}
		id, _, err := ledger.ExternalUser(ctx, ExternalIdentity{
			Subject: u.Subject,
			Name:    profileName(u.Name),
			Email:   profileEmail(u.Email),
		})
		if err != nil {
			return int64(0), err
		}
		e.knownUsers.set.add(id)
		c.put(u.Subject, id)
		return id, nil
	})
	return v.(int64), err
}

// checkSubject refuses a sub the ledger could not keep as one line of text.
func checkSubject(sub string) error {
	if sub == "" || len(sub) > MaxSubjectLength || !utf8.ValidString(sub) ||
		strings.IndexFunc(sub, unicode.IsControl) >= 0 {
		return Errorf(CodeTokenInvalid, "identity token's sub must be 1 to %d bytes of text without control characters", MaxSubjectLength)
	}
	return nil
}

// profileName makes a name claim fit the name rule (nameText) by dropping what
// does not: invalid UTF-8, control characters, and characters past the limit.
// An empty result is kept empty: the site did not say.
func profileName(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxNameLength {
		s = strings.TrimSpace(string([]rune(s)[:MaxNameLength]))
	}
	return s
}

// profileEmail keeps an email claim only when CreateUser would accept it.
func profileEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > maxEmail {
		return ""
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s || a.Name != "" {
		return ""
	}
	return s
}
