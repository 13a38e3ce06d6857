package rushtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/concertd/concertd/client"
)

// Invariants is what the check after a sale found, from the outside (the API)
// and, given a database, from the ledger.
type Invariants struct {
	Payments       int      // payments buyers were told succeeded
	Unknown        int      // payments whose outcome no buyer learned
	Duplicates     []string // seats two told payments share
	StatsSold      int64
	StatsHeld      int64
	StatsErr       error
	MapChecked     bool
	MapReserved    int
	MapNotReserved []string // paid seats the map does not show as reserved
	MapErr         error
	Money          MoneyCheck
	MoneyErr       error
	NotPaid        []string // paid reservations not PAID or not owned
	ResErr         error
	Admission      Admission
	// Ledger is the database's sums, when Check was given one.
	Ledger    *Ledger
	LedgerErr error // reading it, or what it breaks
}

// MoneyCheck: what buyers were charged minus what they hold now must be what
// they paid, as seen in the 201 answers.
type MoneyCheck struct {
	Charged, FinalBalances, Paid int64
}

// OK reports whether money is conserved.
func (m MoneyCheck) OK() bool { return m.Charged-m.FinalBalances == m.Paid }

// Err returns the first broken invariant, nil when all hold. A seat map that
// could not be read is not a failure (the checker may not have been admitted).
func (inv Invariants) Err() error {
	switch {
	case len(inv.Duplicates) > 0:
		return fmt.Errorf("seats sold twice (buyers' view): %v", head(inv.Duplicates))
	case inv.StatsErr != nil:
		return fmt.Errorf("stats: %w", inv.StatsErr)
	case inv.StatsSold != int64(inv.Payments):
		return fmt.Errorf("stats say %d sold, buyers were told of %d payments", inv.StatsSold, inv.Payments)
	case inv.MapChecked && (len(inv.MapNotReserved) > 0 || inv.MapReserved != inv.Payments):
		return fmt.Errorf("seat map: %d reserved for %d payments; paid seats not reserved: %v", inv.MapReserved, inv.Payments, head(inv.MapNotReserved))
	case inv.MoneyErr != nil:
		return fmt.Errorf("balances: %w", inv.MoneyErr)
	case !inv.Money.OK():
		m := inv.Money
		return fmt.Errorf("money is not conserved: charged %d - balances %d != paid %d", m.Charged, m.FinalBalances, m.Paid)
	case inv.ResErr != nil:
		return fmt.Errorf("reservations: %w", inv.ResErr)
	case len(inv.NotPaid) > 0:
		return fmt.Errorf("paid reservations not PAID: %v", head(inv.NotPaid))
	case inv.Unknown > 0:
		return fmt.Errorf("%d payments with an unknown outcome", inv.Unknown)
	case !inv.Admission.OK():
		a := inv.Admission
		return fmt.Errorf("admission: %d samples, excess over rate×(T+1) %d, peak active %d of %d", a.Samples, a.Excess, a.PeakActive, a.MaxActive)
	case inv.LedgerErr != nil:
		return fmt.Errorf("ledger: %w", inv.LedgerErr)
	}
	return nil
}

func head(s []string) []string { return s[:min(len(s), 3)] }

