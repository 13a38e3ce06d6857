package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/concertd/concertd/api"
	"github.com/concertd/concertd/engine/identity"
)

// Config is the operating contract's environment (API.md "Running it").
type Config struct {
	Addr            string
	RedisURL        string
	DatabaseURL     string
	Embedded        bool
	AdminKey        string
	TokenSecret     string
	RedisPrefix     string
	HoldTTL         time.Duration
	ActiveTTL       time.Duration
	IdleTimeout     time.Duration
	MaxHoldsPerUser int
	// PollCacheAge is how long a far-back waiter's poll answer is reused
	// (POLL_CACHE_AGE, at most the contract's 1 s lag on position; 0 turns it off).
	PollCacheAge time.Duration
	// HoldCacheAge is how long a token seen ACTIVE may have holds on seats its
	// instance's seat view shows taken refused from memory (HOLD_CACHE_AGE, at
	// most 1 s; 0 turns it off).
	HoldCacheAge time.Duration
	LogLevel     string
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
}

// minSecret is the shortest ADMIN_KEY and TOKEN_SECRET accepted: 32 characters
// of `openssl rand -base64 48` are some 190 bits, beyond guessing.
const minSecret = 32

func configFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:        or(getenv("CONCERTD_ADDR"), "127.0.0.1:8080"),
		RedisURL:    or(getenv("REDIS_URL"), "redis://127.0.0.1:6379/0"),
		DatabaseURL: or(getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		Embedded:    getenv("CONCERTD_EMBEDDED") == "1",
		AdminKey:    getenv("ADMIN_KEY"),
		TokenSecret: getenv("TOKEN_SECRET"),
		RedisPrefix: or(getenv("REDIS_PREFIX"), "concertd"),
		LogLevel:    or(getenv("LOG_LEVEL"), "info"),
	}
	var err error
	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"HOLD_TTL", &c.HoldTTL, 5 * time.Minute},
		{"ACTIVE_TTL", &c.ActiveTTL, 10 * time.Minute},
		{"IDLE_TIMEOUT", &c.IdleTimeout, 2 * time.Minute},
	}
	for _, d := range durations {
		*d.dst = d.def
		if v := getenv(d.name); v != "" {
			if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst <= 0 {
				return Config{}, fmt.Errorf("%s=%q is not a positive Go duration", d.name, v)
			}
		}
	}
	if c.PollCacheAge, err = cacheAge(getenv, "POLL_CACHE_AGE"); err != nil {
		return Config{}, err
	}
	if c.HoldCacheAge, err = cacheAge(getenv, "HOLD_CACHE_AGE"); err != nil {
		return Config{}, err
	}
	c.MaxHoldsPerUser = 4
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

// cacheAge reads one of the answer caches' ages: a Go duration from 0 (off) to
// 1s, the lag the contract allows; 1s when unset.
func cacheAge(getenv func(string) string, name string) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > time.Second {
		return 0, fmt.Errorf("%s=%q is not a Go duration from 0 (off) to 1s", name, v)
	}
	return d, nil
}
