package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// invariants is what the check after the sale found.
type invariants struct {
	Duplicates     []string // seats two client-seen payments share
	StatsSold      int64
	StatsHeld      int64
	StatsErr       error
	MapChecked     bool
	MapReserved    int
	MapNotReserved []string // paid seats the map does not show as reserved
	MapErr         error
	Money          moneyCheck
	MoneyErr       error
	NotPaid        []string // paid reservations not PAID or not owned
	ResErr         error
	Payments       int
	Unknown        int
	Admission      admissionCheck
}

// moneyCheck: what the clients charged minus what they hold now must be what they
// paid, as seen in the 201 answers.
type moneyCheck struct {
	Charged, FinalBalances, Paid int64
}

func (m moneyCheck) ok() bool { return m.Charged-m.FinalBalances == m.Paid }

func (inv invariants) ok() bool {
	return len(inv.Duplicates) == 0 && inv.StatsErr == nil && inv.StatsSold == int64(inv.Payments) &&
		(!inv.MapChecked || (len(inv.MapNotReserved) == 0 && inv.MapReserved == inv.Payments)) &&
		inv.MoneyErr == nil && inv.Money.ok() && len(inv.NotPaid) == 0 && inv.ResErr == nil && inv.Unknown == 0 &&
		inv.Admission.ok()
}

func (s *sale) check(ctx context.Context) invariants {
	s.mu.Lock()
	payments := slices.Clone(s.payments)
	inv := invariants{Payments: len(payments), Unknown: len(s.unknown)}
	inv.Admission = checkAdmission(s.samples, s.cfg.admitPerSecond, s.cfg.maxActive)
	s.mu.Unlock()
	inv.Duplicates = duplicateSeats(payments)

	st, err := s.admin.concertStats(ctx, s.concertID)
	inv.StatsErr = err
	inv.StatsSold, inv.StatsHeld = st.Sold, st.Held

	// The seat map needs an ACTIVE token: the checker entered before the crowd, so
	// it was admitted first. If its token is gone (the sale outlasted ACTIVE_TTL),
	// it enters again, behind whoever still waits.
	inv.MapErr = func() error {
		token := s.checkerToken
		if q, a, err := s.cl.status(ctx, token); token == "" || err != nil || !a.ok() || q.Status != "ACTIVE" {
			q, err := s.cl.enter(ctx, s.checkerID, s.concertID)
			if err != nil {
				return err
			}
			token = q.UserToken
			if err := s.cl.waitActive(ctx, token, time.Second, 30*time.Second); err != nil {
				return fmt.Errorf("checker: %w", err)
			}
		}
		m, a, err := s.cl.seatMap(ctx, token, s.scheduleID)
		if err != nil {
			return err
		}
		if !a.ok() {
			return fmt.Errorf("seat map: HTTP %d %s", a.Status, a.Code)
		}
		inv.MapChecked = true
		inv.MapReserved = m.reserved
		for _, p := range payments {
			if m.status[p.Seat] != 'r' {
				inv.MapNotReserved = append(inv.MapNotReserved, fmt.Sprintf("seat %d is %q", p.Seat, m.status[p.Seat]))
			}
		}
		return nil
	}()

	for _, p := range payments {
		inv.Money.Paid += p.Amount
	}
	var mu sync.Mutex
	inv.MoneyErr = forEach(ctx, len(s.users), 64, func(ctx context.Context, i int) error {
		u := s.users[i]
		if u.token == "" || u.charges == 0 {
			return nil // never charged (new users start at 0)
		}
		b, err := s.cl.balance(ctx, u.token)
		if err != nil {
			return err
		}
		mu.Lock()
		inv.Money.Charged += u.charged
		inv.Money.FinalBalances += b
		mu.Unlock()
		return nil
	})

	inv.ResErr = forEach(ctx, len(payments), 64, func(ctx context.Context, i int) error {
		p := payments[i]
		r, a, err := s.cl.reservation(ctx, s.users[p.User].token, p.ReservationID)
		if err != nil {
			return err
		}
		if !a.ok() || r.Status != "PAID" || r.SeatNumber != p.Seat {
			mu.Lock()
			inv.NotPaid = append(inv.NotPaid, fmt.Sprintf("reservation %d: HTTP %d %s %s seat %d", p.ReservationID, a.Status, a.Code, r.Status, r.SeatNumber))
			mu.Unlock()
		}
		return nil
	})
	return inv
}

