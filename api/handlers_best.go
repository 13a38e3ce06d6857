package api

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/concertd/concertd/engine"
)

type bestRequest struct {
	ScheduleID int64
	Quantity   int
	Section    string // "" = any
}

func decodeBest(body []byte) (bestRequest, error) {
	var w struct {
		ScheduleID *wholeNumber `json:"concertScheduleId"`
		Quantity   *wholeNumber `json:"quantity"`
		Section    *string      `json:"section"`
	}
	if err := decodeObject(body, &w); err != nil {
		return bestRequest{}, err
	}
	schedule, err := positiveID("concertScheduleId", w.ScheduleID)
	if err != nil {
		return bestRequest{}, err
	}
	if w.Quantity == nil {
		return bestRequest{}, missing("quantity")
	}
	// The upper bound is maxHoldsPerUser, the engine's to check.
	if w.Quantity.big || w.Quantity.n < 1 || w.Quantity.n > engine.MaxSeatCount {
		return bestRequest{}, engine.Errorf(engine.CodeBadRequest, "quantity must be 1 to maxHoldsPerUser")
	}
	r := bestRequest{ScheduleID: schedule, Quantity: int(w.Quantity.n)}
	if w.Section != nil {
		if *w.Section == "" {
			return bestRequest{}, engine.Errorf(engine.CodeBadRequest, "section, when given, names a section")
		}
		r.Section = *w.Section
	}
	return r, nil
}

type bestJSON struct {
	Reservations []reservationJSON `json:"reservations"`
}

// holdBest answers POST /api/reservations/best: 201 with one reservation per
// seat, in seat order.
func (s *Server) holdBest(ctx context.Context, rc *fasthttp.RequestCtx) error {
	t, err := s.token(rc)
	if err != nil {
		return err
	}
	req, err := decodeBest(rc.Request.Body())
	if err != nil {
		return err
	}
	rs, err := s.e.HoldBest(ctx, t, req.ScheduleID, req.Quantity, req.Section)
	if err != nil {
		return err
	}
	out := bestJSON{Reservations: make([]reservationJSON, len(rs))}
	for i, r := range rs {
		out.Reservations[i] = reservationView(r)
	}
	return writeValue(rc, fasthttp.StatusCreated, out)
}
