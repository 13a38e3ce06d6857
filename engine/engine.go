// Package engine is concertd's domain: the waiting room, admission, seat holds, the
// wallet and checkout. It decides with its own types and an injected clock, and
// reaches state only through the interfaces in store.go; it knows nothing of HTTP,
// Redis or SQL.
package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/concertd/concertd/engine/clock"
)

// Config holds the engine's tunables. DefaultConfig has every default; New gives
// a zero field DefaultConfig's value, so a test names only what it changes.
type Config struct {
	HoldTTL         time.Duration
	ActiveTTL       time.Duration
	IdleTimeout     time.Duration
	MaxHoldsPerUser int
	PaymentWindow   time.Duration // how long a hold may stay PAYING
	TokenLifetime   time.Duration
	Secret          []byte        // token signing key; required, and never defaulted
	AdmitInterval   time.Duration // admission step period
	SweepInterval   time.Duration // expired-hold sweep period
	// PollCacheAge is how long a far-back waiting token's poll answer is reused
	// (see pollCache); at most 1s, the lag the contract allows; CacheOff: never.
	PollCacheAge time.Duration
	// HoldCacheAge is how long a token the shared state saw ACTIVE may have a hold
	// on a seat this instance's seat view shows taken refused from memory (see
	// activeWordCache); at most 1s; CacheOff: every hold asks the shared state.
	HoldCacheAge time.Duration
}

// CacheOff, as PollCacheAge or HoldCacheAge, turns that answer cache off.
const CacheOff time.Duration = -1

// DefaultConfig is the contract's defaults, the one place they are written.
func DefaultConfig() Config {
	return Config{
		HoldTTL:         5 * time.Minute,
		ActiveTTL:       10 * time.Minute,
		IdleTimeout:     2 * time.Minute,
		MaxHoldsPerUser: 4,
		PaymentWindow:   10 * time.Second, // twice a request's timeout
		TokenLifetime:   24 * time.Hour,
		AdmitInterval:   100 * time.Millisecond,
		SweepInterval:   250 * time.Millisecond,
		PollCacheAge:    maxPollLag,
		HoldCacheAge:    maxHoldCacheAge,
	}
}

// withDefaults gives every zero (or, for a count or a period, negative) field
// DefaultConfig's value, and bounds the cache ages by the lag the contract allows.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	orDefault(&c.HoldTTL, d.HoldTTL)
	orDefault(&c.ActiveTTL, d.ActiveTTL)
	orDefault(&c.IdleTimeout, d.IdleTimeout)
	orDefault(&c.PaymentWindow, d.PaymentWindow)
	orDefault(&c.TokenLifetime, d.TokenLifetime)
	orDefault(&c.AdmitInterval, d.AdmitInterval)
	orDefault(&c.SweepInterval, d.SweepInterval)
	if c.MaxHoldsPerUser <= 0 {
		c.MaxHoldsPerUser = d.MaxHoldsPerUser
	}
	for _, age := range []*time.Duration{&c.PollCacheAge, &c.HoldCacheAge} {
		switch {
		case *age == 0:
			*age = maxPollLag
		case *age < 0:
			*age = CacheOff
		}
		*age = min(*age, maxPollLag)
	}
	return c
}

// maxHoldCacheAge bounds how late a token's end may be noticed by a hold refused
// from memory: the lag the contract allows a poll's answer (maxPollLag).
const maxHoldCacheAge = maxPollLag

// Limits of the contract.
const (
	MaxChargeAmount = 10_000_000
	MaxBalance      = 1_000_000_000
	MaxSeatCount    = 100_000
)

