package api

import (
	"cmp"
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
	return decodeWith(body, func(w *struct {
		ScheduleID *wholeNumber `json:"concertScheduleId"`
		Quantity   *wholeNumber `json:"quantity"`
		Section    *string      `json:"section"`
	}) (bestRequest, error) {
		schedule, errSchedule := positiveID("concertScheduleId", w.ScheduleID)
		// The upper bound is maxHoldsPerUser, the engine's to check.
		quantity, errQuantity := requiredInt("quantity", w.Quantity, 1, engine.MaxSeatCount, engine.CodeBadRequest, "quantity must be 1 to maxHoldsPerUser")
		r := bestRequest{ScheduleID: schedule, Quantity: int(quantity)}
		var errSection error
		if w.Section != nil {
			if *w.Section == "" {
				errSection = engine.Errorf(engine.CodeBadRequest, "section, when given, names a section")
			}
			r.Section = *w.Section
		}
		return r, cmp.Or(errSchedule, errQuantity, errSection)
	})
}

type bestJSON struct {
	Reservations []reservationJSON `json:"reservations"`
}

// holdBest answers POST /api/reservations/best: 201 with one reservation per
// seat, in seat order.
func (s *Server) holdBest(ctx context.Context, rc *fasthttp.RequestCtx) error {
	t, req, err := checkThenBody(rc, s.token, decodeBest)
	if err != nil {
		return err
	}
	rs, err := s.e.HoldBest(ctx, t, req.ScheduleID, req.Quantity, req.Section)
	return reply(rc, fasthttp.StatusCreated, rs, err, bestView)
}

func bestView(rs []engine.Reservation) bestJSON {
	out := bestJSON{Reservations: make([]reservationJSON, len(rs))}
	for i, r := range rs {
		out.Reservations[i] = reservationView(r)
	}
	return out
}
