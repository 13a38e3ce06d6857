package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when CONCERTD_PPROF is set; see servePprof
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/concertd/concertd/api"
	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/engine/clock"
	"github.com/concertd/concertd/engine/identity"
	"github.com/concertd/concertd/store/memstore"
	"github.com/concertd/concertd/store/pgstore"
	"github.com/concertd/concertd/store/redisstore"
)

// Main is one concertd process. main hands off to it so a test can start the whole
// server on port 0 and stop it by cancelling the context.
type Main struct {
	Config Config
	Out    io.Writer // where embedded mode prints its banner
	Log    io.Writer // where the JSON log goes (os.Stderr when nil)

	// Addr is the address actually listened on, set once listening (port 0 resolves).
	Addr  string
	ready chan struct{}
	once  sync.Once
}

// Ready is closed once the server listens.
func (m *Main) Ready() <-chan struct{} {
	m.once.Do(func() { m.ready = make(chan struct{}) })
	return m.ready
}

// shutdownGrace bounds SIGTERM handling: the contract says exit within 10 s.
const shutdownGrace = 8 * time.Second

// Run serves until ctx ends, then drains in-flight requests and returns nil.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	m.Ready()
	level, err := zerolog.ParseLevel(c.LogLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	var logOut io.Writer = os.Stderr
	if m.Log != nil {
		logOut = m.Log
	}
	log := zerolog.New(logOut).Level(level).With().Timestamp().Str("service", "concertd").Logger()
	redis.SetLogger(redisLog{log})

	var (
		rdb    redis.UniversalClient
		ledger ledger
		pg     *pgstore.Store
	)
	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	if c.Embedded {
		mr, err := startEmbeddedRedis(bg)
		if err != nil {
			return err
		}
		defer mr.Close()
		rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
		ledger = memstore.New()
		// Embedded mode makes its own secrets and prints the admin key: it is
		// for trying concertd out, and nothing it keeps outlives the process.
		if c.AdminKey == "" {
			c.AdminKey = randomHex(24)
		}
		if c.TokenSecret == "" {
			c.TokenSecret = randomHex(32)
		}
	} else {
		if rdb, err = connectRedis(ctx, c.RedisURL, !c.AutoPipelineOff); err != nil {
			return err
		}
		if pg, err = openLedger(ctx, c.DatabaseURL); err != nil {
			_ = rdb.Close()
			return err
		}
		defer pg.Close()
		ledger = pg
	}
	defer rdb.Close()
	store := redisstore.New(rdb, c.RedisPrefix, ledger)

	if c.TokenSecret == "" { // configFromEnv refuses this; a Config built by hand must not slip by
		return errors.New("TOKEN_SECRET is required")
	}
	secret := []byte(c.TokenSecret)
	if c.UserAuthNone {
		log.Warn().Msg("USER_AUTH=none: a bare userId enters a waiting room, with no key; whoever knows a user's id can take that user's place. Only for a trusted network")
	}
	ecfg := c.Config
	ecfg.Secret = secret
	e := engine.New(ecfg, clock.Real{}, store.Roles(ledger))

	// The port is taken before any loop starts: an instance that cannot serve
	// must not admit anyone or sweep anything, even for a moment.
	// "tcp", not fasthttp's ListenAndServe's "tcp4": an IPv6 address
	// ([::1]:8080) listens on IPv6, [::]:8080 and :8080 on both, and an IPv4
	// address on IPv4 only.
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}

	var wg sync.WaitGroup
	// The loops stop, and are waited for, before the stores close (their deferred
	// Closes above run after this): a pool closed under a running loop fails its
	// step, and that would be logged as a failure at every exit.
	defer func() { stopBackground(); wg.Wait() }()
	goBackground := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	goBackground(func() {
		e.Run(bg, func(what string, err error) { log.Warn().Err(err).Str("loop", what).Msg("background step failed") })
	})
	goBackground(func() { listenExpiries(bg, store, e, log) })
	if pg != nil {
		goBackground(func() { relayOutbox(bg, pg, store, log) })
		goBackground(func() { purgeIdempotencyKeys(bg, pg, log) })
	}

	opts := api.Options{
		AdminKey: c.AdminKey, Log: log,
		Limiter: redisstore.NewLimiter(rdb, c.RedisPrefix, nil), RateLimits: c.RateLimits,
		UserAuthNone: c.UserAuthNone,
	}
	if pg != nil {
		opts.OutboxLag = pg.OutboxLag
	}
	opts.TrustedProxies = c.TrustedProxies
	if c.Identity != nil {
		opts.Identity = identity.NewTokens(c.Identity, e)
		log.Info().Strs("algorithms", c.Identity.Algorithms()).Msg("identity tokens from the site's login are accepted")
	}
	srv := api.New(e, opts).HTTPServer()
	m.Addr = ln.Addr().String()
	if c.Embedded {
		if err := seedDemo(ctx, e); err != nil {
			_ = ln.Close()
			return fmt.Errorf("demo concert: %w", err)
		}
		printBanner(m.Out, m.Addr, c.AdminKey, c.TokenSecret)
	}
	servePprof(c.PprofAddr, log)
	log.Info().Str("addr", m.Addr).Bool("embedded", c.Embedded).Msg("serving")
	close(m.ready)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn().Err(err).Msg("shutdown")
	}
	return nil
}