// Check reads what the sale left, through the API and, when databaseURL is not
// "", in the ledger, and holds it to what buyers were told.
func (s *Sale) Check(ctx context.Context, databaseURL string) Invariants {
	payments := s.Purchases()
	s.mu.Lock()
	inv := Invariants{Payments: len(payments), Unknown: len(s.unknown)}
	s.mu.Unlock()
	inv.Admission = CheckAdmission(s.Samples(), s.Config.AdmitPerSecond, s.Config.MaxActive)
	inv.Duplicates = DuplicateSeats(payments)

	st, err := s.Admin.Stats(ctx, s.ConcertID)
	inv.StatsErr = err
	inv.StatsSold, inv.StatsHeld = st.Sold, st.Held
	inv.MapErr = s.checkMap(ctx, payments, &inv)

	for _, p := range payments {
		inv.Money.Paid += p.Amount
	}
	var mu sync.Mutex
	inv.MoneyErr = ForEach(ctx, len(s.Users), 64, func(ctx context.Context, i int) error {
		u := s.Users[i]
		if u.Token == "" || u.charges == 0 {
			return nil // never charged (new users start at 0)
		}
		b, err := s.Buyers.Balance(ctx, u.Token, 1)
		if err != nil {
			return err
		}
		mu.Lock()
		inv.Money.Charged += u.Charged
		inv.Money.FinalBalances += b.CurrentBalance
		mu.Unlock()
		return nil
	})
	inv.ResErr = ForEach(ctx, len(payments), 64, func(ctx context.Context, i int) error {
		p := payments[i]
		r, err := s.Buyers.Reservation(ctx, s.Users[p.User].Token, p.ReservationID)
		if client.StatusOf(err) == 0 && err != nil {
			return err
		}
		if err != nil || r.Status != client.Paid || r.SeatNumber != p.Seat {
			mu.Lock()
			inv.NotPaid = append(inv.NotPaid, fmt.Sprintf("reservation %d: %s seat %d %v", p.ReservationID, r.Status, r.SeatNumber, err))
			mu.Unlock()
		}
		return nil
	})
	if databaseURL != "" {
		l, err := ReadLedger(ctx, databaseURL)
		if err == nil {
			err = l.Check(payments, s.Charged())
		}
		inv.Ledger, inv.LedgerErr = &l, err
	}
	return inv
}

