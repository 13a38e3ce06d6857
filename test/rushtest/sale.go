package rushtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concertd/concertd/client"
)

// Config shapes a rush: one concert with one schedule, Users buyers, each trying
// to buy PerUser seats.
type Config struct {
	Users, Seats   int
	PerUser        int   // seats each buyer tries to buy; 0: 1
	Price          int64 // price of every seat
	Charge         int64 // charged once admitted (and again on 402); 0: Price × PerUser
	AdmitPerSecond int
	MaxActive      int
	// ProofOfWorkBits makes entering cost a proof of work (the client solves it).
	ProofOfWorkBits int
	// Best holds with POST /api/reservations/best (PerUser seats side by side,
	// chosen by the server) instead of picking seats from the map.
	Best bool
	// PollCap bounds the wait between polls, whatever pollAfterSeconds says (0:
	// honour it). Polls are jittered ±50%, as a real crowd does not poll in step.
	PollCap time.Duration
	// Ramp spreads arrivals evenly over this long (0: all at once).
	Ramp time.Duration
	// BlindTries random seat picks come before a buyer reads the seat map.
	BlindTries int
	// GiveUp: a buyer holding some seats pays for them after this many
	// SEAT_TAKEN (0: never).
	GiveUp int
	// NoIdempotency sends payments without an Idempotency-Key; a payment whose
	// answer is lost then has an unknown outcome.
	NoIdempotency bool
	// SampleEvery is how often the concert's stats are read for the admission
	// check (0: 100 ms).
	SampleEvery time.Duration
	// During, when set, runs alongside the buyers (a fault to inject, say),
	// given the sale, whose concert and schedule exist by then.
	During func(ctx context.Context, s *Sale)
	// Workers bounds how many users are created at once in Prepare (0: 64).
	Workers int
}

// Sale is one rush: the concert, its buyers and everything they were told. The
// counters may be read while it runs (a progress line).
type Sale struct {
	Config     Config
	ConcertID  int64
	ScheduleID int64
	Users      []*User

	// Queue enters and polls; Buyers charges, reads seat maps, holds and pays;
	// Admin reads stats. Buyers and Admin default to Queue.
	Queue, Buyers, Admin *client.Client

	Start                              time.Time
	SoldOut                            atomic.Int64 // ns from Start to the last seat paid; 0: not yet
	Entered, Waiting, Active, Finished atomic.Int64
	Holds, Paid                        atomic.Int64
	Created                            atomic.Int64 // users Prepare has created
	checker                            *User
	cancel                             context.CancelFunc

	mu       sync.Mutex
	payments []Purchase
	unknown  []Purchase // payments whose outcome the buyer never learned
	samples  []AdmissionSample
	charged  int64
	errs     []error
}

// User is one buyer.
type User struct {
	Index   int
	ID      int64
	Key     string // the user key, when the server gives one
	Token   string
	Charged int64 // sum of the charges it was told succeeded
	charges int   // charges attempted: a user with none still has a zero balance
}

// Purchase is one payment a buyer was told succeeded (PaymentID 0: it learned so
// by reading the reservation after an unknown outcome).
type Purchase struct {
	User          int // index in Sale.Users
	UserID        int64
	ScheduleID    int64
	Seat          int
	ReservationID int64
	PaymentID     int64
	Amount        int64
	At            time.Time
}