// Engine runs one concertd instance's share of the sale. Many instances may share
// one shared state and one ledger.
type Engine struct {
	cfg      Config
	clock    clock.Clock
	users    Users
	concerts Concerts
	wallet   Wallet
	sales    Sales
	queue    Queue
	holds    Holds
	payments Payments
	expiries Expiries
	shared   Pinger        // the shared state, "redis" to Down
	ledger   Pinger        // the ledger, "database" to Down
	external ExternalUsers // nil when the ledger keeps none (external.go)
	reissuer TokenReissuer // nil: a token is never renewed (reissue.go)
	gates    Gates         // nil: no proof-of-work gate (gates.go)
	presale  PresaleLedger // nil: no presale (presale.go)
	fence    PaymentFence  // nil when the ledger has none
	multi    MultiSeller   // nil when the ledger has none
	closer   SaleCloser    // nil when the shared state has none
	closing  closing
	best     BestSeats // nil: no best-available allocation
	signer   signer
	keys     *userKeys // userkey.go
	catalog  *catalog
	polls    Polls // the queue's, decorated by pollCache unless PollCacheAge is CacheOff

	seatViews SeatViews    // liveSeatViews, decorated by seatViewCache
	holdGate  HoldGate     // the shared state's, decorated by activeWordCache unless HoldCacheAge is CacheOff
	avail     Availability // liveAvailability, decorated by availabilityCache
	gateCache sync.Map     // concert id -> *gateEntry
	sweepHint chan sweepTarget

	counts     counters
	knownUsers knownUsers
	configured sync.Map // concert ids whose queue configuration is in the shared state

	// externals maps identity tokens' subjects to users (external.go).
	externals externalUsers
}

// New returns an Engine over the given stores.
func New(cfg Config, clk clock.Clock, s Stores) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{
		cfg:       cfg,
		clock:     clk,
		users:     s.Users,
		concerts:  s.Concerts,
		wallet:    s.Wallet,
		sales:     s.Sales,
		queue:     s.Queue,
		holds:     s.Holds,
		payments:  s.Payments,
		expiries:  s.Expiries,
		shared:    s.Shared,
		ledger:    s.Ledger,
		external:  s.External,
		reissuer:  s.Reissuer,
		gates:     s.Gates,
		presale:   s.Presale,
		fence:     s.Fence,
		multi:     s.Multi,
		closer:    s.Closer,
		best:      s.Best,
		signer:    newSigner(cfg.Secret),
		keys:      newUserKeys(cfg.Secret, s.KeyLedger, s.KeyMirror),
		sweepHint: make(chan sweepTarget, 1024),
	}
	e.catalog = newCatalog(s.Concerts, clk)
	e.avail = &availabilityCache{next: liveAvailability{catalog: e.catalog, holds: s.Holds, open: e.openConcertIDs}}
	e.polls = queuePolls{queue: s.Queue, idle: cfg.IdleTimeout}
	if cfg.PollCacheAge > 0 {
		e.polls = newPollCache(e.polls, cfg.PollCacheAge, cfg.IdleTimeout)
	}
	e.seatViews = newSeatViewCache(liveSeatViews{holds: s.Holds}, clk)
	e.holdGate = sharedHoldGate{holds: s.Holds, best: s.Best, queue: s.Queue, idle: cfg.IdleTimeout}
	if cfg.HoldCacheAge > 0 {
		e.holdGate = newActiveWordCache(e.holdGate, e.seatViews, cfg.HoldCacheAge, clk)
	}
	return e
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// Ready reports whether the engine's dependencies answer; the error names what is down.
func (e *Engine) Ready(ctx context.Context) error {
	if err := e.shared.Ping(ctx); err != nil {
		return err
	}
	return e.ledger.Ping(ctx)
}

// Down names the dependencies that do not answer: "redis" (the shared state) and
// "database" (the ledger), nothing more, so a readiness probe anyone can call
// gives away no address or driver message.
func (e *Engine) Down(ctx context.Context) []string {
	var down []string
	if e.shared.Ping(ctx) != nil {
		down = append(down, "redis")
	}
	if e.ledger.Ping(ctx) != nil {
		down = append(down, "database")
	}
	return down
}

func isCode(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}
