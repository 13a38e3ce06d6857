package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/concertd/concertd/api"
	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/identity"
)

// Config is the operating contract's environment (API.md "Running it"). This file
// is the only one that reads the environment; every default comes from
// engine.DefaultConfig or api.DefaultRateLimits, or is written below once.
type Config struct {
	Addr        string
	RedisURL    string
	DatabaseURL string
	Embedded    bool
	AdminKey    string
	TokenSecret string
	RedisPrefix string
	// Config is the engine's: HOLD_TTL, ACTIVE_TTL, IDLE_TIMEOUT,
	// MAX_HOLDS_PER_USER, POLL_CACHE_AGE and HOLD_CACHE_AGE (each "0" of the
	// last two is engine.CacheOff). Its Secret is set at start (TOKEN_SECRET or
	// the shared one in Redis).
	engine.Config
	LogLevel string
	// RateLimits come from RATE_LIMIT, RATE_LIMIT_POLL, RATE_LIMIT_HOLD,
	// RATE_LIMIT_IP and RATE_LIMIT_USER (see rateLimitsFromEnv); the zero value
	// limits nothing.
	RateLimits api.RateLimits
	// UserAuthNone (USER_AUTH=none) lets a bare userId enter a waiting room, the
	// old behaviour, for a trusted network; never the default.
	UserAuthNone bool
	// Identity verifies identity tokens (IDENTITY_*; config_identity.go); nil
	// when none are trusted.
	Identity *identity.Verifier
	// TrustedProxies are TRUSTED_PROXIES: whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// AutoPipelineOff (REDIS_AUTOPIPELINE=0) turns go-redis's auto-pipelining
	// client off; it is on by default (see autoPipeline in run.go).
	AutoPipelineOff bool
	// PprofAddr is where net/http/pprof listens (CONCERTD_PPROF); empty: nowhere.
	PprofAddr string
}

// minSecret is the shortest ADMIN_KEY and TOKEN_SECRET accepted: 32 characters
// of `openssl rand -base64 48` are some 190 bits, beyond guessing.
const minSecret = 32

func configFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:            or(getenv("CONCERTD_ADDR"), "127.0.0.1:8080"),
		RedisURL:        or(getenv("REDIS_URL"), "redis://127.0.0.1:6379/0"),
		DatabaseURL:     or(getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		Embedded:        getenv("CONCERTD_EMBEDDED") == "1",
		AdminKey:        getenv("ADMIN_KEY"),
		TokenSecret:     getenv("TOKEN_SECRET"),
		RedisPrefix:     or(getenv("REDIS_PREFIX"), "concertd"),
		Config:          engine.DefaultConfig(),
		LogLevel:        or(getenv("LOG_LEVEL"), "info"),
		AutoPipelineOff: getenv("REDIS_AUTOPIPELINE") == "0",
		PprofAddr:       getenv("CONCERTD_PPROF"),
	}
	var err error
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"HOLD_TTL", &c.HoldTTL},
		{"ACTIVE_TTL", &c.ActiveTTL},
		{"IDLE_TIMEOUT", &c.IdleTimeout},
	}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst <= 0 {
				return Config{}, fmt.Errorf("%s=%q is not a positive Go duration", d.name, v)
			}
		}
	}
	for _, a := range []struct {
		name string
		dst  *time.Duration
	}{
		{"POLL_CACHE_AGE", &c.PollCacheAge},
		{"HOLD_CACHE_AGE", &c.HoldCacheAge},
	} {
		if err := cacheAge(getenv, a.name, a.dst); err != nil {
			return Config{}, err
		}
	}
	if v := getenv("MAX_HOLDS_PER_USER"); v != "" {
		if c.MaxHoldsPerUser, err = strconv.Atoi(v); err != nil || c.MaxHoldsPerUser < 1 {
			return Config{}, fmt.Errorf("MAX_HOLDS_PER_USER=%q is not a positive integer", v)
		}
	}
	if c.RateLimits, err = rateLimitsFromEnv(getenv); err != nil {
		return Config{}, err
	}
	if c.Identity, err = identityFromEnv(getenv); err != nil {
		return Config{}, err
	}
	if c.TrustedProxies, err = trustedProxiesFromEnv(getenv); err != nil {
		return Config{}, err
	}
	switch v := getenv("USER_AUTH"); v {
	case "", "keys":
	case "none":
		c.UserAuthNone = true
	default:
		return Config{}, fmt.Errorf("USER_AUTH=%q: want none, or unset (keys required)", v)
	}
	if !c.Embedded {
		// Nothing ships a default secret: a deployment makes its own.
		for _, v := range []struct{ name, value string }{{"ADMIN_KEY", c.AdminKey}, {"TOKEN_SECRET", c.TokenSecret}} {
			if v.value == "" {
				return Config{}, fmt.Errorf("%s is required, at least %d characters (make one with: openssl rand -base64 48), or CONCERTD_EMBEDDED=1 to try concertd out", v.name, minSecret)
			}
			if len(v.value) < minSecret {
				return Config{}, fmt.Errorf("%s is %d characters; it must be at least %d (make one with: openssl rand -base64 48)", v.name, len(v.value), minSecret)
			}
		}
	}
	return c, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// rateLimitsFromEnv reads the rate limits. RATE_LIMIT=off turns them all off (for
// load tests, which poll and hold far faster than a person). RATE_LIMIT_POLL,
// RATE_LIMIT_HOLD and RATE_LIMIT_IP are "rate" or "rate:burst" in requests per
// second (RATE_LIMIT_USER: every other endpoint that takes a token or key, per
// user); a rate alone gets a burst of twice the rate, and 0 turns that limit off.
// Unset, each keeps api.DefaultRateLimits.
func rateLimitsFromEnv(getenv func(string) string) (api.RateLimits, error) {
	switch v := getenv("RATE_LIMIT"); v {
	case "", "on":
	case "off":
		return api.RateLimits{}, nil
	default:
		return api.RateLimits{}, fmt.Errorf("RATE_LIMIT=%q: want on or off", v)
	}
	r := api.DefaultRateLimits()
	for _, l := range []struct {
		name string
		dst  *api.Limit
	}{
		{"RATE_LIMIT_POLL", &r.Poll},
		{"RATE_LIMIT_HOLD", &r.Hold},
		{"RATE_LIMIT_IP", &r.IP},
		{"RATE_LIMIT_USER", &r.User},
	} {
		v := getenv(l.name)
		if v == "" {
			continue
		}
		rate, burst, hasBurst := strings.Cut(v, ":")
		n, err := strconv.Atoi(rate)
		b := 2 * n
		if err == nil && hasBurst {
			b, err = strconv.Atoi(burst)
		}
		if err != nil || n < 0 || b < 0 || (n > 0 && b < 1) {
			return api.RateLimits{}, fmt.Errorf("%s=%q: want requests per second, optionally :burst (0 = off)", l.name, v)
		}
		*l.dst = api.Limit{Rate: n, Burst: b}
	}
	return r, nil
}

// cacheAge reads one of the answer caches' ages into dst, which holds its
// default: a Go duration from 0 (engine.CacheOff) to 1s, the lag the contract allows.
func cacheAge(getenv func(string) string, name string, dst *time.Duration) error {
	v := getenv(name)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > time.Second {
		return fmt.Errorf("%s=%q is not a Go duration from 0 (off) to 1s", name, v)
	}
	if d == 0 {
		d = engine.CacheOff
	}
	*dst = d
	return nil
}
