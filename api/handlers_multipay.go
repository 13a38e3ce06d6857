package api

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

// payMany answers POST /api/payments with reservationIds: one payment of several
// holds, all or nothing.
func (s *Server) payMany(ctx context.Context, rc *fasthttp.RequestCtx, t engine.Token, req payRequest, key string) error {
	sales, err := s.e.PayMany(ctx, t, req.ReservationIDs, req.Amount, key)
	if err != nil {
		return err
	}
	ids := make([]int64, len(sales))
	var amount int64
	for i, sl := range sales {
		ids[i] = sl.ReservationID
		amount += sl.Amount
	}
	return writeValue(rc, fasthttp.StatusCreated, struct {
		Status         string  `json:"status"`
		PaymentID      int64   `json:"paymentId"`
		ReservationIDs []int64 `json:"reservationIds"`
		Amount         int64   `json:"amount"`
		CurrentBalance int64   `json:"currentBalance"`
	}{"COMPLETED", sales[0].PaymentID, ids, amount, sales[0].Balance})
}
