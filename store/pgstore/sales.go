package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/concertd/concertd/engine"
)

// sellSQL is the whole payment in one statement: one round trip, one implicit
// transaction, all or nothing. Each step reads the previous one's rows, so nothing
// after the debit happens unless the seat exists and the balance sufficed:
//
//	sched  the seat is in the schedule (else no row: sellFailed says which)
//	debit  conditional UPDATE: balance >= amount, never read-modify-write
//	pay    payments row; its reservation_id UNIQUE refuses a second payment
//	sale   sales row; its primary key (schedule_id, seat_number) refuses a second
//	       buyer even if Redis forgot the seat was sold
//	tix    the user's bought count on the concert, +1; past the concert's
//	       maxTicketsPerUser its CHECK aborts everything (TICKET_LIMIT_REACHED)
//	hist   the negative balance_history row
//	evt    the outbox event the relay publishes later
//	att    the attempt's name (engine.PaymentFence): if VoidAttempt got there
//	       first, its primary key undoes everything above
//	idem   the idempotency key with the answer, last and without ON CONFLICT: a
//	       repeated key raises a unique violation that undoes everything above
//
// A violated constraint aborts the statement, so a seat conflict charges nothing.
// Concurrent payments of one user queue on the user row; concurrent payments of one
// seat queue on the sales key; neither waits for the other while holding its own,
// so they cannot deadlock.
//
// $1 schedule, $2 seat, $3 reservation, $4 user, $5 amount, $6 key (empty for none),
// $7 fingerprint, $8 attempt (0 for none). Returns payment id, new balance and time, or no row.
const sellSQL = `
WITH sched AS (
    SELECT id FROM schedules WHERE id = $1::bigint AND $2::int BETWEEN 1 AND seat_count
), debit AS (
    UPDATE users SET balance = balance - $5::bigint
    WHERE id = $4::bigint AND balance >= $5::bigint AND EXISTS (SELECT 1 FROM sched)
    RETURNING balance
), pay AS (
    INSERT INTO payments (user_id, reservation_id, amount)
    SELECT $4, $3::bigint, $5 FROM debit
    RETURNING id, created_at
), sale AS (
    INSERT INTO sales (schedule_id, seat_number, reservation_id, user_id, payment_id, amount, balance_after, created_at)
    SELECT $1, $2, $3, $4, pay.id, $5, debit.balance, pay.created_at FROM pay, debit
), tix AS (
    INSERT INTO tickets (user_id, concert_id, bought, cap)
    SELECT $4, c.id, 1, c.max_tickets_per_user
    FROM pay, schedules sc JOIN concerts c ON c.id = sc.concert_id WHERE sc.id = $1::bigint
    ON CONFLICT (user_id, concert_id) DO UPDATE SET bought = tickets.bought + 1, cap = EXCLUDED.cap
), hist AS (
    INSERT INTO balance_history (user_id, type, amount, created_at)
    SELECT $4, 'payment', -$5, pay.created_at FROM pay
), evt AS (
    INSERT INTO outbox (topic, payload, created_at)
    SELECT 'payment.completed',
           jsonb_build_object('paymentId', pay.id, 'reservationId', $3, 'scheduleId', $1,
                              'seat', $2, 'userId', $4, 'amount', $5),
           pay.created_at
    FROM pay
), att AS (
    INSERT INTO payment_attempts (attempt, reservation_id)
    SELECT $8::bigint, $3 FROM pay WHERE $8::bigint <> 0
), idem AS (
    INSERT INTO idempotency_keys (user_id, key, fingerprint, result)
    SELECT $4, $6::text, $7::text,
           jsonb_build_object('op', 'sell', 'paymentId', pay.id, 'reservationId', $3, 'scheduleId', $1,
                              'seat', $2, 'userId', $4, 'amount', $5, 'balance', debit.balance,
                              'atMicros', (extract(epoch FROM pay.created_at) * 1000000)::bigint)
    FROM pay, debit WHERE $6::text <> ''
)
SELECT pay.id, debit.balance, pay.created_at FROM pay, debit`

// Sell is the payment transaction; see engine.Sales.
func (s *Store) Sell(ctx context.Context, sale engine.Sale, idem engine.Idempotency) (engine.Sale, error) {
	if sale.Amount <= 0 {
		return engine.Sale{}, engine.ErrInvalidAmount
	}
	err := s.pool.QueryRow(ctx, sellSQL, sale.ScheduleID, sale.Seat, sale.ReservationID, sale.UserID,
		sale.Amount, idem.Key, idem.Fingerprint, sale.Attempt).Scan(&sale.PaymentID, &sale.Balance, &sale.At)
	if err == nil {
		sale.At = sale.At.UTC()
		sale.Attempt = 0
		return sale, nil
	}
	if outcome, explain := sellError(err); !explain {
		return engine.Sale{}, outcome
	}
	return s.sellFailed(ctx, sale, idem, err)
}

