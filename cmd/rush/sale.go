package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type saleConfig struct {
	addr, adminKey string
	users, seats   int
	perUser        int
	concurrency    int
	duration       time.Duration
	price          int64
	admitPerSecond int
	maxActive      int
	powBits        int
	pollCap        time.Duration
	ramp           time.Duration
	idempotency    bool
	blindTries     int
	giveUp         int
	checkTimeout   time.Duration
	timeline       string
}

func runSale(args []string) error {
	var c saleConfig
	fs := flag.NewFlagSet("rush", flag.ExitOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "concertd address (host:port)")
	fs.StringVar(&c.adminKey, "admin-key", os.Getenv("ADMIN_KEY"), "X-Admin-Key (default $ADMIN_KEY)")
	fs.IntVar(&c.users, "users", 4000, "users taking part")
	fs.IntVar(&c.seats, "seats", 10000, "seats on sale (one schedule)")
	fs.IntVar(&c.perUser, "per-user", 4, "seats each user tries to buy (keep <= the server's MAX_HOLDS_PER_USER)")
	fs.IntVar(&c.concurrency, "concurrency", 128, "requests in flight at most, for the waiting room (enter, poll) and again for buyers (charge, seat map, hold, pay)")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "the sale stops after this long even if not sold out")
	fs.Int64Var(&c.price, "price", 50000, "seat price in won")
	fs.IntVar(&c.admitPerSecond, "admit", 2000, "queue admitPerSecond of the concert")
	fs.IntVar(&c.maxActive, "max-active", 0, "queue maxActive (default users+1: everyone may be admitted)")
	fs.IntVar(&c.powBits, "pow-bits", 0, "queue proofOfWorkBits of the concert: each entry solves a challenge first (0: none)")
	fs.DurationVar(&c.pollCap, "poll-cap", 0, "wait at most this long between polls, whatever pollAfterSeconds says (0: honour pollAfterSeconds)")
	fs.DurationVar(&c.ramp, "ramp", 0, "users arrive spread evenly over this long (0: all at once)")
	fs.BoolVar(&c.idempotency, "idempotency", true, "send an Idempotency-Key with each payment so retries are safe")
	fs.IntVar(&c.blindTries, "blind-tries", 3, "random seat picks before a user reads the seat map")
	fs.IntVar(&c.giveUp, "give-up", 10, "a user who holds some seats pays for them after this many 409 SEAT_TAKEN (0: never)")
	fs.DurationVar(&c.checkTimeout, "check-timeout", 60*time.Second, "bound on the invariant check after the sale")
	fs.StringVar(&c.timeline, "timeline", "", "write a CSV line per second here: elapsed s, req/s, p99 ms, admitted/s, paid/s, waiting (bench/rush-plot.gp draws it)")
	cpuProfile := fs.String("cpuprofile", "", "write rush's own CPU profile of the sale here (is the load driver the limit?)")
	_ = fs.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if c.maxActive <= 0 {
		c.maxActive = c.users + 1
	}
	s := &sale{cfg: c, rec: newRecorder()}
	s.cl = newClient(c.addr, c.adminKey, c.concurrency, s.rec)
	// Buyers get their own connections and slots: a server serves its
	// connections side by side, but one shared client-side queue would put every
	// admitted buyer's request behind the polls of everyone still waiting (with
	// 200,000 in line, thousands a second), which measures rush, not concertd.
	s.buy = newClient(c.addr, c.adminKey, c.concurrency, s.rec)
	// Operator reads (the admission sampler, the check's stats) get their own
	// connections and are left out of the report: they must not queue behind the
	// crowd's requests for a slot, or the admission samples would drift.
	s.admin = newClient(c.addr, c.adminKey, 2, newRecorder())
	return s.run()
}

// sale is one whole run: the concert, its users and everything they saw.
type sale struct {
	cfg        saleConfig
	cl         *client // the waiting room: enter and poll
	buy        *client // admitted users: charge, seat map, hold, pay
	admin      *client
	rec        *recorder
	concertID  int64
	scheduleID int64
	users      []*user

	start    time.Time
	soldOut  atomic.Int64 // ns since start when the last seat was paid; 0 = not yet
	waiting  atomic.Int64
	active   atomic.Int64
	finished atomic.Int64
	holds    atomic.Int64
	paid     atomic.Int64
	cancel   context.CancelFunc

	mu       sync.Mutex
	payments []payment
	unknown  []unknownPayment // payments whose outcome the client never learned

	// checker entered the queue before the crowd, so its token is ACTIVE when the
	// check reads the seat map (entering after the sale would put it behind
	// everyone still waiting).
	checkerID    int64
	checkerToken string

	samples  []admissionSample // the concert's stats, once a second during the sale
	peakGor  int               // rush's own goroutines and heap at their highest
	peakHeap uint64
	entered  atomic.Int64 // users whose POST /api/users/token succeeded
}

