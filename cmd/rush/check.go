package main

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/concertd/concertd/test/rushtest"
)

// report prints the sale's figures, the endpoints' rows and what the shared
// invariant check found.
func (s *sale) report(elapsed time.Duration, rows []endpointRow, inv rushtest.Invariants) {
	w := os.Stdout
	c := s.cfg
	payments := s.Purchases()
	at := make([]time.Time, len(payments))
	for i, p := range payments {
		at[i] = p.At
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })

	fmt.Fprintf(w, "\n== rush report: %d users, %d seats, %d per user, concurrency %d ==\n", c.users, c.seats, c.perUser, c.concurrency)
	if so := s.SoldOut.Load(); so > 0 {
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
		s.Entered.Load(), c.users, s.peakGor, float64(s.peakHeap)/(1<<20))
	s.mu.Unlock()
	if err := s.Err(); err != nil {
		fmt.Fprintf(w, "buyers who stopped on an unexpected answer: %v\n", err)
	}
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
		mark(inv.MoneyErr == nil && m.OK()), m.Charged, m.FinalBalances, m.Charged-m.FinalBalances, m.Paid, errText(inv.MoneyErr))
	fmt.Fprintf(w, "%s every paid reservation is PAID and owned: %d wrong %v %v\n",
		mark(inv.ResErr == nil && len(inv.NotPaid) == 0), len(inv.NotPaid), head(inv.NotPaid), errText(inv.ResErr))
	fmt.Fprintf(w, "%s payments with unknown outcome: %d\n", mark(inv.Unknown == 0), inv.Unknown)
	fmt.Fprintf(w, "%s admission at most %d/s (bucket of 1 s) and %d active: %d stats samples, worst excess over rate×(T+1) %d, peak active %d\n",
		mark(ad.OK()), ad.Rate, ad.MaxActive, ad.Samples, max(ad.Excess, 0), ad.PeakActive)
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
