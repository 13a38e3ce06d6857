package main

import (
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/api"
	"github.com/concertd/concertd/engine"
)

// configFromEnv turns the operating contract's environment into a Config: each
// case is an environment (ADMIN_KEY and TOKEN_SECRET set unless the case says
// otherwise) and the field it should set, or the variable a bad value must be refused for.
func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		env     map[string]string
		check   func(c Config) bool
		wantErr string // the variable the error must name
	}{
		{name: "defaults", check: func(c Config) bool {
			return c.Addr == "127.0.0.1:8080" && c.HoldTTL == 5*time.Minute && c.ActiveTTL == 10*time.Minute &&
				c.IdleTimeout == 2*time.Minute && c.MaxHoldsPerUser == 4 && c.PollCacheAge == time.Second && c.HoldCacheAge == time.Second &&
				c.RedisPrefix == "concertd" && c.RateLimits == api.DefaultRateLimits() && !c.AutoPipelineOff && c.PprofAddr == ""
		}},
		{name: "durations", env: map[string]string{"HOLD_TTL": "30s", "ACTIVE_TTL": "1m", "IDLE_TIMEOUT": "90s"},
			check: func(c Config) bool {
				return c.HoldTTL == 30*time.Second && c.ActiveTTL == time.Minute && c.IdleTimeout == 90*time.Second
			}},
		{name: "zero idle timeout", env: map[string]string{"IDLE_TIMEOUT": "0s"}, wantErr: "IDLE_TIMEOUT"},
		{name: "hold ttl without a unit", env: map[string]string{"HOLD_TTL": "300"}, wantErr: "HOLD_TTL"},
		{name: "hold limit", env: map[string]string{"MAX_HOLDS_PER_USER": "2"}, check: func(c Config) bool { return c.MaxHoldsPerUser == 2 }},
		{name: "hold limit zero", env: map[string]string{"MAX_HOLDS_PER_USER": "0"}, wantErr: "MAX_HOLDS_PER_USER"},
		{name: "poll cache shorter", env: map[string]string{"POLL_CACHE_AGE": "250ms"}, check: func(c Config) bool { return c.PollCacheAge == 250*time.Millisecond }},
		{name: "poll cache off", env: map[string]string{"POLL_CACHE_AGE": "0"}, check: func(c Config) bool { return c.PollCacheAge == engine.CacheOff }},
		{name: "poll cache beyond the contract's lag", env: map[string]string{"POLL_CACHE_AGE": "2s"}, wantErr: "POLL_CACHE_AGE"},
		{name: "poll cache negative", env: map[string]string{"POLL_CACHE_AGE": "-1s"}, wantErr: "POLL_CACHE_AGE"},
		{name: "hold cache off", env: map[string]string{"HOLD_CACHE_AGE": "0s"}, check: func(c Config) bool { return c.HoldCacheAge == engine.CacheOff && c.PollCacheAge == time.Second }},
		{name: "plain redis client", env: map[string]string{"REDIS_AUTOPIPELINE": "0", "CONCERTD_PPROF": "127.0.0.1:6060"},
			check: func(c Config) bool { return c.AutoPipelineOff && c.PprofAddr == "127.0.0.1:6060" }},
		{name: "hold cache shorter", env: map[string]string{"HOLD_CACHE_AGE": "300ms"}, check: func(c Config) bool { return c.HoldCacheAge == 300*time.Millisecond }},
		{name: "hold cache beyond the contract's lag", env: map[string]string{"HOLD_CACHE_AGE": "1.5s"}, wantErr: "HOLD_CACHE_AGE"},
		{name: "hold cache not a duration", env: map[string]string{"HOLD_CACHE_AGE": "soon"}, wantErr: "HOLD_CACHE_AGE"},
		{name: "rate limits off", env: map[string]string{"RATE_LIMIT": "off", "RATE_LIMIT_POLL": "9"},
			check: func(c Config) bool { return c.RateLimits == api.RateLimits{} }},
		{name: "poll limit with its burst", env: map[string]string{"RATE_LIMIT_POLL": "3:7"},
			check: func(c Config) bool { return c.RateLimits.Poll == api.Limit{Rate: 3, Burst: 7} }},
		{name: "a limit alone bursts twice", env: map[string]string{"RATE_LIMIT_HOLD": "4"},
			check: func(c Config) bool { return c.RateLimits.Hold == api.Limit{Rate: 4, Burst: 8} }},
		{name: "rate limit neither on nor off", env: map[string]string{"RATE_LIMIT": "yes"}, wantErr: "RATE_LIMIT"},
		{name: "rate limit not a number", env: map[string]string{"RATE_LIMIT_IP": "ten"}, wantErr: "RATE_LIMIT_IP"},
		{name: "user limit", env: map[string]string{"RATE_LIMIT_USER": "5:9"},
			check: func(c Config) bool { return c.RateLimits.User == api.Limit{Rate: 5, Burst: 9} }},
		{name: "no admin key", env: map[string]string{"ADMIN_KEY": ""}, wantErr: "ADMIN_KEY"},
		{name: "short admin key", env: map[string]string{"ADMIN_KEY": strings.Repeat("k", 31)}, wantErr: "ADMIN_KEY"},
		{name: "no token secret", env: map[string]string{"TOKEN_SECRET": ""}, wantErr: "TOKEN_SECRET"},
		{name: "short token secret", env: map[string]string{"TOKEN_SECRET": "change-me"}, wantErr: "TOKEN_SECRET"},
		{name: "secrets of 32 characters", env: map[string]string{"ADMIN_KEY": strings.Repeat("a", 32), "TOKEN_SECRET": strings.Repeat("t", 32)},
			check: func(c Config) bool { return len(c.AdminKey) == 32 && len(c.TokenSecret) == 32 }},
		{name: "embedded needs no secrets", env: map[string]string{"ADMIN_KEY": "", "TOKEN_SECRET": "", "CONCERTD_EMBEDDED": "1"},
			check: func(c Config) bool { return c.Embedded && c.AdminKey == "" && c.TokenSecret == "" }},
		{name: "keys required by default", check: func(c Config) bool { return !c.UserAuthNone }},
		{name: "user auth none", env: map[string]string{"USER_AUTH": "none"}, check: func(c Config) bool { return c.UserAuthNone }},
		{name: "user auth something else", env: map[string]string{"USER_AUTH": "off"}, wantErr: "USER_AUTH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"ADMIN_KEY": testAdminKey, "TOKEN_SECRET": testTokenSecret}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := configFromEnv(func(k string) string { return env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr+"=") && !strings.HasPrefix(err.Error(), tc.wantErr+" ") {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}