type user struct {
	idx     int
	id      int64
	token   string
	charged int64 // sum of successful charges, as seen by this client
	charges int   // charges attempted: a user with none still has a zero balance
}

// payment is a 201 answer to POST /api/payments.
type payment struct {
	User          int
	ScheduleID    int64
	Seat          int
	ReservationID int64
	PaymentID     int64
	Amount        int64
	At            time.Time
}

type unknownPayment struct {
	User          int
	ReservationID int64
	Amount        int64
}

func (s *sale) run() error {
	c := s.cfg
	// Creating a user is one PostgreSQL commit (~2,000/s here): allow 2 ms each.
	setupCtx, cancelSetup := context.WithTimeout(context.Background(), 2*time.Minute+time.Duration(c.users)*2*time.Millisecond)
	defer cancelSetup()
	t0 := time.Now()
	var err error
	var ids []int64
	s.concertID, ids, err = s.cl.createConcert(setupCtx, "rush "+t0.Format(time.RFC3339Nano),
		queueSettings{AdmitPerSecond: c.admitPerSecond, MaxActive: c.maxActive, ProofOfWorkBits: c.powBits},
		schedule{ConcertDate: t0.AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: c.seats, Price: c.price})
	if err != nil {
		return err
	}
	s.scheduleID = ids[0]
	s.users = make([]*user, c.users)
	tag := t0.UnixNano()
	var created atomic.Int64
	stopCount := tick(5*time.Second, func() {
		fmt.Fprintf(os.Stderr, "rush: %d of %d users created (%s)\n", created.Load(), c.users, time.Since(t0).Round(time.Second))
	})
	err = forEach(setupCtx, c.users, min(c.concurrency, 64), func(ctx context.Context, i int) error {
		id, err := s.cl.createUser(ctx, fmt.Sprintf("rush %d", i), fmt.Sprintf("rush-%d-%d@rush.invalid", tag, i))
		s.users[i] = &user{idx: i, id: id}
		created.Add(1)
		return err
	})
	stopCount()
	if err != nil {
		return fmt.Errorf("creating users: %w", err)
	}
	s.checkerID, err = s.cl.createUser(setupCtx, "rush checker", fmt.Sprintf("rush-check-%d@rush.invalid", tag))
	if err != nil {
		return fmt.Errorf("creating the checker: %w", err)
	}
	fmt.Fprintf(os.Stderr, "rush: concert %d, schedule %d: %d seats at %d won, admitPerSecond %d, maxActive %d; %d users created in %s\n",
		s.concertID, s.scheduleID, c.seats, c.price, c.admitPerSecond, c.maxActive, c.users, time.Since(t0).Round(time.Millisecond))
	if q, err := s.cl.enter(setupCtx, s.checkerID, s.concertID); err == nil {
		s.checkerToken = q.UserToken
	}

	// The sale: every user at once, like a rush at the opening minute.
	s.rec = newRecorder()
	s.rec.perSecond = c.timeline != ""
	s.cl.stats = s.rec
	s.buy.stats = s.rec
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	s.cancel = cancel
	s.start = time.Now()
	stopProgress := s.progress()
	var wg sync.WaitGroup
	for i, u := range s.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.finished.Add(1)
			if c.ramp > 0 {
				// Arrivals spread evenly over the ramp, in user order.
				if sleepCtx(ctx, time.Duration(int64(c.ramp)*int64(i)/int64(len(s.users)))) != nil {
					return
				}
			}
			s.shop(ctx, u)
		}()
	}
	wg.Wait()
	cancel()
	elapsed := time.Since(s.start)
	stopProgress()
	if at := s.soldOut.Load(); at > 0 {
		elapsed = time.Duration(at)
	}
	saleRows := s.rec.rows(elapsed)

	checkCtx, cancelCheck := context.WithTimeout(context.Background(), c.checkTimeout)
	defer cancelCheck()
	inv := s.check(checkCtx)
	s.report(elapsed, saleRows, inv)
	if !inv.ok() {
		return errors.New("invariant check failed")
	}
	return nil
}

