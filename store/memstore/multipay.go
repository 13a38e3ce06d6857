package memstore

import (
	"context"
	"slices"

	"github.com/concertd/concertd/engine"
)

var _ engine.MultiSeller = (*Store)(nil)

// SellMany sells several seats for one payment of their sum; see engine.MultiSeller.
// Every check runs before anything is written, so a refusal changes nothing.
func (s *Store) SellMany(ctx context.Context, sales []engine.Sale, idem engine.Idempotency) ([]engine.Sale, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok, err := s.remembered(salesUser(sales), idem, "sellMany"); err != nil || ok {
		return slices.Clone(e.sales), err
	}
	if len(sales) == 0 {
		return nil, engine.ErrInvalidAmount
	}
	var total int64
	perConcert := map[int64]int{}
	for i, sale := range sales {
		if sale.Amount <= 0 || sale.UserID != sales[0].UserID {
			return nil, engine.ErrInvalidAmount
		}
		k := seatKey{sale.ScheduleID, sale.Seat}
		if owner, sold := s.sales[k]; sold {
			if owner.ReservationID == sale.ReservationID {
				return nil, engine.ErrAlreadyPaid
			}
			return nil, engine.ErrSeatTaken
		}
		if _, paid := s.byRes[sale.ReservationID]; paid {
			return nil, engine.ErrAlreadyPaid
		}
		for _, o := range sales[:i] {
			if o.ReservationID == sale.ReservationID {
				return nil, engine.ErrAlreadyPaid
			}
			if o.ScheduleID == sale.ScheduleID && o.Seat == sale.Seat {
				return nil, engine.ErrSeatTaken
			}
		}
		if sale.ScheduleID < 1 || sale.ScheduleID > int64(len(s.schedules)) {
			return nil, engine.ErrScheduleNotFound
		}
		sc := s.schedules[sale.ScheduleID-1]
		if sale.Seat < 1 || sale.Seat > sc.SeatCount {
			return nil, engine.ErrInvalidSeat
		}
		perConcert[sc.ConcertID]++
		total += sale.Amount
	}
	u := s.user(sales[0].UserID)
	if u == nil {
		return nil, engine.ErrUserNotFound
	}
	if u.balance < total {
		return nil, engine.ErrInsufficientBalance
	}
	// The concerts' ticket limits, counted in sales as the PostgreSQL ledger does.
	for concertID, adding := range perConcert {
		c := s.concerts[concertID-1]
		if c.Queue.MaxTicketsPerUser <= 0 {
			continue
		}
		n := 0
		for k, sl := range s.sales {
			if sl.UserID == sales[0].UserID && s.schedules[k.schedule-1].ConcertID == concertID {
				n++
			}
		}
		if n+adding > c.Queue.MaxTicketsPerUser {
			return nil, engine.ErrTicketLimitReached
		}
	}
	if !s.takeAttempt(sales[0].Attempt, sales[0].ReservationID) {
		return nil, errAttemptVoided
	}
	u.balance -= total
	s.payments++
	at := s.now()
	u.history = append(u.history, engine.LedgerEntry{At: at, Type: "payment", Amount: -total})
	out := make([]engine.Sale, len(sales))
	for i, sale := range sales {
		sale.PaymentID, sale.Balance, sale.At, sale.Attempt = s.payments, u.balance, at, 0
		k := seatKey{sale.ScheduleID, sale.Seat}
		s.sales[k] = sale
		s.byRes[sale.ReservationID] = k
		out[i] = sale
	}
	s.remember(sales[0].UserID, idem, idemEntry{op: "sellMany", sales: slices.Clone(out)})
	return out, nil
}

// IdempotentSales returns the stored result of an earlier SellMany with this key.
func (s *Store) IdempotentSales(ctx context.Context, userID int64, idem engine.Idempotency) ([]engine.Sale, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok, err := s.remembered(userID, idem, "sellMany")
	return slices.Clone(e.sales), ok, err
}

func salesUser(sales []engine.Sale) int64 {
	if len(sales) == 0 {
		return 0
	}
	return sales[0].UserID
}