// Prepare creates the concert, the buyers and a checker who enters first (so its
// token is ACTIVE when the check reads the seat map).
func (s *Sale) Prepare(ctx context.Context) error {
	c := &s.Config
	c.PerUser = max(c.PerUser, 1)
	if c.Charge == 0 {
		c.Charge = c.Price * int64(c.PerUser)
	}
	if c.SampleEvery == 0 {
		c.SampleEvery = 100 * time.Millisecond
	}
	if c.Workers == 0 {
		c.Workers = 64
	}
	if s.Buyers == nil {
		s.Buyers = s.Queue
	}
	if s.Admin == nil {
		s.Admin = s.Queue
	}
	t0 := time.Now()
	cc, err := s.Admin.CreateConcert(ctx, client.NewConcert{
		Title: "rush " + t0.Format(time.RFC3339Nano), Description: "a rush of test/rushtest",
		Queue:     &client.QueueSettings{AdmitPerSecond: c.AdmitPerSecond, MaxActive: c.MaxActive, ProofOfWorkBits: c.ProofOfWorkBits},
		Schedules: []client.NewSchedule{{ConcertDate: t0.AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: c.Seats, Price: c.Price}},
	})
	if err != nil {
		return fmt.Errorf("create concert: %w", err)
	}
	s.ConcertID, s.ScheduleID = cc.ConcertID, cc.ScheduleIDs[0]
	s.Users = make([]*User, c.Users)
	err = ForEach(ctx, c.Users, c.Workers, func(ctx context.Context, i int) error {
		u, err := CreateUser(ctx, s.Queue, "buyer"+strconv.Itoa(i))
		s.Users[i] = &User{Index: i, ID: u.UserID, Key: u.UserKey}
		s.Created.Add(1)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating users: %w", err)
	}
	u, err := CreateUser(ctx, s.Queue, "checker")
	if err != nil {
		return fmt.Errorf("creating the checker: %w", err)
	}
	s.checker = &User{Index: -1, ID: u.UserID, Key: u.UserKey}
	if q, err := s.enter(ctx, s.checker); err == nil {
		s.checker.Token = q.UserToken
	}
	return nil
}

// Run lets every buyer in at once (or over Ramp) and returns when the sale is
// sold out, every buyer is done, or ctx ends. A payment already sent is awaited
// past ctx, so every outcome is known.
func (s *Sale) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.cancel = cancel
	s.Start = time.Now()
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			s.sample(sctx)
			if Sleep(sctx, s.Config.SampleEvery) != nil {
				s.sample(context.Background())
				return
			}
		}
	}()
	if s.Config.During != nil {
		go s.Config.During(ctx, s)
	}
	var wg sync.WaitGroup
	for i, u := range s.Users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Finished.Add(1)
			if s.Config.Ramp > 0 && Sleep(ctx, time.Duration(int64(s.Config.Ramp)*int64(i)/int64(len(s.Users)))) != nil {
				return
			}
			s.shop(ctx, u)
		}()
	}
	wg.Wait()
	stopSampling()
	<-sampled
}

// Err is the first of the failures buyers met that were not the sale's ordinary
// refusals (sold out, seat taken), with their count.
func (s *Sale) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d buyers failed, first: %w", len(s.errs), s.errs[0])
}

// Errs lists every failure buyers met that was not one of the sale's ordinary
// refusals.
func (s *Sale) Errs() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

// Purchases are the payments buyers were told succeeded.
func (s *Sale) Purchases() []Purchase {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Purchase(nil), s.payments...)
}

// Samples are the concert's stats read during the sale.
func (s *Sale) Samples() []AdmissionSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AdmissionSample(nil), s.samples...)
}

// Charged is the total buyers were told was charged.
func (s *Sale) Charged() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.charged
}

// fail records what stopped a buyer, unless the sale had ended by then (sold
// out, or its deadline): a request cut short or refused after the end is the end,
// not a failure. Payments pass a context that outlives the sale, so their
// failures always count.
func (s *Sale) fail(ctx context.Context, u *User, err error) {
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Errorf("user %d: %w", u.ID, err))
	s.mu.Unlock()
}

func (s *Sale) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sent := time.Now()
	st, err := s.Admin.Stats(ctx, s.ConcertID)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, AdmissionSample{Sent: sent, Recv: time.Now(), Admitted: st.AdmittedTotal, Active: st.Active, Waiting: st.Waiting})
	s.mu.Unlock()
}

// enter sends the user's key when it has one, and its id, which servers with and
// without user keys both accept.
func (s *Sale) enter(ctx context.Context, u *User) (client.QueueStatus, error) {
	return s.Queue.EnterQueue(ctx, u.Key, client.EnterRequest{ConcertID: s.ConcertID, UserID: u.ID})
}

// shop is one buyer's whole visit: enter, wait, charge, hold, pay.
func (s *Sale) shop(ctx context.Context, u *User) {
	c := s.Config
	st, err := s.enter(ctx, u)
	if err != nil {
		s.fail(ctx, u, fmt.Errorf("enter: %w", err))
		return
	}
	u.Token = st.UserToken
	s.Entered.Add(1)
	s.Waiting.Add(1)
	for st.Status == client.Waiting {
		d := time.Duration(st.PollAfterSeconds) * time.Second
		if c.PollCap > 0 {
			d = min(d, c.PollCap)
		}
		d = max(d, 20*time.Millisecond)
		if Sleep(ctx, d/2+rand.N(d)) != nil {
			s.Waiting.Add(-1)
			return
		}
		next, err := s.Queue.QueueStatus(ctx, u.Token)
		switch {
		case client.IsCode(err, "TOKEN_EXPIRED"):
			if next, err = s.enter(ctx, u); err != nil {
				s.Waiting.Add(-1)
				s.fail(ctx, u, fmt.Errorf("enter again: %w", err))
				return
			}
			u.Token = next.UserToken
		case err != nil:
			continue // a lost answer or a refusal under load: poll again
		}
		st = next
	}
	s.Waiting.Add(-1)
	if st.Status != client.Active {
		return
	}
	s.Active.Add(1)
	defer s.Active.Add(-1)
	// The balance is topped up once admitted, as a buyer would before paying:
	// charging everyone still waiting would be commits that have nothing to do
	// with the sale.
	if !s.charge(ctx, u) {
		return
	}
	var held []client.Reservation
	if c.Best {
		held = s.holdBest(ctx, u)
	} else {
		held = s.holdSeats(ctx, u)
	}
	for _, r := range held {
		s.pay(ctx, u, r)
	}
}

