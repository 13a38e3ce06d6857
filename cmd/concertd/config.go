package main

import (
	"fmt"
	"strconv"
	"time"
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
	LogLevel        string
}

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
	c.MaxHoldsPerUser = 4
	if v := getenv("MAX_HOLDS_PER_USER"); v != "" {
		if c.MaxHoldsPerUser, err = strconv.Atoi(v); err != nil || c.MaxHoldsPerUser < 1 {
			return Config{}, fmt.Errorf("MAX_HOLDS_PER_USER=%q is not a positive integer", v)
		}
	}
	if !c.Embedded && c.AdminKey == "" {
		return Config{}, fmt.Errorf("ADMIN_KEY is required (or CONCERTD_EMBEDDED=1 to try it out)")
	}
	return c, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
