// Package pgstore is concertd's durable ledger on PostgreSQL: users, the catalog,
// balances and sales. It exists because Redis holds the sale's fast state but may
// lose it; the sales table's primary key is the final word on who owns a seat, and
// every movement of money is one SQL statement or transaction here.
//
// Nothing above this package sees pgx: driver errors become engine errors at the
// boundary (see translate), so the engine and the HTTP layer need no SQL knowledge.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/concertd/concertd/engine"
)

// Store implements the engine's ledger roles (Users, Concerts, Wallet, Sales),
// and redisstore.Ledger for rebuilding Redis, on a PostgreSQL connection pool.
type Store struct {
	pool *pgxpool.Pool
}

// sessionTimeouts bound every statement of the pool (unless DATABASE_URL sets its
// own): a payment's statement ends, committed or not, well inside the engine's
// payment window (10 s), so when the sweeper asks the ledger about a hold whose
// window ended, the answer cannot change afterwards. lock_timeout keeps a statement
// stuck behind a lock from using all of it.
var sessionTimeouts = map[string]string{
	"statement_timeout":                   "4s",
	"lock_timeout":                        "2s",
	"idle_in_transaction_session_timeout": "5s",
}

// Open connects to the database at url, checks that it answers and applies any
// pending migrations. Every error names PostgreSQL and fits on one line, because
// the binary prints it as its only word on a failed start.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included; say only what is wrong.
		return nil, errors.New("PostgreSQL: DATABASE_URL is not a valid connection string")
	}
	addr := fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default (max(4, NumCPU)) leaves the server idle while payments
		// wait on their commit flush; more connections let commits share a flush.
		cfg.MaxConns = 16
	}
	for name, v := range sessionTimeouts {
		if _, set := cfg.ConnConfig.RuntimeParams[name]; !set {
			cfg.ConnConfig.RuntimeParams[name] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s: %s", addr, oneLine(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("PostgreSQL at %s is unreachable: %w", addr,
			engine.Unavailable("postgresql", errors.New(oneLine(err))))
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("PostgreSQL at %s: migrations failed: %s", addr, oneLine(err))
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection of the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return translate(s.pool.Ping(ctx))
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// translate is the one place where driver errors become engine errors. Callers that
// can tell more from a constraint (Sell, Charge) look first and call it for the rest.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var ee *engine.Error
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		// The caller gave up; the database is not at fault.
		return fmt.Errorf("postgresql: %w", context.Canceled)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505" && pgErr.ConstraintName == "users_email_key":
			return engine.ErrEmailTaken
		case pgErr.Code == "23514" && pgErr.ConstraintName == "users_balance_check",
			pgErr.Code == "22003": // numeric out of range: an amount past bigint
			return engine.ErrInvalidAmount
		case pgErr.Code == "23514":
			// Any other CHECK: the Go side validates first, so this is input that
			// slipped past it, never a reason for a 500.
			return engine.Errorf(engine.CodeBadRequest, "value out of range (%s)", pgErr.ConstraintName)
		case unavailableClass(pgErr.Code):
			return engine.Unavailable("postgresql", errors.New(pgErr.Error()))
		}
		// A constraint or syntax error nobody expected is a bug: keep the text, drop
		// the type, so nothing above the store can come to depend on pgconn.
		return fmt.Errorf("postgresql: %s", oneLine(pgErr))
	}
	if connectionFailure(err) {
		if errors.Is(err, context.DeadlineExceeded) {
			return engine.Unavailable("postgresql", fmt.Errorf("%w: %s", context.DeadlineExceeded, oneLine(err)))
		}
		return engine.Unavailable("postgresql", errors.New(oneLine(err)))
	}
	return fmt.Errorf("postgresql: %s", oneLine(err))
}

// unavailableClass lists the SQLSTATEs that mean "try again later", not "you asked
// for something wrong": connection exceptions, shutdown, resource exhaustion, and
// serialization failures or deadlocks.
func unavailableClass(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "40"):
		return true
	case code == "57P01", code == "57P02", code == "57P03", code == "57014":
		return true
	}
	return false
}

func connectionFailure(err error) bool {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	return errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) ||
		pgconn.SafeToRetry(err) ||
		errors.As(err, &connErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, puddle.ErrClosedPool) ||
		strings.Contains(err.Error(), "conn closed")
}