// sellError reads the error of sellSQL or sellManySQL: the outcome when the
// error is one (a voided attempt, the ticket cap, or anything translate knows),
// or explain when the statement matched no row or collided with another
// payment, sale or idempotency key, which sellFailed must explain.
func sellError(err error) (outcome error, explain bool) {
	switch {
	case isUniqueViolation(err, "payment_attempts_pkey"):
		return errAttemptVoided, false
	case isCheckViolation(err, "tickets_cap_check"):
		return engine.ErrTicketLimitReached, false
	case errors.Is(err, pgx.ErrNoRows),
		isUniqueViolation(err, "payments_reservation_id_key"),
		isUniqueViolation(err, "sales_pkey"),
		isUniqueViolation(err, "sales_reservation_id_key"),
		isUniqueViolation(err, "idempotency_keys_pkey"):
		return nil, true
	}
	return translate(err), false
}

// sellFailed explains, in one more round trip, why sellSQL changed nothing. Sales and
// payments are never deleted, and a unique violation is raised only after the other
// transaction committed, so what it reads is what the statement collided with.
// Order matters: a retry's stored answer first, then the seat's owner (a paid
// reservation is ALREADY_PAID even if the balance is now too low), then the rest.
func (s *Store) sellFailed(ctx context.Context, sale engine.Sale, idem engine.Idempotency, cause error) (engine.Sale, error) {
	var (
		fp        *string
		result    []byte
		owner     *int64
		paid      bool
		seatCount *int
		user      bool
	)
	err := s.pool.QueryRow(ctx, `
		SELECT k.fingerprint, k.result,
		       (SELECT reservation_id FROM sales WHERE schedule_id = $1 AND seat_number = $2),
		       EXISTS (SELECT 1 FROM payments WHERE reservation_id = $3),
		       (SELECT seat_count FROM schedules WHERE id = $1),
		       EXISTS (SELECT 1 FROM users WHERE id = $4)
		FROM (SELECT 1) AS one
		LEFT JOIN idempotency_keys k ON k.user_id = $4 AND k.key = $5 AND $5 <> ''`,
		sale.ScheduleID, sale.Seat, sale.ReservationID, sale.UserID, idem.Key,
	).Scan(&fp, &result, &owner, &paid, &seatCount, &user)
	if err != nil {
		return engine.Sale{}, translate(err)
	}
	switch {
	case fp != nil:
		var r storedResult
		if err := r.decode(*fp, result, idem, "sell"); err != nil {
			return engine.Sale{}, err
		}
		return r.sale(), nil
	case owner != nil && *owner == sale.ReservationID:
		return engine.Sale{}, engine.ErrAlreadyPaid
	case owner != nil:
		return engine.Sale{}, engine.ErrSeatTaken
	case paid:
		return engine.Sale{}, engine.ErrAlreadyPaid
	case seatCount == nil:
		return engine.Sale{}, engine.ErrScheduleNotFound
	case sale.Seat < 1 || sale.Seat > *seatCount:
		return engine.Sale{}, engine.ErrInvalidSeat
	case !user:
		return engine.Sale{}, engine.ErrUserNotFound
	case !errors.Is(cause, pgx.ErrNoRows):
		// A collision with a row that is gone (an idempotency key purged in between):
		// nothing was charged, and trying again will tell.
		return engine.Sale{}, engine.Unavailable("postgresql", errors.New("payment collided with a row that has since gone; retry"))
	}
	return engine.Sale{}, engine.ErrInsufficientBalance
}

