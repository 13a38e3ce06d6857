package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/concertd/concertd/engine"
)

var _ engine.MultiSeller = (*Store)(nil)

// sellManySQL is sellSQL for several seats of one user: one statement, so one
// implicit transaction, all or nothing. The steps are sellSQL's (see there), with
// the seats as arrays:
//
//	item   the seats, one row each, in (schedule, seat) order so two payments
//	       touching the same seats insert their sale rows in the same order
//	sched  every seat is in its schedule (else the debit matches nothing)
//	debit  one conditional UPDATE of the total
//	pay    ONE payments row, of the total; it carries the first reservation
//	sale   one sales row per seat: the primary key refuses a seat sold before
//	tix    the user's bought count per concert, + the seats of that concert
//	hist   ONE balance_history row of minus the total
//	evt    ONE outbox event naming every reservation and seat
//	att    the attempt's name, under the first reservation (VoidAttempt's)
//	idem   the idempotency key with the whole answer
//
// $1 schedules, $2 seats, $3 reservations, $4 amounts (parallel arrays), $5 user,
// $6 total, $7 key (empty for none), $8 fingerprint, $9 attempt (0 for none).
// Returns payment id, new balance and time, or no row.
const sellManySQL = `
WITH item AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[])
        AS i(schedule_id, seat, reservation_id, amount)
), sched AS (
    SELECT count(*) AS n FROM item JOIN schedules s ON s.id = item.schedule_id AND item.seat BETWEEN 1 AND s.seat_count
), debit AS (
    UPDATE users SET balance = balance - $6::bigint
    WHERE id = $5::bigint AND balance >= $6::bigint AND (SELECT n FROM sched) = cardinality($1::bigint[])
    RETURNING balance
), pay AS (
    INSERT INTO payments (user_id, reservation_id, amount)
    SELECT $5, ($3::bigint[])[1], $6 FROM debit
    RETURNING id, created_at
), sale AS (
    INSERT INTO sales (schedule_id, seat_number, reservation_id, user_id, payment_id, amount, balance_after, created_at)
    SELECT item.schedule_id, item.seat, item.reservation_id, $5, pay.id, item.amount, debit.balance, pay.created_at
    FROM item, pay, debit ORDER BY item.schedule_id, item.seat
), tix AS (
    INSERT INTO tickets (user_id, concert_id, bought, cap)
    SELECT $5, c.id, count(*), c.max_tickets_per_user
    FROM pay, item JOIN schedules sc ON sc.id = item.schedule_id JOIN concerts c ON c.id = sc.concert_id
    GROUP BY c.id, c.max_tickets_per_user ORDER BY c.id
    ON CONFLICT (user_id, concert_id) DO UPDATE SET bought = tickets.bought + EXCLUDED.bought, cap = EXCLUDED.cap
), hist AS (
    INSERT INTO balance_history (user_id, type, amount, created_at)
    SELECT $5, 'payment', -$6, pay.created_at FROM pay
), evt AS (
    INSERT INTO outbox (topic, payload, created_at)
    SELECT 'payment.completed',
           jsonb_build_object('paymentId', pay.id, 'reservationIds', to_jsonb($3::bigint[]),
                              'scheduleIds', to_jsonb($1::bigint[]), 'seats', to_jsonb($2::int[]),
                              'userId', $5, 'amount', $6),
           pay.created_at
    FROM pay
), att AS (
    INSERT INTO payment_attempts (attempt, reservation_id)
    SELECT $9::bigint, ($3::bigint[])[1] FROM pay WHERE $9::bigint <> 0
), idem AS (
    INSERT INTO idempotency_keys (user_id, key, fingerprint, result)
    SELECT $5, $7::text, $8::text,
           jsonb_build_object('op', 'sellMany', 'paymentId', pay.id, 'reservationIds', to_jsonb($3::bigint[]),
                              'scheduleIds', to_jsonb($1::bigint[]), 'seats', to_jsonb($2::int[]),
                              'amounts', to_jsonb($4::bigint[]), 'userId', $5, 'balance', debit.balance,
                              'atMicros', (extract(epoch FROM pay.created_at) * 1000000)::bigint)
    FROM pay, debit WHERE $7::text <> ''
)
SELECT pay.id, debit.balance, pay.created_at FROM pay, debit`

