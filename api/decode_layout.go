package api

import "github.com/concertd/concertd/engine"

// sectionWire is one section of a schedule's layout as sent; the engine checks
// names, prices and the seat total.
type sectionWire struct {
	Name        *string      `json:"name"`
	Price       *wholeNumber `json:"price"`
	Rows        *wholeNumber `json:"rows"`
	SeatsPerRow *wholeNumber `json:"seatsPerRow"`
}

func decodeSections(i int, in []*sectionWire) ([]engine.Section, error) {
	if len(in) == 0 {
		return nil, engine.Errorf(engine.CodeBadRequest, "schedules[%d].sections must list at least one section", i)
	}
	out := make([]engine.Section, len(in))
	for j, w := range in {
		if w == nil || w.Name == nil {
			return nil, engine.Errorf(engine.CodeBadRequest, "schedules[%d].sections[%d].name is required", i, j)
		}
		if w.Price == nil || w.Price.big || w.Price.n < 1 || w.Price.n > engine.MaxChargeAmount {
			return nil, engine.Errorf(engine.CodeBadRequest, "schedules[%d].sections[%d].price must be 1 to %d", i, j, engine.MaxChargeAmount)
		}
		if w.Rows == nil || w.Rows.big || w.Rows.n < 1 || w.Rows.n > engine.MaxSeatCount {
			return nil, engine.Errorf(engine.CodeBadRequest, "schedules[%d].sections[%d].rows must be 1 to %d", i, j, engine.MaxSeatCount)
		}
		if w.SeatsPerRow == nil || w.SeatsPerRow.big || w.SeatsPerRow.n < 1 || w.SeatsPerRow.n > engine.MaxSeatCount {
			return nil, engine.Errorf(engine.CodeBadRequest, "schedules[%d].sections[%d].seatsPerRow must be 1 to %d", i, j, engine.MaxSeatCount)
		}
		out[j] = engine.Section{Name: *w.Name, Price: w.Price.n, Rows: int(w.Rows.n), SeatsPerRow: int(w.SeatsPerRow.n)}
	}
	return out, nil
}
