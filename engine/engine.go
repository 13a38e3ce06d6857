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
	health   []Pinger
	signer   signer
	catalog  *catalog
	seatMaps seatMapCache
	polls    *pollCache
	// activeTokens are tokens the shared state said were ACTIVE within HoldCacheAge.
	activeTokens recentMap[*activeFact]
	avail        availabilityCache
	sweepHint    chan sweepTarget

	counts     counters
	knownUsers knownUsers
	configured sync.Map // concert ids whose queue configuration is in the shared state
}

// New returns an Engine over the given stores.
func New(cfg Config, clk clock.Clock, s Stores) *Engine {
	cfg.defaults()
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
		health:    s.Health,
		signer:    newSigner(cfg.Secret),
		sweepHint: make(chan sweepTarget, 1024),
	}
	e.catalog = newCatalog(s.Concerts, clk)
	e.polls = newPollCache(cfg.PollCacheAge, cfg.IdleTimeout)
	e.activeTokens.maxAge = max(cfg.HoldCacheAge, 0)
	return e
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.clock.Now() }

// Ready reports whether the engine's dependencies answer; the error names what is down.
func (e *Engine) Ready(ctx context.Context) error {
	for _, p := range e.health {
		if err := p.Ping(ctx); err != nil {
			return err
		}
	}
	return nil
}

func isCode(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}
