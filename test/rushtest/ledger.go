package rushtest

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Ledger is what the database says happened, summed.
type Ledger struct {
	Sales, DistinctSeats, Payments int64
	Balances, PaymentsTotal        int64
	Charges, PaymentHistory        int64
	// Orphans are payments without a sale or sales without a payment: half of a
	// step that must happen whole.
	Orphans int64
}

// ReadLedger sums the ledger at url.
func ReadLedger(ctx context.Context, url string) (Ledger, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return Ledger{}, err
	}
	defer conn.Close(ctx)
	var l Ledger
	err = conn.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM sales),
		(SELECT count(DISTINCT (schedule_id, seat_number)) FROM sales),
		(SELECT count(*) FROM payments),
		(SELECT coalesce(sum(balance), 0) FROM users),
		(SELECT coalesce(sum(amount), 0) FROM payments),
		(SELECT coalesce(sum(amount), 0) FROM balance_history WHERE type = 'charge'),
		(SELECT coalesce(sum(amount), 0) FROM balance_history WHERE type = 'payment'),
		(SELECT count(*) FROM payments p WHERE NOT EXISTS (SELECT 1 FROM sales s WHERE s.reservation_id = p.reservation_id))
		+ (SELECT count(*) FROM sales s WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.reservation_id = s.reservation_id))`,
	).Scan(&l.Sales, &l.DistinctSeats, &l.Payments, &l.Balances, &l.PaymentsTotal, &l.Charges, &l.PaymentHistory, &l.Orphans)
	return l, err
}

// Check returns the first broken invariant: a seat sold twice, money created or
// lost, a payment without its sale, or a payment a buyer was told about that the
// database does not have. told are the payments buyers were told of and charged
// what they were told was charged (0: not known).
func (l Ledger) Check(told []Purchase, charged int64) error {
	switch {
	case l.Sales != l.DistinctSeats:
		return fmt.Errorf("a seat was sold twice: %d sales of %d distinct seats", l.Sales, l.DistinctSeats)
	case l.Orphans != 0:
		return fmt.Errorf("%d payments and sales without their other half", l.Orphans)
	case l.Payments != l.Sales:
		return fmt.Errorf("%d payments for %d sales", l.Payments, l.Sales)
	case l.Balances+l.PaymentsTotal != l.Charges:
		return fmt.Errorf("money is not conserved: balances %d + payments %d != charges %d", l.Balances, l.PaymentsTotal, l.Charges)
	case -l.PaymentHistory != l.PaymentsTotal:
		return fmt.Errorf("balance history records %d paid, payments %d", -l.PaymentHistory, l.PaymentsTotal)
	case charged != 0 && l.Charges != charged:
		return fmt.Errorf("buyers were told %d was charged, the ledger has %d", charged, l.Charges)
	case int64(len(told)) > l.Payments:
		return fmt.Errorf("buyers were told of %d payments, the ledger has %d: a payment was lost", len(told), l.Payments)
	}
	seen := map[int]int64{}
	for _, p := range told {
		if u, dup := seen[p.Seat]; dup {
			return fmt.Errorf("seat %d was sold to users %d and %d", p.Seat, u, p.UserID)
		}
		seen[p.Seat] = p.UserID
	}
	return nil
}

// SoldTo returns the owner of each sold seat of a schedule.
func SoldTo(ctx context.Context, url string, scheduleID int64) (map[int]int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT seat_number, user_id FROM sales WHERE schedule_id = $1`, scheduleID)
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	var seat int
	var user int64
	_, err = pgx.ForEachRow(rows, []any{&seat, &user}, func() error { out[seat] = user; return nil })
	return out, err
}
