package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"
)

// TokenGrant is the answer to entering a waiting room.
type TokenGrant struct {
	Token  string
	Reused bool // the user already had this live token
	Status QueueStatus
}

// QueueStatus is what a polling client is told.
type QueueStatus struct {
	ConcertID int64
	State     TokenState
	// WAITING after the sale opened:
	Position      int64
	EstimatedWait time.Duration
	PollAfter     time.Duration
	// WAITING before the sale opened (the pre-queue has no order yet):
	PreQueue    bool
	SaleOpensAt time.Time
	// ACTIVE:
	ExpiresAt time.Time
}

// preQueueRange bounds pre-queue order scores: every later arrival queues behind
// them (store: 2^52 + arrival number), and doubles are exact below 2^53.
const preQueueRange = 1 << 52

// IssueToken puts a user in a concert's waiting room, or returns the live token the
// user already holds there: one place in line per user per concert.
func (e *Engine) IssueToken(ctx context.Context, userID, concertID int64) (TokenGrant, error) {
	return e.IssueTokenWith(ctx, userID, concertID, EntryPass{})
}

// IssueTokenWith is IssueToken with what the concert's gates may ask for (gates.go).
func (e *Engine) IssueTokenWith(ctx context.Context, userID, concertID int64, pass EntryPass) (TokenGrant, error) {
	if userID <= 0 {
		return TokenGrant{}, ErrUserNotFound
	}
	if concertID <= 0 {
		return TokenGrant{}, ErrConcertNotFound
	}
	c, err := e.catalog.concert(ctx, concertID)
	if err != nil {
		return TokenGrant{}, err
	}
	if e.saleClosed(c) {
		return TokenGrant{}, ErrSaleClosed
	}
	if err := e.knownUser(ctx, userID); err != nil {
		return TokenGrant{}, err
	}
	if err := e.ensureQueue(ctx, c); err != nil {
		return TokenGrant{}, err
	}
	now := e.clock.Now()
	if err := e.passGates(ctx, c, userID, pass, now); err != nil {
		return TokenGrant{}, err
	}
	score := int64(-1)
	if now.Before(c.SaleOpensAt) {
		score = randomPreQueueScore()
	}
	r, err := e.queue.Enter(ctx, concertID, userID, now, e.cfg.IdleTimeout, score)
	if errors.Is(err, ErrConcertNotFound) {
		// The catalog knows the concert, so the shared state lost its queue
		// configuration after this instance last checked: restore it and retry.
		e.configured.Delete(concertID)
		if err = e.ensureQueue(ctx, c); err == nil {
			r, err = e.queue.Enter(ctx, concertID, userID, now, e.cfg.IdleTimeout, score)
		}
	}
	if err != nil {
		return TokenGrant{}, err
	}
	// A record older than the token lifetime keeps its place under a new token
	// (reissue.go). A record that changed meanwhile (ended, or another entry
	// renewed it) is entered once more, which finds what stands now.
	for try := 0; ; try++ {
		var kept bool
		if r, kept, err = e.renewed(ctx, concertID, userID, r, now); err != nil {
			return TokenGrant{}, err
		}
		if kept || try == 1 {
			break
		}
		if r, err = e.queue.Enter(ctx, concertID, userID, now, e.cfg.IdleTimeout, score); err != nil {
			return TokenGrant{}, err
		}
	}
	t := Token{ConcertID: concertID, UserID: userID, Gen: r.Gen, IssuedAt: r.IssuedAt.Truncate(time.Second)}
	return TokenGrant{
		Token:  e.signer.Sign(t),
		Reused: r.Reused,
		Status: e.describe(c, r.Status, now),
	}, nil
}

// Status is the polling endpoint: the token's state and, while waiting, its place.
// A poll is also the waiting token's heartbeat.
func (e *Engine) Status(ctx context.Context, t Token) (QueueStatus, error) {
	c, err := e.catalog.concert(ctx, t.ConcertID)
	if err != nil {
		if err == ErrConcertNotFound {
			return QueueStatus{}, ErrTokenInvalid
		}
		return QueueStatus{}, err
	}
	if e.saleClosed(c) {
		return QueueStatus{}, ErrTokenExpired
	}
	now := e.clock.Now()
	s, err := e.polls.Poll(ctx, c, t, now)
	if err != nil {
		return QueueStatus{}, err
	}
	if s.State == TokenExpired {
		return QueueStatus{}, ErrTokenExpired
	}
	return e.describe(c, s, now), nil
}