// checkMap reads the seat map with the checker's token: it entered before the
// crowd, so it was admitted first. If its token is gone (the sale outlasted
// ACTIVE_TTL), it enters again, behind whoever still waits.
func (s *Sale) checkMap(ctx context.Context, payments []Purchase, inv *Invariants) error {
	u := s.checker
	if u == nil {
		return errors.New("no checker")
	}
	if q, err := s.Queue.QueueStatus(ctx, u.Token); u.Token == "" || err != nil || q.Status != client.Active {
		q, err := s.enter(ctx, u)
		if err != nil {
			return err
		}
		u.Token = q.UserToken
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := WaitActive(wctx, s.Queue, u.Token, time.Second, 50*time.Millisecond); err != nil {
			return fmt.Errorf("checker: %w", err)
		}
	}
	// An instance serves a schedule's seat map from a view up to 100 ms old
	// (engine/seatview.go), so a map read just after the last payments may not
	// show them yet: a map that disagrees is read again for a second, and only
	// one that still disagrees then is a broken invariant.
	for deadline := time.Now().Add(time.Second); ; {
		body, err := s.Buyers.SeatMapRaw(ctx, u.Token, s.ScheduleID)
		if err != nil {
			return err
		}
		_, _, status := ParseSeatMap(body)
		inv.MapChecked, inv.MapReserved, inv.MapNotReserved = true, 0, nil
		for _, st := range status {
			if st == 'r' {
				inv.MapReserved++
			}
		}
		for _, p := range payments {
			if status[p.Seat] != 'r' {
				inv.MapNotReserved = append(inv.MapNotReserved, fmt.Sprintf("seat %d is %q", p.Seat, status[p.Seat]))
			}
		}
		if len(inv.MapNotReserved) == 0 && inv.MapReserved == len(payments) || time.Now().After(deadline) {
			return nil
		}
		if err := Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// DuplicateSeats lists the seats that more than one purchase names.
func DuplicateSeats(ps []Purchase) []string {
	type key struct {
		s    int64
		seat int
	}
	n := map[key]int{}
	for _, p := range ps {
		n[key{p.ScheduleID, p.Seat}]++
	}
	var out []string
	for k, c := range n {
		if c > 1 {
			out = append(out, fmt.Sprintf("schedule %d seat %d ×%d", k.s, k.seat, c))
		}
	}
	slices.Sort(out)
	return out
}

// ParseSeatMap reads a seat map answer without encoding/json (a 50,000-seat map
// is megabytes, and a load driver shares the CPU with the server it measures):
// the available seats, how many are pending, and every seat's status's first
// letter.
func ParseSeatMap(body []byte) (available []int, pending int, byStatus map[int]byte) {
	byStatus = map[int]byte{}
	available, pending, _ = ScanSeatMap(body, func(n int, st byte) { byStatus[n] = st })
	return
}

// ScanSeatMap is ParseSeatMap without the per-seat map, which shoppers do not
// need: it calls each, if not nil, with every seat and its status's first letter.
func ScanSeatMap(body []byte, each func(seat int, status byte)) (available []int, pending, reserved int) {
	seatKey, statusKey := []byte(`"seatNumber":`), []byte(`"status":"`)
	for {
		i := bytes.Index(body, seatKey)
		if i < 0 {
			return
		}
		body = body[i+len(seatKey):]
		n, j := 0, 0
		for j < len(body) && body[j] >= '0' && body[j] <= '9' {
			n = n*10 + int(body[j]-'0')
			j++
		}
		k := bytes.Index(body, statusKey)
		if k < 0 {
			return
		}
		body = body[k+len(statusKey):]
		if len(body) == 0 {
			return
		}
		if each != nil {
			each(n, body[0])
		}
		switch body[0] {
		case 'a':
			available = append(available, n)
		case 'p':
			pending++
		case 'r':
			reserved++
		}
	}
}

// AdmissionSample is one read of the concert's stats during the sale. The server
// read its counts at some instant between Sent and Recv.
type AdmissionSample struct {
	Sent, Recv                time.Time
	Admitted, Active, Waiting int64
}

// Admission is what the samples say about admission against the concert's
// settings: at most admitPerSecond a second (the token bucket holds at most one
// second's worth, so over any span T at most rate×(T+1)), never more than
// maxActive ACTIVE at once.
type Admission struct {
	Rate, MaxActive int
	Samples         int
	Admitted        int64         // from the first sample to the last
	Span            time.Duration // first admission to the last sample with anyone waiting
	SpanAdmitted    int64
	Average         float64 // SpanAdmitted / Span
	Best1s, Best5s  float64 // highest rate between samples at least 1 s (5 s) apart
	Excess          int64   // largest count above the bound over any two samples; > 0 breaks the rate
	PeakActive      int64
	AtCap           int // samples with active == maxActive
}

// OK reports whether admission kept to the settings.
func (a Admission) OK() bool {
	return a.Samples >= 2 && a.Excess <= 0 && a.PeakActive <= int64(a.MaxActive)
}

// CheckAdmission holds samples to the concert's settings.
func CheckAdmission(ss []AdmissionSample, admitPerSecond, maxActive int) Admission {
	a := Admission{Rate: admitPerSecond, MaxActive: maxActive, Samples: len(ss), Excess: math.MinInt64}
	if len(ss) == 0 {
		return a
	}
	a.Admitted = ss[len(ss)-1].Admitted - ss[0].Admitted
	for _, s := range ss {
		a.PeakActive = max(a.PeakActive, s.Active)
		if s.Active >= int64(maxActive) {
			a.AtCap++
		}
	}
	// The bound for every pair: the widest the server-side interval can have been
	// is from the earlier request's sending to the later one's answer.
	for i := range ss {
		for j := i + 1; j < len(ss); j++ {
			t := ss[j].Recv.Sub(ss[i].Sent).Seconds()
			bound := int64(math.Floor(float64(admitPerSecond) * (t + 1)))
			a.Excess = max(a.Excess, ss[j].Admitted-ss[i].Admitted-bound)
		}
	}
	best := func(w time.Duration) float64 {
		r, j := 0.0, 0
		for i := range ss {
			for j < len(ss) && ss[j].Recv.Sub(ss[i].Recv) < w {
				j++
			}
			if j == len(ss) {
				break
			}
			r = max(r, Rate(ss[j].Admitted-ss[i].Admitted, ss[j].Recv.Sub(ss[i].Recv)))
		}
		return r
	}
	a.Best1s, a.Best5s = best(time.Second), best(5*time.Second)
	// The average while admission was limited by the settings, not by demand:
	// from the first sample after admission began to the last one that still saw
	// someone waiting.
	first, last := -1, -1
	for i, s := range ss {
		if first < 0 && i > 0 && s.Admitted > ss[0].Admitted {
			first = i - 1
		}
		if s.Waiting > 0 {
			last = i
		}
	}
	if first >= 0 && last > first {
		a.Span = ss[last].Recv.Sub(ss[first].Recv)
		a.SpanAdmitted = ss[last].Admitted - ss[first].Admitted
		a.Average = Rate(a.SpanAdmitted, a.Span)
	}
	return a
}

// Rate is n per second over d (0 for no time).
func Rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
