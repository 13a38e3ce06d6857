// Package redisstore keeps concertd's shared fast state in Redis: the waiting queue,
// admission leases, seat holds and sold-seat bitmaps. Each decision is one Lua
// script from scripts/ and one round trip; every key of a script carries its
// concert's hash tag, so the store runs unchanged on Redis Cluster.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/scripts"
)

// Store implements the engine's shared-state roles (Queue, Holds, Payments,
// Expiries) on Redis. It rebuilds a schedule's sold seats from the ledger itself
// whenever Redis lost them (see recovery.go).
type Store struct {
	rdb      redis.UniversalClient
	keys     keys
	rebuilds rebuilds
	idBlock  idBlock // this instance's share of reservation ids
	status   batcher[statusReq, engine.TokenStatus]
	holds    batcher[holdReq, holdAnswer]
	bests    batcher[engine.BestRequest, []engine.Reservation]
	entries  batcher[enterReq, engine.EnterResult]
}

// EngineLedger is what a ledger must be to sit beside a Store in the engine
// (Roles): the ledger's required roles.
type EngineLedger interface {
	engine.Users
	engine.Concerts
	engine.Wallet
	engine.Sales
	engine.Pinger
}

// Roles puts s in every engine role the shared state plays and l in the ledger's:
// the required ones, and each optional one l implements. Setting s in each field
// is also the compiler's check that Store plays those roles.
func (s *Store) Roles(l EngineLedger) engine.Stores {
	st := engine.Stores{
		Users: l, Concerts: l, Wallet: l, Sales: l, Ledger: l,
		Queue: s, Holds: s, Payments: s, Expiries: s, Shared: s,
		KeyMirror: s, Reissuer: s, Gates: s, Best: s, Closer: s,
	}
	st.External, _ = l.(engine.ExternalUsers)
	st.KeyLedger, _ = l.(engine.UserKeyLedger)
	st.Presale, _ = l.(engine.PresaleLedger)
	st.Fence, _ = l.(engine.PaymentFence)
	st.Multi, _ = l.(engine.MultiSeller)
	return st
}

// New returns a Store whose keys start with prefix (default "concertd"), which
// rebuilds a schedule's sold seats from ledger when Redis lost them. A nil ledger
// suits a store that holds no seats: its holds on a schedule never loaded fail.
func New(rdb redis.UniversalClient, prefix string, ledger Ledger) *Store {
	if prefix == "" {
		prefix = "concertd"
	}
	s := &Store{rdb: rdb, keys: keys{prefix: prefix}, rebuilds: rebuilds{ledger: ledger}}
	s.idBlock.source, _ = ledger.(IDBlocks)
	s.status = batcher[statusReq, engine.TokenStatus]{name: "status", max: statusBatch, flushers: statusFlushers, run: s.runStatus}
	s.holds = batcher[holdReq, holdAnswer]{name: "hold", max: holdBatch, flushers: holdFlushers, run: s.runHolds}
	s.bests = batcher[engine.BestRequest, []engine.Reservation]{name: "best", max: bestBatch, flushers: bestFlushers, run: s.runBests}
	s.entries = batcher[enterReq, engine.EnterResult]{name: "enter", max: enterBatch, flushers: enterFlushers, run: s.runEnters}
	return s
}

// Client returns the underlying client (for the expiry listener and the outbox relay).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.keys.prefix }

// script loads scripts/<name>.lua once; Run uses EVALSHA and falls back to EVAL on
// NOSCRIPT, so a flushed or restarted Redis needs no reload step.
func script(name string) *redis.Script { return redis.NewScript(scripts.Source(name)) }

// runReply runs sc and returns its reply, which must have n entries: an error
// reply becomes the engine's error (domainError), a reply of another length an
// "unexpected reply" error.
func (s *Store) runReply(ctx context.Context, sc *redis.Script, op string, keys []string, n int, args ...any) ([]any, error) {
	v, err := sc.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return nil, domainError(op, err)
	}
	if len(v) != n {
		return nil, fmt.Errorf("redis %s: unexpected reply %v", op, v)
	}
	return v, nil
}

// The Lua scripts the store runs, one handle each (see script).
var (
	bestScript          = script("best")
	rowsScript          = script("rows")
	boughtScript        = script("bought")
	liveTokenScript     = script("live_token")
	holdScript          = script("hold")
	enterScript         = script("enter")
	statusScript        = script("status")
	admitScript         = script("admit")
	patchScript         = script("patch")
	rateLimitScript     = script("ratelimit")
	reissueScript       = script("reissue")
	cancelScript        = script("cancel")
	payBeginScript      = script("pay_begin")
	payAbortScript      = script("pay_abort")
	payCompleteScript   = script("pay_complete")
	releaseScript       = script("release")
	markSoldScript      = script("mark_sold")
	idsAboveScript      = script("seat_ids_above")
	userKeyGensScript   = script("user_key_gens")
	userKeyBucketScript = script("user_key_bucket")
)

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return engine.Unavailable("redis", err)
	}
	return nil
}

// domainError turns a script's error reply into the engine's error, and anything
// else (connection refused, timeout, LOADING) into ErrUnavailable. Scripts signal
// domain outcomes with redis.error_reply("CODE message"), where CODE is an engine Code,
// or NOT_REBUILT (errNotRebuilt).
func domainError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, redis.Nil) {
		return err
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		if e, ok := scriptOutcome(msg); ok {
			return e
		}
		// No contract code, so not in scriptCodes: the store rebuilds and
		// retries, and nothing above it sees it.
		if strings.HasPrefix(msg, "NOT_REBUILT") {
			return errNotRebuilt
		}
		if strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "READONLY") ||
			strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN") {
			return engine.Unavailable("redis "+op, err)
		}
		return fmt.Errorf("redis %s: %w", op, err)
	}
	return engine.Unavailable("redis "+op, err)
}

// scriptOutcome reads a script's "CODE message" outcome as the engine's error; ok
// is false when CODE is none of scriptCodes.
func scriptOutcome(msg string) (err error, ok bool) {
	code, rest, _ := strings.Cut(msg, " ")
	e, ok := scriptCodes[engine.Code(code)]
	if !ok {
		return nil, false
	}
	if rest == "" {
		return e, true
	}
	return &engine.Error{Code: e.Code, Message: rest}, true
}

// scriptCodes are the domain outcomes a script may return as an error reply.
var scriptCodes = map[engine.Code]*engine.Error{
	engine.CodeNotAdmitted:         engine.ErrNotAdmitted,
	engine.CodeTokenExpired:        engine.ErrTokenExpired,
	engine.CodeSeatTaken:           engine.ErrSeatTaken,
	engine.CodeHoldLimitReached:    engine.ErrHoldLimitReached,
	engine.CodeSeatsUnavailable:    engine.ErrSeatsUnavailable,
	engine.CodeTicketLimitReached:  engine.ErrTicketLimitReached,
	engine.CodeReservationNotFound: engine.ErrReservationNotFound,
	engine.CodeAlreadyPaid:         engine.ErrAlreadyPaid,
	engine.CodeReservationExpired:  engine.ErrReservationExpired,
	engine.CodeConcertNotFound:     engine.ErrConcertNotFound,
	engine.CodeInvalidSeat:         engine.ErrInvalidSeat,
}