// ledger is a whole ledger store: PostgreSQL, or memory in embedded mode.
type ledger interface {
	engine.Users
	engine.Concerts
	engine.Wallet
	engine.Sales
	engine.Pinger
	engine.ExternalUsers
	engine.UserKeyLedger
	engine.PresaleLedger
	engine.PaymentFence
	engine.MultiSeller
	redisstore.Ledger
}

// servePprof exposes net/http/pprof on addr (CONCERTD_PPROF=127.0.0.1:6060) for
// profiling under load (bench/run.sh). Unset, nothing listens: the profiles show
// internals no client should see.
func servePprof(addr string, log zerolog.Logger) {
	if addr == "" {
		return
	}
	go func() {
		log.Info().Str("addr", addr).Msg("pprof")
		if err := http.ListenAndServe(addr, nil); err != nil {
			log.Warn().Err(err).Msg("pprof")
		}
	}()
}

// clusterReload is how often a Cluster client reads the slot map again. go-redis
// reads it at once on MOVED and ASK, and after a failed pipeline, but a single
// command meant for a killed master answers neither: it goes on dialling the dead
// server until the next periodic read (60 s by default), long after the replica
// took over (storetest's TestClusterWithReplicas shows it).
const clusterReload = 2 * time.Second

// connectRedis opens REDIS_URL: one redis:// URL, or several comma-separated
// host:port addresses meaning Redis Cluster. One URL of a cluster-enabled server
// means Cluster too, with that server as the seed: a plain client there would
// answer MOVED for two thirds of the concerts.
func connectRedis(ctx context.Context, url string, autoPipe bool) (redis.UniversalClient, error) {
	var rdb redis.UniversalClient
	if sentinelURL(url) {
		// Redis Sentinel: go-redis asks the sentinels for the master and follows it
		// through a failover.
		opt, err := redis.ParseFailoverURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: not a valid Sentinel URL: %v", err)
		}
		opt.PoolSize = 64
		rdb = redis.NewFailoverClient(opt)
	} else if strings.Contains(url, ",") {
		var addrs []string
		for _, a := range strings.Split(url, ",") {
			a = strings.TrimPrefix(strings.TrimSpace(a), "redis://")
			addrs = append(addrs, strings.TrimSuffix(a, "/0"))
		}
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, PoolSize: 64, ClusterStateReloadInterval: clusterReload})
	} else {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL %q: %w", url, err)
		}
		opt.PoolSize = 64
		one := redis.NewClient(opt)
		cluster, err := clusterEnabled(ctx, one)
		if err != nil {
			_ = one.Close()
			return nil, fmt.Errorf("redis at %s is unreachable: %v", url, err)
		}
		rdb = one
		if cluster {
			_ = one.Close()
			if opt.DB != 0 {
				return nil, fmt.Errorf("REDIS_URL %q: a Redis Cluster has only database 0", url)
			}
			rdb = redis.NewClusterClient(&redis.ClusterOptions{
				Addrs: []string{opt.Addr}, Username: opt.Username, Password: opt.Password,
				TLSConfig: opt.TLSConfig, PoolSize: 64, ClusterStateReloadInterval: clusterReload,
			})
		}
	}
	if autoPipe { // see autoPipeline
		ap, err := autoPipeline(rdb)
		if err != nil {
			_ = rdb.Close()
			return nil, fmt.Errorf("REDIS_AUTOPIPELINE: %w", err)
		}
		rdb = ap
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis at %s is unreachable: %v", url, err)
	}
	return rdb, nil
}

