package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/concertd/concertd/engine"
)

// createUserSQL inserts the user and, with a key, the key's row in one statement,
// so one commits only with the other. Creations' keys are kept under user_id 0,
// which no user has (ids start at 1).
//
// $1 name, $2 email, $3 idempotency key (empty for none), $4 fingerprint.
const createUserSQL = `
WITH u AS (
    INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id
), idem AS (
    INSERT INTO idempotency_keys (user_id, key, fingerprint, result)
    SELECT 0, $3::text, $4::text, jsonb_build_object('op', 'createUser', 'userId', u.id)
    FROM u WHERE $3::text <> ''
)
SELECT id FROM u`

// CreateUser stores a user; see engine.Users.
//
// A retry of a creation that committed fails on the email (or on the key, if the
// email changed), so a failure with a key reads the key first. A retry racing the
// first attempt waits on the email's unique index until that commits, and then
// finds the key.
func (s *Store) CreateUser(ctx context.Context, name, email string, idem engine.Idempotency) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, createUserSQL, name, email, idem.Key, idem.Fingerprint).Scan(&id)
	if err == nil || idem.Key == "" ||
		!(isUniqueViolation(err, "users_email_key") || isUniqueViolation(err, "idempotency_keys_pkey")) {
		return id, translate(err)
	}
	var (
		fp     string
		result []byte
	)
	kerr := s.pool.QueryRow(ctx, `SELECT fingerprint, result FROM idempotency_keys WHERE user_id = 0 AND key = $1`,
		idem.Key).Scan(&fp, &result)
	if errors.Is(kerr, pgx.ErrNoRows) {
		return 0, translate(err) // the email is someone else's
	}
	if kerr != nil {
		return 0, translate(kerr)
	}
	var r storedResult
	if err := r.decode(fp, result, idem, "createUser"); err != nil {
		return 0, err
	}
	return r.UserID, nil
}

// UserExists reports whether a user id exists.
func (s *Store) UserExists(ctx context.Context, userID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, userID).Scan(&ok)
	return ok, translate(err)
}