// SellMany is the payment transaction for several seats; see engine.MultiSeller.
func (s *Store) SellMany(ctx context.Context, sales []engine.Sale, idem engine.Idempotency) ([]engine.Sale, error) {
	if len(sales) == 0 {
		return nil, engine.ErrInvalidAmount
	}
	var (
		scheds  = make([]int64, len(sales))
		seats   = make([]int32, len(sales))
		resIDs  = make([]int64, len(sales))
		amounts = make([]int64, len(sales))
		total   int64
		user    = sales[0].UserID
	)
	for i, sl := range sales {
		if sl.Amount <= 0 || sl.UserID != user || sl.Seat < 1 || sl.Seat > engine.MaxSeatCount {
			return nil, engine.ErrInvalidAmount
		}
		scheds[i], seats[i], resIDs[i], amounts[i] = sl.ScheduleID, int32(sl.Seat), sl.ReservationID, sl.Amount
		total += sl.Amount
	}
	var (
		paymentID, balance int64
		at                 time.Time
	)
	err := s.pool.QueryRow(ctx, sellManySQL, scheds, seats, resIDs, amounts, user, total,
		idem.Key, idem.Fingerprint, sales[0].Attempt).Scan(&paymentID, &balance, &at)
	if err == nil {
		out := make([]engine.Sale, len(sales))
		for i, sl := range sales {
			sl.PaymentID, sl.Balance, sl.At, sl.Attempt = paymentID, balance, at.UTC(), 0
			out[i] = sl
		}
		return out, nil
	}
	if outcome, explain := sellError(err); !explain {
		return nil, outcome
	}
	return s.sellManyFailed(ctx, sales, idem, err)
}

// sellManyFailed explains why sellManySQL changed nothing: a retry's stored
// answer first, then the first seat sellFailed finds a reason for, then the
// balance (every seat was sellable, so the total did not fit).
func (s *Store) sellManyFailed(ctx context.Context, sales []engine.Sale, idem engine.Idempotency, cause error) ([]engine.Sale, error) {
	if prev, ok, err := s.IdempotentSales(ctx, sales[0].UserID, idem); err != nil || ok {
		return prev, err
	}
	for _, sl := range sales {
		if _, err := s.sellFailed(ctx, sl, engine.Idempotency{}, pgx.ErrNoRows); !errors.Is(err, engine.ErrInsufficientBalance) {
			return nil, err
		}
	}
	if !errors.Is(cause, pgx.ErrNoRows) {
		return nil, engine.Unavailable("postgresql", errors.New("payment collided with a row that has since gone; retry"))
	}
	return nil, engine.ErrInsufficientBalance
}

// storedSales is a SellMany's remembered answer.
type storedSales struct {
	Op             string  `json:"op"`
	PaymentID      int64   `json:"paymentId"`
	ReservationIDs []int64 `json:"reservationIds"`
	ScheduleIDs    []int64 `json:"scheduleIds"`
	Seats          []int   `json:"seats"`
	Amounts        []int64 `json:"amounts"`
	UserID         int64   `json:"userId"`
	Balance        int64   `json:"balance"`
	AtMicros       int64   `json:"atMicros"`
}

// IdempotentSales returns the stored result of an earlier SellMany with this key;
// engine.ErrIdempotencyKeyReused if the key was used for another request.
func (s *Store) IdempotentSales(ctx context.Context, userID int64, idem engine.Idempotency) ([]engine.Sale, bool, error) {
	if idem.Key == "" {
		return nil, false, nil
	}
	fp, result, found, err := s.storedAnswer(ctx, userID, idem.Key)
	if !found || err != nil {
		return nil, false, err
	}
	var r storedSales
	if fp != idem.Fingerprint || json.Unmarshal(result, &r) != nil || r.Op != "sellMany" ||
		len(r.ScheduleIDs) != len(r.ReservationIDs) || len(r.Seats) != len(r.ReservationIDs) || len(r.Amounts) != len(r.ReservationIDs) {
		return nil, false, engine.ErrIdempotencyKeyReused
	}
	at := time.UnixMicro(r.AtMicros).UTC()
	out := make([]engine.Sale, len(r.ReservationIDs))
	for i := range out {
		out[i] = engine.Sale{PaymentID: r.PaymentID, ReservationID: r.ReservationIDs[i], ScheduleID: r.ScheduleIDs[i],
			Seat: r.Seats[i], UserID: r.UserID, Amount: r.Amounts[i], Balance: r.Balance, At: at}
	}
	return out, true, nil
}