// sentinelURL reports whether REDIS_URL names Sentinel: a master_name parameter.
func sentinelURL(url string) bool {
	_, query, _ := strings.Cut(url, "?")
	for _, kv := range strings.Split(query, "&") {
		if k, _, _ := strings.Cut(kv, "="); k == "master_name" {
			return true
		}
	}
	return false
}

// clusterEnabled asks one server whether it is part of a Redis Cluster.
func clusterEnabled(ctx context.Context, rdb *redis.Client) (bool, error) {
	ictx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	info, err := rdb.Info(ictx, "cluster").Result()
	var refused redis.Error
	if errors.As(err, &refused) { // say, an ACL without INFO: not a server we can tell
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return strings.Contains(info, "cluster_enabled:1"), nil
}

// autoPipeline wraps a client in go-redis's (experimental) blocking
// autopipeliner: concurrent requests' commands share one write and one read
// instead of a syscall pair each. Every caller of the store waits for each
// answer before sending its next command, so batches may run unordered: no
// caller's own order depends on it.
func autoPipeline(rdb redis.UniversalClient) (redis.UniversalClient, error) {
	type autoPipeliner interface {
		AutoPipelineWithOptions(*redis.AutoPipelineOptions) (*redis.AutoPipeliner, error)
	}
	c, ok := rdb.(autoPipeliner)
	if !ok {
		return rdb, nil
	}
	ap, err := c.AutoPipelineWithOptions(&redis.AutoPipelineOptions{
		MaxBatchSize:         256,
		MaxConcurrentBatches: 4,
		Unordered:            true,
	})
	if err != nil {
		return nil, err
	}
	return pipelined{ap, rdb}, nil
}

// pipelined closes the autopipeliner, then the client under it.
type pipelined struct {
	*redis.AutoPipeliner
	base redis.UniversalClient
}

func (p pipelined) Close() error { return errors.Join(p.AutoPipeliner.Close(), p.base.Close()) }

// Unwrap gives the store the client under the autopipeliner: on Redis Cluster it
// reaches each master through it (keyspace events are per server).
func (p pipelined) Unwrap() redis.UniversalClient { return p.base }

func openLedger(ctx context.Context, url string) (*pgstore.Store, error) {
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pg, err := pgstore.Open(octx, url)
	if err != nil {
		return nil, err // pgstore names PostgreSQL in one line
	}
	return pg, nil
}

// startEmbeddedRedis runs miniredis in-process. miniredis expires keys only when
// its clock is moved, so a ticker moves it with the wall clock.
func startEmbeddedRedis(ctx context.Context) (*miniredis.Miniredis, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				mr.SetTime(now)
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return mr, nil
}

// listenExpiries feeds Redis's expiry events to the sweeper as hints, reconnecting
// after failures. Without notifications the periodic sweep still frees every hold.
func listenExpiries(ctx context.Context, s *redisstore.Store, e *engine.Engine, log zerolog.Logger) {
	for ctx.Err() == nil {
		if err := s.ListenExpiries(ctx, e.HintExpiry); err != nil && ctx.Err() == nil {
			log.Debug().Err(err).Msg("expiry listener stopped; retrying")
		}
		sleep(ctx, time.Second)
	}
}

// relayOutbox publishes committed ledger events to the Redis stream, at least once.
func relayOutbox(ctx context.Context, pg *pgstore.Store, s *redisstore.Store, log zerolog.Logger) {
	publish := func(ctx context.Context, events []pgstore.OutboxEvent) error {
		out := make([]redisstore.Event, len(events))
		for i, ev := range events {
			out[i] = redisstore.Event{ID: ev.ID, Topic: ev.Topic, Payload: ev.Payload}
		}
		return s.PublishEvents(ctx, out)
	}
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, err := pg.RelayOutbox(rctx, 500, publish)
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("outbox relay")
		}
		if n < 500 {
			sleep(ctx, 200*time.Millisecond)
		}
	}
}

// purgeIdempotencyKeys keeps keys 48 hours: the contract promises at least 24.
func purgeIdempotencyKeys(ctx context.Context, pg *pgstore.Store, log zerolog.Logger) {
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if _, err := pg.PurgeIdempotencyKeys(pctx, 48*time.Hour); err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("purge idempotency keys")
		}
		cancel()
		sleep(ctx, time.Hour)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redisLog sends go-redis's own messages (dial retries) through zerolog at debug
// level, so a down Redis is one line from us, not a burst from the driver.
type redisLog struct{ log zerolog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug().Str("component", "go-redis").Msgf(format, v...)
}
