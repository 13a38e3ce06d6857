package engine

import (
	"context"
	"strconv"
)

// BalanceView is a user's balance with their newest history rows.
type BalanceView struct {
	Balance int64
	History []LedgerEntry
}

// Charge adds money to the token user's balance. idemKey may be empty.
func (e *Engine) Charge(ctx context.Context, t Token, amount int64, idemKey string) (int64, error) {
	if amount < 1 || amount > MaxChargeAmount {
		return 0, ErrInvalidAmount
	}
	idem := Idempotency{Key: idemKey, Fingerprint: "charge:" + strconv.FormatInt(amount, 10)}
	return e.wallet.Charge(ctx, t.UserID, amount, MaxBalance, idem)
}

// Balance returns the token user's balance and newest history; limit 0 means 50.
func (e *Engine) Balance(ctx context.Context, t Token, limit int) (BalanceView, error) {
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 200 {
		return BalanceView{}, Errorf(CodeBadRequest, "limit must be 1 to 200")
	}
	b, h, err := e.wallet.Balance(ctx, t.UserID, limit)
	if err != nil {
		return BalanceView{}, err
	}
	return BalanceView{Balance: b, History: h}, nil
}