func (e *Engine) describe(c Concert, s TokenStatus, now time.Time) QueueStatus {
	q := QueueStatus{ConcertID: c.ID, State: s.State}
	switch s.State {
	case TokenActive:
		q.ExpiresAt = s.ActiveUntil
	case TokenWaiting:
		if now.Before(c.SaleOpensAt) {
			q.PreQueue = true
			q.SaleOpensAt = c.SaleOpensAt
			q.PollAfter = pollAfter(0, c.SaleOpensAt.Sub(now), e.cfg.IdleTimeout)
			return q
		}
		q.Position = s.Rank + 1
		q.EstimatedWait = estimatedWait(q.Position, c.Queue.AdmitPerSecond)
		q.PollAfter = pollAfter(q.Position, q.EstimatedWait, e.cfg.IdleTimeout)
	}
	return q
}

// estimatedWait is how long until `position` is admitted at the configured rate.
func estimatedWait(position int64, admitPerSecond int) time.Duration {
	if admitPerSecond <= 0 {
		admitPerSecond = 1
	}
	secs := (position + int64(admitPerSecond) - 1) / int64(admitPerSecond)
	return time.Duration(secs) * time.Second
}

// pollAfter spaces polls by how far a client is from the front: the first few
// hundred poll every second so admission feels instant, the far back polls a few
// times over its wait, and nobody polls so rarely that the idle timeout drops them.
func pollAfter(position int64, wait, idle time.Duration) time.Duration {
	p := wait / 4
	if position > 0 && position <= 100 {
		p = time.Second
	}
	if p < time.Second {
		p = time.Second
	}
	if p > 30*time.Second {
		p = 30 * time.Second
	}
	if limit := idle / 3; p > limit {
		p = max(limit.Truncate(time.Second), time.Second)
	}
	return p.Truncate(time.Second)
}

func randomPreQueueScore() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:]) % preQueueRange)
}

// ensureQueue restores a concert's queue configuration after the shared state lost
// it (Redis restarted empty); the ledger keeps the settings.
func (e *Engine) ensureQueue(ctx context.Context, c Concert) error {
	if _, ok := e.configured.Load(c.ID); ok {
		return nil
	}
	if e.saleClosed(c) {
		return ErrSaleClosed // a closed concert's shared state is gone for good
	}
	ok, err := e.queue.Configured(ctx, c.ID)
	if err != nil {
		return err
	}
	if !ok {
		if err := e.queue.Configure(ctx, QueueConfig{ConcertID: c.ID, SaleOpensAt: c.SaleOpensAt, Settings: c.Queue}); err != nil {
			return err
		}
	}
	e.configured.Store(c.ID, struct{}{})
	return nil
}

// AdmitOnce runs one admission step for every concert: idle waiters drop out and
// waiting tokens become ACTIVE within each concert's rate and maxActive. Run calls
// it every AdmitInterval; tests call it after moving a simulated clock.
func (e *Engine) AdmitOnce(ctx context.Context) error {
	concerts := e.openConcerts()
	now := e.clock.Now()
	var first error
	for _, c := range concerts {
		if err := e.ensureQueue(ctx, c); err != nil {
			first = firstErr(first, err)
			continue
		}
		_, err := e.queue.Admit(ctx, c.ID, now, AdmitParams{
			ActiveTTL:   e.cfg.ActiveTTL,
			IdleTimeout: e.cfg.IdleTimeout,
			MaxBatch:    admitBatch,
			MaxIdleScan: idleScan,
			// An idle waiter is then found within about 1.5 idle timeouts of its
			// last poll, if it neither polls nor reaches the head before.
			IdleScanPeriod: e.cfg.IdleTimeout / 2,
		})
		if err != nil {
			if err == ErrConcertNotFound || isCode(err, CodeConcertNotFound) {
				e.configured.Delete(c.ID) // state was lost; restore on the next step
			}
			first = firstErr(first, err)
		}
	}
	return first
}

const (
	admitBatch = 2000
	idleScan   = 2000
)

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
