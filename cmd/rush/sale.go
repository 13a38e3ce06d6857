package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/concertd/concertd/test/rushtest"
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
	mode           string
	idempotency    bool
	blindTries     int
	giveUp         int
	checkTimeout   time.Duration
	timeline       string
}

func runSale(args []string) error {
	var c saleConfig
	fs := flag.NewFlagSet("rush", flag.ExitOnError)
	serverFlags(fs, &c.addr, &c.adminKey)
	fs.IntVar(&c.users, "users", 4000, "users taking part")
	fs.IntVar(&c.seats, "seats", 10000, "seats on sale (one schedule)")
	fs.IntVar(&c.perUser, "per-user", 4, "seats each user tries to buy (keep <= the server's MAX_HOLDS_PER_USER)")
	fs.IntVar(&c.concurrency, "concurrency", 128, "requests in flight at most, for the waiting room (enter, poll) and again for buyers (charge, seat map, hold, pay)")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "the sale stops after this long even if not sold out")
	fs.Int64Var(&c.price, "price", 50000, "seat price in won")
	fs.IntVar(&c.admitPerSecond, "admit", 2000, "queue admitPerSecond of the concert")
	fs.IntVar(&c.maxActive, "max-active", 0, "queue maxActive (default users+1: everyone may be admitted)")
	fs.IntVar(&c.powBits, "pow-bits", 0, "queue proofOfWorkBits of the concert: each entry solves a proof of work (0: none)")
	fs.DurationVar(&c.pollCap, "poll-cap", 0, "wait at most this long between polls, whatever pollAfterSeconds says (0: honour pollAfterSeconds)")
	fs.DurationVar(&c.ramp, "ramp", 0, "users arrive spread evenly over this long (0: all at once)")
	fs.StringVar(&c.mode, "mode", "seat", "seat: users pick seats (blind, then from the seat map); best: POST /api/reservations/best for -per-user seats side by side")
	fs.BoolVar(&c.idempotency, "idempotency", true, "send an Idempotency-Key with each payment so retries are safe")
	fs.IntVar(&c.blindTries, "blind-tries", 3, "random seat picks before a user reads the seat map")
	fs.IntVar(&c.giveUp, "give-up", 10, "a user who holds some seats pays for them after this many 409 SEAT_TAKEN (0: never)")
	fs.DurationVar(&c.checkTimeout, "check-timeout", 60*time.Second, "bound on the invariant check after the sale")
	fs.StringVar(&c.timeline, "timeline", "", "write a CSV line per second here: elapsed s, req/s, p99 ms, admitted/s, paid/s, waiting (bench/rush-plot.gp draws it)")
	cpuProfile := fs.String("cpuprofile", "", "write rush's own CPU profile of the sale here (is the load driver the limit?)")
	_ = fs.Parse(args)
	if c.mode != "seat" && c.mode != "best" {
		return fmt.Errorf("unknown -mode %q (seat or best)", c.mode)
	}
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
	s.Sale = &rushtest.Sale{
		Config: rushtest.Config{
			Users: c.users, Seats: c.seats, PerUser: c.perUser, Price: c.price, Charge: c.price * int64(c.perUser),
			AdmitPerSecond: c.admitPerSecond, MaxActive: c.maxActive, ProofOfWorkBits: c.powBits, Best: c.mode == "best",
			PollCap: c.pollCap, Ramp: c.ramp, BlindTries: c.blindTries, GiveUp: c.giveUp, NoIdempotency: !c.idempotency,
			SampleEvery: time.Second, Workers: min(c.concurrency, 64),
		},
		Queue: s.cl.api, Buyers: s.buy.api, Admin: s.admin.api,
	}
	return s.run()
}

// sale is one whole run of the shared rush loop, with the load driver's
// recorder, progress line and report around it.
type sale struct {
	*rushtest.Sale
	cfg      saleConfig
	cl       *client // the waiting room: enter and poll
	buy      *client // admitted users: charge, seat map, hold, pay
	admin    *client
	rec      *recorder
	mu       sync.Mutex
	peakGor  int // rush's own goroutines and heap at their highest
	peakHeap uint64
}

func (s *sale) run() error {
	c := s.cfg
	// Creating a user is one PostgreSQL commit (~2,000/s here): allow 2 ms each.
	setupCtx, cancelSetup := context.WithTimeout(context.Background(), 2*time.Minute+time.Duration(c.users)*2*time.Millisecond)
	defer cancelSetup()
	t0 := time.Now()
	stopCount := tick(5*time.Second, func() {
		fmt.Fprintf(os.Stderr, "rush: %d of %d users created (%s)\n", s.Created.Load(), c.users, time.Since(t0).Round(time.Second))
	})
	err := s.Prepare(setupCtx)
	stopCount()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "rush: concert %d, schedule %d: %d seats at %d won, admitPerSecond %d, maxActive %d; %d users created in %s\n",
		s.ConcertID, s.ScheduleID, c.seats, c.price, c.admitPerSecond, c.maxActive, c.users, time.Since(t0).Round(time.Millisecond))

	// The sale: every user at once, like a rush at the opening minute.
	s.rec = newRecorder()
	s.rec.perSecond = c.timeline != ""
	s.cl.stats = s.rec
	s.buy.stats = s.rec
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	stopProgress := s.progress()
	s.Run(ctx)
	elapsed := time.Since(s.Start)
	stopProgress()
	if at := s.SoldOut.Load(); at > 0 {
		elapsed = time.Duration(at)
	}
	saleRows := s.rec.rows(elapsed)

	checkCtx, cancelCheck := context.WithTimeout(context.Background(), c.checkTimeout)
	defer cancelCheck()
	inv := s.Check(checkCtx, "")
	s.report(elapsed, saleRows, inv)
	if inv.Err() != nil {
		return errors.New("invariant check failed")
	}
	return nil
}

// progress prints a status line every second until stopped, and samples rush's
// own goroutines and heap.
func (s *sale) progress() (stop func()) {
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
	start := time.Now()
	var lastReq, lastPaid, lastAdmitted int64
	var ms runtime.MemStats
	stopTick := tick(time.Second, func() {
		runtime.ReadMemStats(&ms)
		s.mu.Lock()
		s.peakGor = max(s.peakGor, runtime.NumGoroutine())
		s.peakHeap = max(s.peakHeap, ms.HeapAlloc)
		s.mu.Unlock()
		admitted := int64(-1)
		if ss := s.Samples(); len(ss) > 0 {
			admitted = ss[len(ss)-1].Admitted
		}
		req, paid := s.rec.total.Load(), s.Paid.Load()
		if timeline != nil {
			n, p99 := s.rec.takeSecond()
			fmt.Fprintf(timeline, "%.1f,%d,%.2f,%d,%d,%d\n", time.Since(start).Seconds(), n,
				float64(p99.Microseconds())/1000, max(admitted-lastAdmitted, 0), paid-lastPaid, s.Waiting.Load())
		}
		fmt.Fprintf(os.Stderr, "\r[%4.0fs] entered %6d  waiting %6d  admitted %6d (%4d/s)  active %5d  done %6d  holds %6d  paid %6d/%d (%5d/s)  %6d req/s   ",
			time.Since(start).Seconds(), s.Entered.Load(), s.Waiting.Load(), admitted, admitted-lastAdmitted, s.Active.Load(), s.Finished.Load(),
			s.Holds.Load(), paid, s.cfg.seats, paid-lastPaid, req-lastReq)
		lastReq, lastPaid, lastAdmitted = req, paid, admitted
	})
	return func() { stopTick(); fmt.Fprintln(os.Stderr); closeTimeline() }
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
