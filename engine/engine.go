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

// Config holds the engine's tunables; zero fields take the contract's defaults.
type Config struct {
	HoldTTL         time.Duration // default 5m
	ActiveTTL       time.Duration // default 10m
	IdleTimeout     time.Duration // default 2m
	MaxHoldsPerUser int           // default 4
	PaymentWindow   time.Duration // how long a hold may stay PAYING; default 10s (twice a request timeout)
	TokenLifetime   time.Duration // default 24h
	Secret          []byte        // token signing key; required
	AdmitInterval   time.Duration // admission step period; default 100ms
	SweepInterval   time.Duration // expired-hold sweep period; default 250ms
	// PollCacheAge is how long a far-back waiting token's poll answer is reused
	// (see pollCache); default and most 1s, the lag the contract allows; <0: off.
	PollCacheAge time.Duration
	// HoldCacheAge is how long a token the shared state saw ACTIVE may have a hold
	// on a seat this instance's seat view shows taken refused from memory (see
	// takenInView); default and most 1s; <0: off, every hold asks the shared state.
	HoldCacheAge time.Duration
}

func (c *Config) defaults() {
	if c.HoldTTL <= 0 {
		c.HoldTTL = 5 * time.Minute
	}
	if c.ActiveTTL <= 0 {
		c.ActiveTTL = 10 * time.Minute
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.MaxHoldsPerUser <= 0 {
		c.MaxHoldsPerUser = 4
	}
	if c.PaymentWindow <= 0 {
		c.PaymentWindow = 10 * time.Second
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = 24 * time.Hour
	}
	if c.AdmitInterval <= 0 {
		c.AdmitInterval = 100 * time.Millisecond
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 250 * time.Millisecond
	}
	if c.PollCacheAge == 0 {
		c.PollCacheAge = maxPollLag
	}
	if c.HoldCacheAge == 0 || c.HoldCacheAge > maxHoldCacheAge {
		c.HoldCacheAge = maxHoldCacheAge
	}
}

// maxHoldCacheAge bounds how late a token's end may be noticed by a hold refused
// from memory: the lag the contract allows a poll's answer.
const maxHoldCacheAge = time.Second

// Limits of the contract.
const (
	MaxChargeAmount = 10_000_000
	MaxBalance      = 1_000_000_000
	MaxSeatCount    = 100_000
)

// Engine runs one concertd instance's share of the sale. Many instances may share
// one Queue/Seats state and one Ledger.
type Engine struct {
	cfg      Config
	clock    clock.Clock
	ledger   Ledger
	queue    Queue
	seats    Seats
	gates    Gates         // the queue store's, when it has them (gates.go)
	presale  PresaleLedger // the ledger's, when it has them (presale.go)
	fence    PaymentFence  // nil when the ledger has none
	multi    MultiSeller   // nil when the ledger has none
	closer   SaleCloser    // nil when the shared state has none
	closing  closing
	best     BestSeats // nil when seats does not implement it
	signer   signer
	keys     *userKeys // userkey.go
	catalog  *catalog
	seatMaps seatMapCache
	polls    *pollCache
	// activeTokens are tokens the shared state said were ACTIVE within HoldCacheAge.
	activeTokens recentMap[*activeFact]
	avail        availabilityCache
	gateCache    sync.Map // concert id -> *gateEntry
	sweepHint    chan sweepTarget

	counts     counters
	users      knownUsers
	configured sync.Map // concert ids whose queue configuration is in the shared state
	rebuilt    sync.Map // schedule ids whose sold seats are in the shared state

	// externals maps identity tokens' subjects to users (external.go).
	externals externalUsers
}

// New returns an Engine over the given state.
func New(cfg Config, clk clock.Clock, ledger Ledger, queue Queue, seats Seats) *Engine {
	cfg.defaults()
	e := &Engine{
		cfg:       cfg,
		clock:     clk,
		ledger:    ledger,
		queue:     queue,
		seats:     seats,
		signer:    newSigner(cfg.Secret),
		keys:      newUserKeys(cfg.Secret, ledger, queue, seats),
		sweepHint: make(chan sweepTarget, 1024),
	}
	e.gates, _ = queue.(Gates)
	e.presale, _ = ledger.(PresaleLedger)
	e.fence, _ = ledger.(PaymentFence)
	e.multi, _ = ledger.(MultiSeller)
	e.closer, _ = seats.(SaleCloser)
	e.best, _ = seats.(BestSeats)
	e.catalog = newCatalog(ledger, clk)
	e.polls = newPollCache(cfg.PollCacheAge, cfg.IdleTimeout)
	e.activeTokens.maxAge = max(cfg.HoldCacheAge, 0)
	return e
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// Ready reports whether the engine's dependencies answer; the error names what is down.
func (e *Engine) Ready(ctx context.Context) error {
	if err := e.seats.Ping(ctx); err != nil {
		return err
	}
	return e.ledger.Ping(ctx)
}

// Down names the dependencies that do not answer: "redis" (the shared state) and
// "database" (the ledger), nothing more, so a readiness probe anyone can call
// gives away no address or driver message.
func (e *Engine) Down(ctx context.Context) []string {
	var down []string
	if e.seats.Ping(ctx) != nil {
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