func (s *sale) report(elapsed time.Duration, rows []endpointRow, inv invariants) {
	w := os.Stdout
	c := s.cfg
	s.mu.Lock()
	at := make([]time.Time, len(s.payments))
	for i, p := range s.payments {
		at[i] = p.At
	}
	s.mu.Unlock()
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })

	fmt.Fprintf(w, "\n== rush report: %d users, %d seats, %d per user, concurrency %d ==\n", c.users, c.seats, c.perUser, c.concurrency)
	if so := s.soldOut.Load(); so > 0 {
		fmt.Fprintf(w, "sold out in %s\n", time.Duration(so).Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "NOT sold out: %d of %d seats paid in %s\n", len(at), c.seats, elapsed.Round(time.Millisecond))
	}
	var span time.Duration
	if len(at) > 1 {
		span = at[len(at)-1].Sub(at[0])
	}
	fmt.Fprintf(w, "completed payments: %d; %.0f/s over the sale, %.0f/s from first to last payment, best 1 s window %d/s\n",
		len(at), rate(int64(len(at)), elapsed), rate(int64(len(at)), span), bestWindow(at, time.Second))
	var total int
	for _, r := range rows {
		total += r.Count
	}
	ad := inv.Admission
	avg := "n/a (no stats sample saw anyone waiting after admission began)"
	if ad.Span > 0 {
		avg = fmt.Sprintf("%.0f/s average (%d admitted over %s while anyone waited)", ad.Average, ad.SpanAdmitted, ad.Span.Round(100*time.Millisecond))
	}
	fmt.Fprintf(w, "admission: configured %d/s, maxActive %d; observed %s, best 1 s %.0f/s, best 5 s %.0f/s; %d admitted in all; active at maxActive in %d of %d samples\n",
		ad.Rate, ad.MaxActive, avg, ad.Best1s, ad.Best5s, ad.Admitted, ad.AtCap, ad.Samples)
	s.mu.Lock()
	fmt.Fprintf(w, "users: %d entered the queue of %d; rush itself peaked at %d goroutines, %.0f MiB heap\n",
		s.entered.Load(), c.users, s.peakGor, float64(s.peakHeap)/(1<<20))
	s.mu.Unlock()
	fmt.Fprintf(w, "requests: %d in %s = %.0f req/s\n\n", total, elapsed.Round(time.Millisecond), rate(int64(total), elapsed))
	writeRows(w, rows)

	fmt.Fprintln(w, "\n== invariants ==")
	mark := func(ok bool) string {
		if ok {
			return "ok  "
		}
		return "FAIL"
	}
	fmt.Fprintf(w, "%s every seat sold at most once (client view): %d payments, %d duplicate seats %v\n",
		mark(len(inv.Duplicates) == 0), inv.Payments, len(inv.Duplicates), head(inv.Duplicates))
	fmt.Fprintf(w, "%s stats: sold %d == payments seen %d (held now: %d) %v\n",
		mark(inv.StatsErr == nil && inv.StatsSold == int64(inv.Payments)), inv.StatsSold, inv.Payments, inv.StatsHeld, errText(inv.StatsErr))
	if inv.MapChecked {
		fmt.Fprintf(w, "%s seat map: %d reserved == %d payments; paid seats not reserved: %d %v\n",
			mark(len(inv.MapNotReserved) == 0 && inv.MapReserved == inv.Payments), inv.MapReserved, inv.Payments, len(inv.MapNotReserved), head(inv.MapNotReserved))
	} else {
		fmt.Fprintf(w, "skip seat map not checked: %v\n", inv.MapErr)
	}
	m := inv.Money
	fmt.Fprintf(w, "%s money conserved: charged %d - balances %d = %d, paid %d %v\n",
		mark(inv.MoneyErr == nil && m.ok()), m.Charged, m.FinalBalances, m.Charged-m.FinalBalances, m.Paid, errText(inv.MoneyErr))
	fmt.Fprintf(w, "%s every paid reservation is PAID and owned: %d wrong %v %v\n",
		mark(inv.ResErr == nil && len(inv.NotPaid) == 0), len(inv.NotPaid), head(inv.NotPaid), errText(inv.ResErr))
	fmt.Fprintf(w, "%s payments with unknown outcome: %d\n", mark(inv.Unknown == 0), inv.Unknown)
	fmt.Fprintf(w, "%s admission at most %d/s (bucket of 1 s) and %d active: %d stats samples, worst excess over rate×(T+1) %d, peak active %d\n",
		mark(ad.ok()), ad.Rate, ad.MaxActive, ad.Samples, max(ad.Excess, 0), ad.PeakActive)
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