// UserIDsAbove lists up to limit user ids greater than after, ascending; the
// primary key's index serves it as a range scan.
func (s *Store) UserIDsAbove(ctx context.Context, after int64, limit int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, translate(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return ids, translate(err)
}

// chargeSQL is the whole charge in one statement, so one round trip and one implicit
// transaction: the conditional UPDATE is the cap check (no read-modify-write in Go),
// and the history and idempotency rows exist only if it matched.
//
// The idempotency key is inserted last and without ON CONFLICT on purpose: a key
// that already exists raises a unique violation, which rolls back the whole
// statement, so a retry changes nothing; chargeFailed then reads the stored result.
// A concurrent retry waits on the first one's key (or user row) and ends the same way.
//
// $1 user id, $2 amount, $3 max balance, $4 idempotency key (empty for none), $5 fingerprint.
// Returns the new balance, or no row if the user is unknown or the cap would be passed.
const chargeSQL = `
WITH credit AS (
    UPDATE users SET balance = balance + $2::bigint
    WHERE id = $1::bigint AND balance + $2::bigint <= $3::bigint
    RETURNING balance
), hist AS (
    INSERT INTO balance_history (user_id, type, amount)
    SELECT $1, 'charge', $2 FROM credit
), idem AS (
    INSERT INTO idempotency_keys (user_id, key, fingerprint, result)
    SELECT $1, $4::text, $5::text, jsonb_build_object('op', 'charge', 'balance', credit.balance)
    FROM credit WHERE $4::text <> ''
)
SELECT balance FROM credit`

// Charge adds amount to the user's balance and records a "charge" history row.
func (s *Store) Charge(ctx context.Context, userID, amount, maxBalance int64, idem engine.Idempotency) (int64, error) {
	if amount <= 0 || amount > maxBalance {
		// Also keeps balance + amount far from int64 overflow in the UPDATE.
		return 0, engine.ErrInvalidAmount
	}
	var balance int64
	err := s.pool.QueryRow(ctx, chargeSQL, userID, amount, maxBalance, idem.Key, idem.Fingerprint).Scan(&balance)
	if err == nil {
		return balance, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) && !isUniqueViolation(err, "idempotency_keys_pkey") {
		return 0, translate(err)
	}
	return s.chargeFailed(ctx, userID, idem)
}

// chargeFailed explains why chargeSQL changed nothing. The stored key wins over
// everything else: a retry of a charge that succeeded must answer as it did even if
// the balance has since moved close to the cap.
func (s *Store) chargeFailed(ctx context.Context, userID int64, idem engine.Idempotency) (int64, error) {
	var (
		fp     *string
		result []byte
		exists bool
	)
	err := s.pool.QueryRow(ctx, `
		SELECT k.fingerprint, k.result, EXISTS (SELECT 1 FROM users WHERE id = $1)
		FROM (SELECT 1) AS one
		LEFT JOIN idempotency_keys k ON k.user_id = $1 AND k.key = $2 AND $2 <> ''`,
		userID, idem.Key).Scan(&fp, &result, &exists)
	if err != nil {
		return 0, translate(err)
	}
	if fp != nil {
		var r storedResult
		if err := r.decode(*fp, result, idem, "charge"); err != nil {
			return 0, err
		}
		return r.Balance, nil
	}
	if !exists {
		return 0, engine.ErrUserNotFound
	}
	return 0, engine.ErrInvalidAmount
}

// balanceSQL reads the balance and its newest history rows in one statement, so the
// two agree with each other. Served by balance_history_user_id_idx.
const balanceSQL = `
SELECT u.balance, h.id, h.created_at, h.type, h.amount
FROM users u
LEFT JOIN LATERAL (
    SELECT id, created_at, type, amount FROM balance_history
    WHERE user_id = u.id ORDER BY id DESC LIMIT $2
) h ON true
WHERE u.id = $1
ORDER BY h.id DESC`

// Balance returns the current balance and the newest limit history rows, newest first.
func (s *Store) Balance(ctx context.Context, userID int64, limit int) (int64, []engine.LedgerEntry, error) {
	limit = max(limit, 0)
	rows, err := s.pool.Query(ctx, balanceSQL, userID, limit)
	if err != nil {
		return 0, nil, translate(err)
	}
	defer rows.Close()
	var (
		balance int64
		found   bool
		entries = []engine.LedgerEntry{}
	)
	for rows.Next() {
		var (
			id     *int64
			at     *time.Time
			typ    *string
			amount *int64
		)
		if err := rows.Scan(&balance, &id, &at, &typ, &amount); err != nil {
			return 0, nil, translate(err)
		}
		found = true
		if id != nil {
			entries = append(entries, engine.LedgerEntry{At: at.UTC(), Type: *typ, Amount: *amount})
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, translate(err)
	}
	if !found {
		return 0, nil, engine.ErrUserNotFound
	}
	return balance, entries, nil
}

// storedResult is an idempotency key's remembered answer. Op tells a key used for a
// charge from one used for a payment, so reusing a key across the two is refused
// even if the engine's fingerprints were to collide.
type storedResult struct {
	Op            string `json:"op"`
	Balance       int64  `json:"balance"`
	PaymentID     int64  `json:"paymentId"`
	ReservationID int64  `json:"reservationId"`
	ScheduleID    int64  `json:"scheduleId"`
	Seat          int    `json:"seat"`
	UserID        int64  `json:"userId"`
	Amount        int64  `json:"amount"`
	AtMicros      int64  `json:"atMicros"`
}

func (r *storedResult) decode(fingerprint string, raw []byte, idem engine.Idempotency, op string) error {
	if fingerprint != idem.Fingerprint {
		return engine.ErrIdempotencyKeyReused
	}
	if err := json.Unmarshal(raw, r); err != nil {
		return errors.New("postgresql: unreadable idempotency result: " + err.Error())
	}
	if r.Op != op {
		return engine.ErrIdempotencyKeyReused
	}
	return nil
}

func (r *storedResult) sale() engine.Sale {
	return engine.Sale{
		PaymentID:     r.PaymentID,
		ReservationID: r.ReservationID,
		ScheduleID:    r.ScheduleID,
		Seat:          r.Seat,
		UserID:        r.UserID,
		Amount:        r.Amount,
		Balance:       r.Balance,
		At:            time.UnixMicro(r.AtMicros).UTC(),
	}
}

// PurgeIdempotencyKeys deletes keys stored more than olderThan ago and returns how
// many. The contract keeps keys at least 24 hours; call it with 24h or more.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, olderThan time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM idempotency_keys WHERE created_at < now() - $1::bigint * interval '1 microsecond'`,
		olderThan.Microseconds())
	if err != nil {
		return 0, translate(err)
	}
	// Payment attempts' names (fence.go) are needed no longer than the keys.
	if _, err := s.pool.Exec(ctx,
		`DELETE FROM payment_attempts WHERE created_at < now() - $1::bigint * interval '1 microsecond'`,
		olderThan.Microseconds()); err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

func isCheckViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.ConstraintName == constraint
}