func (s *Sale) charge(ctx context.Context, u *User) bool {
	s.mu.Lock()
	u.charges++
	key := fmt.Sprintf("charge-%d-%d", u.ID, u.charges)
	s.mu.Unlock()
	// A charge once sent runs to its answer even if the sale ends meanwhile (sold
	// out): one cut off could have been applied without the buyer counting it,
	// and the money check compares what buyers were told with the balances.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.Buyers.Charge(cctx, u.Token, client.ChargeRequest{Amount: s.Config.Charge, IdempotencyKey: key}); err != nil {
		s.fail(ctx, u, fmt.Errorf("charge: %w", err))
		return false
	}
	s.mu.Lock()
	u.Charged += s.Config.Charge
	s.charged += s.Config.Charge
	s.mu.Unlock()
	return true
}

// holdSeats holds up to PerUser seats: a few blind random picks first (most
// clients click before the map has loaded), then picks from the seat map.
func (s *Sale) holdSeats(ctx context.Context, u *User) []client.Reservation {
	c := s.Config
	var held []client.Reservation
	conflicts, mapConflicts := 0, 0
	var candidates []int
	var mapAt time.Time
	for len(held) < c.PerUser && ctx.Err() == nil {
		var seat int
		if conflicts < c.BlindTries {
			seat = 1 + rand.N(c.Seats)
		} else {
			// A map goes stale fast in a rush: like a browser after a few failed
			// clicks, read it again rather than try every seat it once showed.
			if mapConflicts >= 4 || time.Since(mapAt) > time.Second {
				candidates = nil
			}
			if len(candidates) == 0 {
				body, err := s.Buyers.SeatMapRaw(ctx, u.Token, s.ScheduleID)
				if err != nil {
					s.fail(ctx, u, fmt.Errorf("seat map: %w", err))
					return held
				}
				var pending int
				candidates, pending, _ = ScanSeatMap(body, nil)
				mapAt, mapConflicts = time.Now(), 0
				if len(candidates) == 0 {
					// Nothing free: pay for what this buyer holds rather than wait
					// for more (waiting while holding seats deadlocks the end of the
					// sale: every hunter holds seats the others wait for).
					if pending == 0 || len(held) > 0 || Sleep(ctx, 100*time.Millisecond) != nil {
						return held
					}
					continue
				}
				rand.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
			}
			seat, candidates = candidates[len(candidates)-1], candidates[:len(candidates)-1]
		}
		r, err := s.Buyers.Hold(ctx, u.Token, client.HoldRequest{ScheduleID: s.ScheduleID, SeatNumber: seat})
		switch {
		case err == nil:
			if !holds(held, r.ReservationID) { // a blind pick may hit a seat this buyer holds
				held = append(held, r)
				s.Holds.Add(1)
			}
		case client.IsCode(err, "SEAT_TAKEN"):
			conflicts++
			mapConflicts++
			if c.GiveUp > 0 && conflicts >= c.GiveUp && len(held) > 0 {
				return held // enough hunting: pay for what this buyer holds
			}
		case client.StatusOf(err) == 0 && ctx.Err() == nil:
			continue // no answer: try again
		default: // HOLD_LIMIT_REACHED, NOT_ADMITTED, TOKEN_EXPIRED, 5xx: stop shopping
			s.fail(ctx, u, fmt.Errorf("hold seat %d: %w", seat, err))
			return held
		}
	}
	return held
}

func holds(held []client.Reservation, id int64) bool {
	for _, r := range held {
		if r.ReservationID == id {
			return true
		}
	}
	return false
}