// shop is one user's whole visit: enter, wait, hold, pay.
func (s *sale) shop(ctx context.Context, u *user) {
	c := s.cfg
	st, err := s.cl.enter(ctx, u.id, s.concertID)
	if err != nil {
		return
	}
	u.token = st.UserToken
	s.entered.Add(1)
	s.waiting.Add(1)
	for st.Status == "WAITING" {
		d := time.Duration(st.PollAfterSeconds) * time.Second
		if c.pollCap > 0 {
			d = min(d, c.pollCap)
		}
		d = max(d, 100*time.Millisecond)
		d = d/2 + rand.N(d) // jitter: a real crowd does not poll in lockstep
		if sleepCtx(ctx, d) != nil {
			s.waiting.Add(-1)
			return
		}
		next, a, err := s.cl.status(ctx, u.token)
		switch {
		case err != nil && a.Status == 0:
			continue // transport failure: poll again
		case a.Status == 401 && a.Code == "TOKEN_EXPIRED":
			if next, err = s.cl.enter(ctx, u.id, s.concertID); err != nil {
				s.waiting.Add(-1)
				return
			}
			u.token = next.UserToken
		case !a.ok():
			continue
		}
		st = next
	}
	s.waiting.Add(-1)
	if st.Status != "ACTIVE" {
		return
	}
	s.active.Add(1)
	defer s.active.Add(-1)

	// The balance is topped up once admitted, as a buyer would before paying:
	// charging every one of 200,000 users while they wait would be 200,000
	// PostgreSQL commits that have nothing to do with the sale.
	if !s.chargeUser(ctx, u, c.price*int64(c.perUser)) {
		return
	}
	held := s.holdSeats(ctx, u)
	for _, r := range held {
		s.pay(ctx, u, r)
	}
}

func (s *sale) chargeUser(ctx context.Context, u *user, amount int64) bool {
	s.mu.Lock()
	u.charges++
	s.mu.Unlock()
	if _, err := s.buy.charge(ctx, u.token, amount); err != nil {
		return false
	}
	s.mu.Lock()
	u.charged += amount
	s.mu.Unlock()
	return true
}

// holdSeats holds up to perUser seats: a few blind random picks first (most
// clients click before the map has loaded), then picks from the seat map.
func (s *sale) holdSeats(ctx context.Context, u *user) []reservation {
	c := s.cfg
	var held []reservation
	conflicts := 0
	var candidates []int
	var mapAt time.Time
	mapConflicts := 0
	for len(held) < c.perUser && ctx.Err() == nil {
		var seat int
		if conflicts < c.blindTries {
			seat = 1 + rand.N(c.seats)
		} else {
			// A map goes stale fast in a rush: like a browser after a few failed
			// clicks, read it again rather than try every seat it once showed.
			if mapConflicts >= 4 || time.Since(mapAt) > time.Second {
				candidates = nil
			}
			if len(candidates) == 0 {
				m, a, err := s.buy.availableSeats(ctx, u.token, s.scheduleID)
				if err != nil || !a.ok() {
					return held
				}
				mapAt, mapConflicts = time.Now(), 0
				candidates = m.available
				if len(candidates) == 0 {
					// Nothing free: pay for what this user holds rather than wait
					// for more. (Waiting here while holding seats deadlocks the end
					// of the sale: every hunter holds seats the others wait for,
					// until the holds expire or the sale's deadline ends it.)
					if m.pending == 0 || len(held) > 0 {
						return held
					}
					if sleepCtx(ctx, 200*time.Millisecond) != nil {
						return held
					}
					continue
				}
				rand.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
			}
			seat, candidates = candidates[len(candidates)-1], candidates[:len(candidates)-1]
		}
		r, a, err := s.buy.hold(ctx, u.token, s.scheduleID, seat)
		switch {
		case err != nil && a.Status == 0:
			continue
		case a.Status == 201:
			held = append(held, r)
			s.holds.Add(1)
		case a.ok():
			// 200: a blind pick hit a seat this user already holds; the answer is
			// that same reservation, which is already in held.
		case a.Code == "SEAT_TAKEN":
			conflicts++
			mapConflicts++
			if c.giveUp > 0 && conflicts >= c.giveUp && len(held) > 0 {
				return held // enough hunting: pay for what this user holds
			}
		default: // HOLD_LIMIT_REACHED, NOT_ADMITTED, TOKEN_EXPIRED, 5xx: stop shopping
			return held
		}
	}
	return held
}