// storedAnswer reads the fingerprint and answer stored under a user's
// idempotency key; found is false when the key was never used.
func (s *Store) storedAnswer(ctx context.Context, userID int64, key string) (fp string, result []byte, found bool, err error) {
	err = s.pool.QueryRow(ctx,
		`SELECT fingerprint, result FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
		userID, key).Scan(&fp, &result)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, translate(err)
	}
	return fp, result, true, nil
}

// IdempotentSale returns the stored result of an earlier Sell with this key, if any;
// engine.ErrIdempotencyKeyReused if the key was used for another request.
func (s *Store) IdempotentSale(ctx context.Context, userID int64, idem engine.Idempotency) (engine.Sale, bool, error) {
	if idem.Key == "" {
		return engine.Sale{}, false, nil
	}
	fp, result, found, err := s.storedAnswer(ctx, userID, idem.Key)
	if !found || err != nil {
		return engine.Sale{}, false, err
	}
	var r storedResult
	if err := r.decode(fp, result, idem, "sell"); err != nil {
		return engine.Sale{}, false, err
	}
	return r.sale(), true, nil
}

const saleColumns = `payment_id, reservation_id, schedule_id, seat_number, user_id, amount, balance_after, created_at`

func scanSale(row pgx.Row) (engine.Sale, error) {
	var sl engine.Sale
	err := row.Scan(&sl.PaymentID, &sl.ReservationID, &sl.ScheduleID, &sl.Seat, &sl.UserID,
		&sl.Amount, &sl.Balance, &sl.At)
	sl.At = sl.At.UTC()
	return sl, err
}

// SaleByReservation returns the sale of a reservation; found=false if unpaid.
// Served by sales_reservation_id_key.
func (s *Store) SaleByReservation(ctx context.Context, reservationID int64) (engine.Sale, bool, error) {
	sl, err := scanSale(s.pool.QueryRow(ctx,
		`SELECT `+saleColumns+` FROM sales WHERE reservation_id = $1`, reservationID))
	if errors.Is(err, pgx.ErrNoRows) {
		return engine.Sale{}, false, nil
	}
	if err != nil {
		return engine.Sale{}, false, translate(err)
	}
	return sl, true, nil
}

// SoldSeats returns which of the given seats of a schedule are sold, by seat number.
// Served by sales_pkey.
func (s *Store) SoldSeats(ctx context.Context, scheduleID int64, seats []int) ([]engine.Sale, error) {
	nums := make([]int32, 0, len(seats))
	for _, n := range seats {
		if n >= 1 && n <= engine.MaxSeatCount {
			nums = append(nums, int32(n))
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+saleColumns+` FROM sales
		WHERE schedule_id = $1 AND seat_number = ANY ($2::int[]) ORDER BY seat_number`, scheduleID, nums)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []engine.Sale{}
	for rows.Next() {
		sl, err := scanSale(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, sl)
	}
	return out, translate(rows.Err())
}

// AllSoldSeats returns every sold seat number of a schedule in order, for rebuilding
// Redis. Served by sales_pkey.
func (s *Store) AllSoldSeats(ctx context.Context, scheduleID int64) ([]int, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT seat_number FROM sales WHERE schedule_id = $1 ORDER BY seat_number`, scheduleID)
	if err != nil {
		return nil, translate(err)
	}
	seats, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, translate(err)
	}
	if seats == nil {
		seats = []int{}
	}
	return seats, nil
}

// MaxReservationID is the highest reservation id a sale carries, 0 if none.
// Served by sales_reservation_id_key (max of a btree is one index probe).
func (s *Store) MaxReservationID(ctx context.Context) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(reservation_id), 0) FROM sales`).Scan(&id)
	return id, translate(err)
}

// OutboxEvent is one event written by a transaction, waiting to be published.
type OutboxEvent struct {
	ID        int64
	Topic     string
	Payload   []byte // JSON
	CreatedAt time.Time
}

// RelayOutbox hands up to limit unsent events, oldest first, to publish and marks
// them sent, all in one transaction; it returns how many it relayed. FOR UPDATE
// SKIP LOCKED lets several relays run at once, each taking rows the others have not
// locked, so no event goes out twice in one pass. If publish fails nothing is
// marked and the events go out on a later pass: delivery is at least once.
func (s *Store) RelayOutbox(ctx context.Context, limit int, publish func(ctx context.Context, events []OutboxEvent) error) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id, topic, payload, created_at FROM outbox
			WHERE sent_at IS NULL ORDER BY id LIMIT $1
			FOR UPDATE SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxEvent, error) {
			var e OutboxEvent
			err := r.Scan(&e.ID, &e.Topic, &e.Payload, &e.CreatedAt)
			e.CreatedAt = e.CreatedAt.UTC()
			return e, err
		})
		if err != nil || len(events) == 0 {
			return err
		}
		if err := publish(ctx, events); err != nil {
			return &publishError{err}
		}
		ids := make([]int64, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox SET sent_at = now() WHERE id = ANY ($1)`, ids); err != nil {
			return err
		}
		n = len(events)
		return nil
	})
	var pe *publishError
	if errors.As(err, &pe) {
		return 0, pe.err
	}
	if err != nil {
		return 0, translate(err)
	}
	return n, nil
}

// publishError keeps the publisher's own error out of translate, which is for
// database errors only.
type publishError struct{ err error }

func (e *publishError) Error() string { return e.err.Error() }

// outboxLagSQL reads the oldest unsent event through outbox_unsent_idx (the
// partial index on id WHERE sent_at IS NULL): ids grow with time.
const outboxLagSQL = `
SELECT coalesce(extract(epoch FROM now() - created_at), 0)::float8
FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 1`

// OutboxLag is how long the oldest unrelayed event has waited; 0 when none waits.
func (s *Store) OutboxLag(ctx context.Context) (time.Duration, error) {
	var secs float64
	err := s.pool.QueryRow(ctx, outboxLagSQL).Scan(&secs)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, translate(err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// BoughtCounts counts each user's sales on a concert's schedules. Run once per
// concert after the shared state lost its data; a sequential scan of the
// concert's sales is fine at that rate.
func (s *Store) BoughtCounts(ctx context.Context, concertID int64) (map[int64]int, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.user_id, count(*) FROM sales s JOIN schedules sc ON sc.id = s.schedule_id
		WHERE sc.concert_id = $1 GROUP BY s.user_id`, concertID)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var uid int64
		var n int
		if err := rows.Scan(&uid, &n); err != nil {
			return nil, translate(err)
		}
		out[uid] = n
	}
	return out, translate(rows.Err())
}