// holdBest asks the server for PerUser seats side by side, fewer when no run
// that long is left. Like the buyer page, which shows what is left beside the
// button, it asks only while the schedule lists a free seat: when every seat is
// held or sold it looks again every 100 ms (holds lapse or are cancelled), as a
// pick-a-seat buyer does on an empty seat map, until the sale ends.
func (s *Sale) holdBest(ctx context.Context, u *User) []client.Reservation {
	for n := s.Config.PerUser; n > 0 && ctx.Err() == nil; {
		if !s.seatsLeft(ctx) {
			if Sleep(ctx, 100*time.Millisecond) != nil {
				return nil
			}
			continue
		}
		rs, err := s.Buyers.HoldBest(ctx, u.Token, client.BestRequest{ScheduleID: s.ScheduleID, Quantity: n})
		switch {
		case err == nil:
			s.Holds.Add(int64(len(rs)))
			return rs
		case client.IsCode(err, "SEATS_UNAVAILABLE"):
			n--
		case client.StatusOf(err) == 0:
			continue
		default:
			s.fail(ctx, u, fmt.Errorf("hold best %d: %w", n, err))
			return nil
		}
	}
	return nil
}

// seatsLeft tells whether the sale's schedule lists a free seat (GET
// /api/concerts/schedules, which leaves out a schedule with none). An unanswered
// read counts as yes: the hold request then finds out.
func (s *Sale) seatsLeft(ctx context.Context) bool {
	list, err := s.Buyers.Schedules(ctx, s.ConcertID)
	if err != nil {
		return true
	}
	for _, sc := range list {
		if sc.ScheduleID == s.ScheduleID {
			return sc.AvailableSeats > 0
		}
	}
	return false
}

// pay pays one hold, topping the balance up on 402 and retrying lost answers and
// 5xx with the same Idempotency-Key. A payment started is finished even after
// the sale's deadline: the check must know every outcome.
func (s *Sale) pay(ctx context.Context, u *User, r client.Reservation) {
	key := ""
	if !s.Config.NoIdempotency {
		key = "rush-" + strconv.FormatInt(u.ID, 10) + "-" + strconv.FormatInt(r.ReservationID, 10)
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	unknown := Purchase{User: u.Index, UserID: u.ID, ScheduleID: r.ScheduleID, Seat: r.SeatNumber, ReservationID: r.ReservationID, Amount: r.Price}
	for attempt := 0; attempt < 5; attempt++ {
		p, err := s.Buyers.Pay(pctx, u.Token, client.PayRequest{ReservationID: r.ReservationID, PaymentAmount: r.Price, IdempotencyKey: key})
		switch {
		case err == nil:
			bought := unknown
			bought.PaymentID, bought.Amount, bought.At = p.PaymentID, p.Amount, time.Now()
			s.bought(bought)
			return
		case client.StatusOf(err) == 0 || client.StatusOf(err) >= 500:
			if key == "" {
				s.lost(unknown)
				return
			}
			_ = Sleep(pctx, 100*time.Millisecond)
		case client.IsCode(err, "INSUFFICIENT_BALANCE"):
			if !s.charge(pctx, u) {
				return
			}
		case client.IsCode(err, "ALREADY_PAID"):
			// An earlier attempt's outcome was unknown (its instance died, or the
			// database went away mid-commit): the hold stays PAYING until the
			// server learns from the ledger whether it sold. Ask until it knows.
			if paid, err := s.settled(pctx, u.Token, r.ReservationID); err != nil {
				s.lost(unknown)
			} else if paid {
				unknown.At = time.Now()
				s.bought(unknown)
			}
			return
		case client.IsCode(err, "RESERVATION_EXPIRED"):
			return // the hold lapsed under a slow retry; nothing was charged
		default: // AMOUNT_MISMATCH, TOKEN_EXPIRED...
			s.fail(pctx, u, fmt.Errorf("pay reservation %d: %w", r.ReservationID, err))
			return
		}
	}
	if key != "" {
		s.lost(unknown)
	}
}

func (s *Sale) bought(p Purchase) {
	s.mu.Lock()
	s.payments = append(s.payments, p)
	s.mu.Unlock()
	if s.Paid.Add(1) == int64(s.Config.Seats) {
		s.SoldOut.Store(int64(time.Since(s.Start)))
		s.cancel() // sold out: everyone else may stop
	}
}

func (s *Sale) lost(p Purchase) {
	s.mu.Lock()
	s.unknown = append(s.unknown, p)
	s.mu.Unlock()
}

// settled polls a reservation until it is PAID (true) or gone (false).
func (s *Sale) settled(ctx context.Context, token string, resID int64) (bool, error) {
	for {
		r, err := s.Buyers.Reservation(ctx, token, resID)
		if err != nil {
			return false, err
		}
		switch r.Status {
		case client.Paid:
			return true, nil
		case client.Expired, client.Cancelled:
			return false, nil
		}
		if err := Sleep(ctx, 200*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// ForEach runs f(i) for i in [0, n) on workers goroutines and returns the first
// error; the others stop taking work after it.
func ForEach(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}