// pay pays one hold, topping the balance up on 402 and retrying transport
// failures and 503s with the same Idempotency-Key.
func (s *sale) pay(ctx context.Context, u *user, r reservation) {
	key := ""
	if s.cfg.idempotency {
		key = "rush-" + strconv.FormatInt(u.id, 10) + "-" + strconv.FormatInt(r.ReservationID, 10)
	}
	// A started payment is finished even after the sale's deadline: the report
	// must know every outcome.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for attempt := 0; attempt < 5; attempt++ {
		p, a, err := s.buy.pay(pctx, u.token, r.ReservationID, r.Price, key)
		switch {
		case (err != nil && a.Status == 0) || a.Status >= 500:
			if key == "" {
				s.mu.Lock()
				s.unknown = append(s.unknown, unknownPayment{u.idx, r.ReservationID, r.Price})
				s.mu.Unlock()
				return
			}
			_ = sleepCtx(pctx, 100*time.Millisecond)
			continue
		case a.Status == 201:
			s.mu.Lock()
			s.payments = append(s.payments, payment{User: u.idx, ScheduleID: r.ScheduleID, Seat: r.SeatNumber,
				ReservationID: r.ReservationID, PaymentID: p.PaymentID, Amount: p.Amount, At: time.Now()})
			s.mu.Unlock()
			if s.paid.Add(1) == int64(s.cfg.seats) {
				s.soldOut.Store(int64(time.Since(s.start)))
				s.cancel() // sold out: everyone else may stop
			}
			return
		case a.Code == "INSUFFICIENT_BALANCE":
			if !s.chargeUser(pctx, u, s.cfg.price*int64(s.cfg.perUser)) {
				return
			}
		default: // AMOUNT_MISMATCH, ALREADY_PAID, RESERVATION_EXPIRED...: counted in the report
			return
		}
	}
	if key != "" {
		s.mu.Lock()
		s.unknown = append(s.unknown, unknownPayment{u.idx, r.ReservationID, r.Price})
		s.mu.Unlock()
	}
}

// progress prints a status line every second until stopped, and samples the
// concert's stats (for the admission check) and rush's own goroutines and heap.
func (s *sale) progress() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var timeline *bufio.Writer
	closeTimeline := func() {}
	if s.cfg.timeline != "" {
		f, err := os.Create(s.cfg.timeline)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rush: timeline:", err)
		} else {
			timeline = bufio.NewWriter(f)
			fmt.Fprintln(timeline, "elapsed_s,req_per_s,p99_ms,admitted_per_s,paid_per_s,waiting")
			closeTimeline = func() {
				if err := errors.Join(timeline.Flush(), f.Close()); err != nil {
					fmt.Fprintln(os.Stderr, "rush: timeline:", err)
				}
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastReq, lastPaid, lastAdmitted int64
		var ms runtime.MemStats
		s.sampleAdmission()
		for {
			select {
			case <-done:
				s.sampleAdmission()
				fmt.Fprintln(os.Stderr)
				return
			case <-t.C:
			}
			s.sampleAdmission()
			runtime.ReadMemStats(&ms)
			s.mu.Lock()
			s.peakGor = max(s.peakGor, runtime.NumGoroutine())
			s.peakHeap = max(s.peakHeap, ms.HeapAlloc)
			admitted := int64(-1)
			if n := len(s.samples); n > 0 {
				admitted = s.samples[n-1].Admitted
			}
			s.mu.Unlock()
			req, paid := s.rec.total.Load(), s.paid.Load()
			if timeline != nil {
				n, p99 := s.rec.takeSecond()
				fmt.Fprintf(timeline, "%.1f,%d,%.2f,%d,%d,%d\n", time.Since(s.start).Seconds(), n,
					float64(p99.Microseconds())/1000, max(admitted-lastAdmitted, 0), paid-lastPaid, s.waiting.Load())
			}
			fmt.Fprintf(os.Stderr, "\r[%4.0fs] entered %6d  waiting %6d  admitted %6d (%4d/s)  active %5d  done %6d  holds %6d  paid %6d/%d (%5d/s)  %6d req/s   ",
				time.Since(s.start).Seconds(), s.entered.Load(), s.waiting.Load(), admitted, admitted-lastAdmitted, s.active.Load(), s.finished.Load(),
				s.holds.Load(), paid, s.cfg.seats, paid-lastPaid, req-lastReq)
			lastReq, lastPaid, lastAdmitted = req, paid, admitted
		}
	}()
	return func() { close(done); wg.Wait(); closeTimeline() }
}

// sampleAdmission reads the concert's stats once and keeps them with the times
// the request was sent and answered: the server read them somewhere in between.
func (s *sale) sampleAdmission() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sent := time.Now()
	st, err := s.admin.concertStats(ctx, s.concertID)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, admissionSample{Sent: sent, Recv: time.Now(), Admitted: st.AdmittedTotal, Active: st.Active, Waiting: st.Waiting})
	s.mu.Unlock()
}

// tick calls f every d until stopped.
func tick(d time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// parseSeatMap reads a seat map answer without encoding/json: a 50,000-seat map is
// megabytes, and the load driver shares the CPU with the server it measures.
func parseSeatMap(body []byte) (available []int, pending, reserved int, byStatus map[int]byte) {
	byStatus = map[int]byte{}
	available, pending, reserved = scanSeatMap(body, func(n int, st byte) { byStatus[n] = st })
	return
}

// scanSeatMap is parseSeatMap without the per-seat map (which shoppers do not
// need): it calls each, if not nil, with every seat and its status's first letter.
func scanSeatMap(body []byte, each func(seat int, status byte)) (available []int, pending, reserved int) {
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

func duplicateSeats(ps []payment) []string {
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
