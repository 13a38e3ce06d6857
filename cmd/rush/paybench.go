package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	concertd "github.com/concertd/concertd/client"
	"github.com/concertd/concertd/test/rushtest"
)

// runPayBench measures POST /api/payments alone: the untimed setup makes -users
// users with balances and ACTIVE tokens, each holding -per-user seats of its own
// (no conflicts); the timed part pays every hold with -concurrency requests in
// flight. It reports completed payments per second and checks money and seats.
func runPayBench(args []string) error {
	fs := flag.NewFlagSet("rush paybench", flag.ExitOnError)
	addr, adminKey := new(string), new(string)
	serverFlags(fs, addr, adminKey)
	users := fs.Int("users", 2000, "users")
	perUser := fs.Int("per-user", 4, "holds per user, all paid (keep <= MAX_HOLDS_PER_USER)")
	concurrency := fs.Int("concurrency", 64, "payments in flight")
	duration := fs.Duration("duration", 30*time.Second, "the timed part stops after this long")
	idem := fs.Bool("idempotency", true, "send an Idempotency-Key with each payment")
	_ = fs.Parse(args)

	const price = 50000
	setupCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := newRecorder()
	cl := newClient(*addr, *adminKey, max(*concurrency, 64), rec)
	t0 := time.Now()
	seats := *users * *perUser
	concertID, ids, err := cl.createConcert(setupCtx, "paybench "+t0.Format(time.RFC3339Nano),
		queueSettings{AdmitPerSecond: 10000, MaxActive: *users + 1},
		schedule{ConcertDate: t0.AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: seats, Price: price})
	if err != nil {
		return err
	}
	scheduleID := ids[0]
	tokens, err := newcomers(setupCtx, cl, concertID, *users, 64, func(i int) (string, string) {
		return fmt.Sprintf("pay %d", i), fmt.Sprintf("pay-%d-%d@rush.invalid", t0.UnixNano(), i)
	})
	if err == nil {
		err = waitAllActive(setupCtx, cl, tokens, 64, 200*time.Millisecond)
	}
	var jobs []ownHold
	if err == nil {
		jobs, err = holdOwnSeats(setupCtx, cl, scheduleID, tokens, *perUser, price, 64)
	}
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(os.Stderr, "rush paybench: %d users, %d holds ready in %s; paying with %d in flight\n",
		*users, len(jobs), time.Since(t0).Round(time.Millisecond), *concurrency)

	// Timed part: only payments.
	rec2 := newRecorder()
	cl = newClient(*addr, *adminKey, *concurrency, rec2)
	ctx, cancelRun := context.WithTimeout(context.Background(), *duration)
	defer cancelRun()
	var paidN atomic.Int64
	var mu sync.Mutex
	var at []time.Time
	start := time.Now()
	_ = forEach(ctx, len(jobs), *concurrency, func(ctx context.Context, i int) error {
		j := jobs[i]
		key := ""
		if *idem {
			key = fmt.Sprintf("pb-%d", j.ReservationID)
		}
		_, err := cl.api.Pay(ctx, j.token, concertd.PayRequest{ReservationID: j.ReservationID, PaymentAmount: price, IdempotencyKey: key})
		if err == nil {
			paidN.Add(1)
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
		}
		return nil
	})
	elapsed := time.Since(start)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	fmt.Printf("paybench: %d of %d payments completed in %s = %.0f payments/s (best 1 s window %d/s), concurrency %d, idempotency keys %v\n",
		paidN.Load(), len(jobs), elapsed.Round(time.Millisecond), rate(paidN.Load(), elapsed), bestWindow(at, time.Second), *concurrency, *idem)
	writeRows(os.Stdout, rec2.rows(elapsed))

	// Checks: sold seats and money.
	cctx, cancelCheck := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelCheck()
	st, err := cl.concertStats(cctx, concertID)
	if err != nil {
		return err
	}
	var balances atomic.Int64
	err = forEach(cctx, *users, 64, func(ctx context.Context, i int) error {
		b, err := cl.api.Balance(ctx, tokens[i], 1)
		balances.Add(b.CurrentBalance)
		return err
	})
	if err != nil {
		return err
	}
	charged := int64(*users) * price * int64(*perUser)
	m := rushtest.MoneyCheck{Charged: charged, FinalBalances: balances.Load(), Paid: paidN.Load() * price}
	fmt.Printf("check: stats sold %d == payments %d: %v; money charged %d - balances %d == paid %d: %v\n",
		st.Sold, paidN.Load(), st.Sold == paidN.Load(), m.Charged, m.FinalBalances, m.Paid, m.OK())
	if st.Sold != paidN.Load() || !m.OK() {
		return fmt.Errorf("paybench check failed")
	}
	return nil
}
