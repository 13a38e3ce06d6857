package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// runScale measures how the waiting room scales with the number of WAITING tokens
// (issue #5): concertd's memory, Redis memory per waiting token, and the cost of a
// token issue and of a poll as the queue grows.
//
// It makes one concert whose queue admits nobody (admitPerSecond 1, maxActive 1,
// then paused), reads Redis's used_memory as a baseline, and grows the queue
// through the -steps checkpoints by creating users and issuing their tokens through
// the API. At each checkpoint, with the queue at exactly that size, it reads
//
//   - Redis INFO memory (used_memory minus the baseline, per waiting token) and
//     MEMORY USAGE of every key of the concert (found by SCAN);
//   - concertd's RSS and Go heap from its /metrics (after a forced GC with -pprof);
//   - the concert's stats (waiting must equal the tokens issued, active 0);
//
// then runs -rounds rounds of two timed phases: -poll-duration of GET
// /api/queue/status on tokens drawn at random from every waiting token, then a
// probe of -probe token issues (POST /api/users/token) by users created
// beforehand, untimed. Each timed phase first waits for the rest of the machine
// to be quiet (-quiet); for each operation it reports the quiet round with the
// highest req/s (the machine is shared: neighbours only ever slow a round down),
// adding rounds up to -max-rounds until there is one, and records every round in
// the CSV, with concertd and Redis CPU per request and Redis time by command. The probes lengthen the queue from N
// to N+rounds*probe; the next checkpoint's fill counts those tokens.
//
//	rush scale -addr 127.0.0.1:8080 -admin-key $ADMIN_KEY -redis 127.0.0.1:6379 -steps 1000,10000,100000,1000000 -csv scale.csv
//
// The Redis figures are only meaningful on a Redis that holds nothing else (see
// bench/scale.sh, which starts a private one).
func runScale(args []string) error {
	var c scaleConfig
	fs := flag.NewFlagSet("rush scale", flag.ExitOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "concertd address (host:port)")
	fs.StringVar(&c.adminKey, "admin-key", os.Getenv("ADMIN_KEY"), "X-Admin-Key (default $ADMIN_KEY)")
	fs.StringVar(&c.redisAddr, "redis", "127.0.0.1:6379", "the Redis concertd uses (host:port), for INFO memory and MEMORY USAGE")
	fs.StringVar(&c.redisPrefix, "redis-prefix", "concertd", "concertd's REDIS_PREFIX, to name the concert's keys")
	steps := fs.String("steps", "1000,10000,100000,1000000", "checkpoints: waiting tokens at which to measure, ascending")
	fs.IntVar(&c.concurrency, "concurrency", 64, "requests in flight during the timed issue probe and poll")
	fs.IntVar(&c.fillConcurrency, "fill-concurrency", 128, "requests in flight while growing the queue (untimed)")
	fs.IntVar(&c.probe, "probe", 3000, "token issues timed per round (their users are created untimed first)")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds of poll + issue probe per checkpoint; the fastest quiet round of each is reported")
	fs.IntVar(&c.maxRounds, "max-rounds", 6, "more rounds, up to this many, while poll or issue has no quiet round")
	fs.Float64Var(&c.quiet, "quiet", 0.25, "a round is quiet when the rest of the machine (all but rush, concertd, Redis) used at most this many cores; each timed phase first waits for it")
	fs.DurationVar(&c.quietWait, "quiet-wait", 2*time.Minute, "wait at most this long for quiet before each timed phase")
	fs.DurationVar(&c.pollDuration, "poll-duration", 5*time.Second, "length of the timed poll at each checkpoint")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "pause before each timed phase, so the untimed work before it (database inserts, GC) is over")
	fs.StringVar(&c.pprof, "pprof", "", "concertd's CONCERTD_PPROF address: if set, a GC is forced (GET /debug/pprof/heap?gc=1) before each memory reading, so the heap figures are live memory")
	fs.StringVar(&c.profileDir, "profile-dir", "", "with -pprof: after the measured rounds of each checkpoint, one more poll phase under a CPU profile of concertd, saved here as poll-<waiting>.cpu.pprof")
	fs.StringVar(&c.csvPath, "csv", "", "write the figures here as CSV (rewritten after each checkpoint)")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Hour, "give up after this long")
	_ = fs.Parse(args)
	var err error
	if c.steps, err = parseSteps(*steps); err != nil {
		return err
	}
	if c.concurrency < 1 || c.fillConcurrency < 1 || c.probe < 1 || c.rounds < 1 || c.pollDuration <= 0 {
		return fmt.Errorf("-concurrency, -fill-concurrency, -probe, -rounds and -poll-duration must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return (&scaleRun{cfg: c}).run(ctx)
}

type scaleConfig struct {
	addr, adminKey         string
	redisAddr, redisPrefix string
	steps                  []int
	concurrency            int
	fillConcurrency        int
	probe                  int
	rounds, maxRounds      int
	quiet                  float64
	quietWait              time.Duration
	pollDuration           time.Duration
	settle                 time.Duration
	pprof                  string
	profileDir             string
	csvPath                string
	timeout                time.Duration
}

// parseSteps reads "1000,10000,1e6" style checkpoints (a k or M suffix is allowed):
// positive and strictly ascending.
func parseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		if f == "" {
			continue
		}
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"), strings.HasSuffix(f, "K"):
			mult, f = 1000, f[:len(f)-1]
		case strings.HasSuffix(f, "M"), strings.HasSuffix(f, "m"):
			mult, f = 1000000, f[:len(f)-1]
		}
		var n int
		if v, err := strconv.Atoi(f); err == nil {
			n = v * mult
		} else if fv, ferr := strconv.ParseFloat(f, 64); ferr == nil && fv == float64(int(fv)) {
			n = int(fv) * mult
		} else {
			return nil, fmt.Errorf("-steps: %q is not a whole number", f)
		}
		if n <= 0 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("-steps: want positive, strictly ascending counts, got %q", s)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-steps: no checkpoint")
	}
	return out, nil
}

// scaleRow is one checkpoint's figures.
type scaleRow struct {
	Waiting       int           // WAITING tokens while memory and polls were measured
	WaitingAfter  int           // after the issue probe
	FillSeconds   float64       // growing the queue from the previous checkpoint (untimed part)
	FillPerSecond float64       // users created and entered per second during the fill
	Issue, Poll   phaseResult   // the fastest round of each
	IssueRounds   []phaseResult // every round, in order
	PollRounds    []phaseResult
	RedisUsed     int64              // INFO used_memory
	RedisRSS      int64              // INFO used_memory_rss
	RedisDelta    int64              // used_memory - baseline
	RedisPerToken float64            // RedisDelta / Waiting
	KeysPerToken  float64            // MEMORY USAGE of the concert's keys / Waiting
	KeyBreakdown  map[string]float64 // MEMORY USAGE / Waiting by key or key family ("tok:*")
	RedisKeys     int64              // DBSIZE
	ConcertdRSS   float64            // process_resident_memory_bytes
	HeapInuse     float64            // go_memstats_heap_inuse_bytes
	HeapAlloc     float64            // go_memstats_heap_alloc_bytes
	GCForced      bool               // a GC ran just before: HeapAlloc is the live heap
	StatsWaiting  int64              // the concert's stats: waiting
	StatsActive   int64
	StatsAfter    int64 // stats waiting after the probe
	StatsOK       bool
}

// phaseResult is one timed phase: requests, their rate and latency, and failures.
type phaseResult struct {
	N        int
	Seconds  float64
	PerSec   float64
	P50, P99 time.Duration
	Errors   int // non-2xx answers, transport errors and unexpected states
	// CPU per request, measured around the phase: robust where req/s is not, on a
	// machine shared with other work.
	ConcertdUS float64 // concertd CPU µs per request (process_cpu_seconds_total)
	RedisUS    float64 // Redis CPU µs per request (INFO cpu used_cpu_user + used_cpu_sys)
	RedisCmds  string  // Redis time by command (INFO commandstats), see redisCommands
	RushCores  float64 // this load generator's CPU, in cores
	OtherCores float64 // the machine's busy CPU outside rush, concertd and Redis, in cores
}

type scaleRun struct {
	cfg       scaleConfig
	fill      *client // untimed work: users, fills, metrics
	meas      *client // the timed phases; its recorder is swapped per phase
	rdb       *redis.Client
	concertID int64
	stamp     int64
	tokens    []string
	uids      []int64
	baseline  int64
	rows      []scaleRow
}

func (s *scaleRun) run(ctx context.Context) error {
	c := s.cfg
	s.fill = newClient(c.addr, c.adminKey, c.fillConcurrency, newRecorder())
	s.meas = newClient(c.addr, c.adminKey, c.concurrency, newRecorder())
	s.rdb = redis.NewClient(&redis.Options{Addr: c.redisAddr, ReadTimeout: time.Minute})
	defer s.rdb.Close()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", c.redisAddr, err)
	}
	s.stamp = time.Now().UnixNano()
	total := c.steps[len(c.steps)-1] + c.probe*c.rounds*len(c.steps)
	s.tokens = make([]string, 0, total)
	s.uids = make([]int64, 0, total)

	// A concert nobody is admitted to: paused before the first token exists.
	t0 := time.Now()
	var err error
	var ids []int64
	s.concertID, ids, err = s.fill.createConcert(ctx, "scale "+t0.Format(time.RFC3339Nano),
		queueSettings{AdmitPerSecond: 1, MaxActive: 1},
		schedule{ConcertDate: t0.AddDate(0, 1, 0).Format(time.DateOnly), SeatCount: 1, Price: 50000})
	if err != nil {
		return err
	}
	if err := s.pause(ctx); err != nil {
		return err
	}
	// Let the admission loop step once over the new concert, so its cfg hash is in
	// its final shape before the baseline.
	if err := sleepCtx(ctx, 1500*time.Millisecond); err != nil {
		return err
	}
	if s.baseline, _, err = s.redisMemory(ctx); err != nil {
		return err
	}
	m0, err := s.metrics(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "rush scale: concert %d (schedule %d) paused; Redis used_memory baseline %s; concertd RSS %s, heap in use %s\n",
		s.concertID, ids[0], scaleMiB(float64(s.baseline)), scaleMiB(m0["process_resident_memory_bytes"]), scaleMiB(m0["go_memstats_heap_inuse_bytes"]))
	fmt.Fprintf(os.Stderr, "rush scale: steps %v; per checkpoint %d rounds of %s of polls and %d token issues at concurrency %d; fill at concurrency %d\n",
		c.steps, c.rounds, c.pollDuration, c.probe, c.concurrency, c.fillConcurrency)

	var failures []string
	for _, step := range c.steps {
		row, err := s.checkpoint(ctx, step)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", step, err)
		}
		s.rows = append(s.rows, row)
		if !row.StatsOK {
			failures = append(failures, fmt.Sprintf("checkpoint %d: stats waiting %d / %d after the probe (want %d / %d), active %d (want 0)",
				step, row.StatsWaiting, row.StatsAfter, row.Waiting, row.WaitingAfter, row.StatsActive))
		}
		if row.Issue.Errors > 0 || row.Poll.Errors > 0 {
			failures = append(failures, fmt.Sprintf("checkpoint %d: %d issue and %d poll failures", step, row.Issue.Errors, row.Poll.Errors))
		}
		if err := s.writeCSV(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "rush scale: %d waiting: issue %.0f/s p99 %s, poll %.0f/s p99 %s, Redis %.0f B/token, concertd RSS %s\n",
			row.Waiting, row.Issue.PerSec, ms(row.Issue.P99), row.Poll.PerSec, ms(row.Poll.P99), row.RedisPerToken, scaleMiB(row.ConcertdRSS))
	}
	writeScaleTable(os.Stdout, s.rows)
	fmt.Printf("untimed work (filling the queue, the probes' users, metrics) over %s:\n", time.Since(t0).Round(time.Second))
	writeRows(os.Stdout, s.fill.stats.rows(time.Since(t0)))
	if len(failures) > 0 {
		for _, f := range failures {
			fmt.Println("FAIL " + f)
		}
		return fmt.Errorf("%d checks failed", len(failures))
	}
	fmt.Println("ok   stats waiting matched the tokens issued at every checkpoint, nobody admitted, no failed request")
	return nil
}

// checkpoint grows the queue to exactly n waiting tokens and measures it.
func (s *scaleRun) checkpoint(ctx context.Context, n int) (scaleRow, error) {
	row := scaleRow{Waiting: n}
	have := len(s.tokens)
	if n > have {
		start := time.Now()
		if err := s.grow(ctx, n-have); err != nil {
			return row, err
		}
		row.FillSeconds = time.Since(start).Seconds()
		row.FillPerSecond = float64(n-have) / row.FillSeconds
	} else if n < have {
		fmt.Fprintf(os.Stderr, "rush scale: checkpoint %d is below the %d tokens already waiting; measuring at %d\n", n, have, have)
		row.Waiting = have
	}
	n = row.Waiting

	// Memory, with the queue at exactly n.
	st, err := s.fill.concertStats(ctx, s.concertID)
	if err != nil {
		return row, err
	}
	row.StatsWaiting, row.StatsActive = st.Waiting, st.Active
	if row.RedisUsed, row.RedisRSS, err = s.redisMemory(ctx); err != nil {
		return row, err
	}
	row.RedisDelta = row.RedisUsed - s.baseline
	row.RedisPerToken = float64(row.RedisDelta) / float64(n)
	if err := s.keyUsage(ctx, &row); err != nil {
		return row, err
	}
	if row.GCForced, err = s.forceGC(ctx); err != nil {
		return row, err
	}
	m, err := s.metrics(ctx)
	if err != nil {
		return row, err
	}
	row.ConcertdRSS = m["process_resident_memory_bytes"]
	row.HeapInuse = m["go_memstats_heap_inuse_bytes"]
	row.HeapAlloc = m["go_memstats_heap_alloc_bytes"]

	// -rounds rounds, and more (up to -max-rounds) while either operation has no
	// round the neighbours left alone.
	quietPolls, quietIssues := 0, 0
	for r := 0; r < s.cfg.rounds || ((quietPolls == 0 || quietIssues == 0) && r < s.cfg.maxRounds); r++ {
		// The probe's users first, untimed.
		k := s.cfg.probe
		uids := make([]int64, k)
		err = forEach(ctx, k, s.cfg.fillConcurrency, func(ctx context.Context, i int) error {
			uid, err := s.createUser(ctx, s.fill, len(s.tokens)+i)
			uids[i] = uid
			return err
		})
		if err != nil {
			return row, fmt.Errorf("probe users: %w", err)
		}
		// Polls on random waiting tokens: the queue length does not change.
		p, err := s.pollPhase(ctx, len(s.tokens))
		if err != nil {
			return row, err
		}
		// Token issues: the queue grows by k.
		i, err := s.issuePhase(ctx, uids)
		if err != nil {
			return row, err
		}
		row.PollRounds = append(row.PollRounds, p)
		row.IssueRounds = append(row.IssueRounds, i)
		if p.OtherCores <= s.cfg.quiet {
			quietPolls++
		}
		if i.OtherCores <= s.cfg.quiet {
			quietIssues++
		}
	}
	row.Poll, row.Issue = fastestRound(row.PollRounds, s.cfg.quiet), fastestRound(row.IssueRounds, s.cfg.quiet)
	if err := s.profilePoll(ctx, n); err != nil {
		return row, err
	}
	row.WaitingAfter = len(s.tokens)
	st, err = s.fill.concertStats(ctx, s.concertID)
	if err != nil {
		return row, err
	}
	row.StatsAfter = st.Waiting
	row.StatsOK = row.StatsWaiting == int64(n) && row.StatsActive == 0 && st.Waiting == int64(row.WaitingAfter) && st.Active == 0
	return row, nil
}

// grow adds k waiting tokens: a new user each, created and entered at
// -fill-concurrency, with a progress line every 5 s.
func (s *scaleRun) grow(ctx context.Context, k int) error {
	base := len(s.tokens)
	uids := make([]int64, k)
	tokens := make([]string, k)
	var done atomic.Int64
	stopProgress := scaleProgress(fmt.Sprintf("fill %d -> %d", base, base+k), k, &done)
	defer stopProgress()
	err := forEach(ctx, k, s.cfg.fillConcurrency, func(ctx context.Context, i int) error {
		uid, err := s.createUser(ctx, s.fill, base+i)
		if err != nil {
			return err
		}
		tok, err := s.enterRetry(ctx, s.fill, uid)
		if err != nil {
			return err
		}
		uids[i], tokens[i] = uid, tok
		done.Add(1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	s.uids = append(s.uids, uids...)
	s.tokens = append(s.tokens, tokens...)
	return nil
}

// progress prints what/done/total and the rate every 5 s until the returned func is called.
func scaleProgress(what string, total int, done *atomic.Int64) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				fmt.Fprintf(os.Stderr, "rush scale: %s: %d/%d, %.0f/s\n", what, d, total, rate(d, time.Since(start)))
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// retryable is a failure worth repeating during the untimed fill: no answer, or a 5xx.
func scaleRetryable(a answer, err error) bool {
	return errors.Is(err, errTransport) || (err == nil && a.Status >= 500)
}

// createUser registers user i; a retry uses a new email, since the failed attempt
// may have created the user after all.
func (s *scaleRun) createUser(ctx context.Context, cl *client, i int) (int64, error) {
	for attempt := 0; ; attempt++ {
		v, a, err := callAnswer[struct {
			UserID  int64  `json:"userId"`
			UserKey string `json:"userKey"`
		}](ctx, cl, call{endpoint: "POST /api/users", method: "POST", path: "/api/users",
			body: map[string]string{"name": fmt.Sprintf("scale %d", i), "email": fmt.Sprintf("scale-%d-%d-%d@bench.invalid", s.stamp, i, attempt)}})
		if scaleRetryable(a, err) && attempt < 5 {
			if err := sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := a.decode(nil); err != nil {
			return 0, fmt.Errorf("create user: %w", err)
		}
		userKeys.Store(v.UserID, v.UserKey)
		return v.UserID, nil
	}
}

// enterRetry issues uid's token, retrying transport errors and 5xx (a retry gets
// the same token back), and insists on a WAITING answer.
func (s *scaleRun) enterRetry(ctx context.Context, cl *client, uid int64) (string, error) {
	for attempt := 0; ; attempt++ {
		v, a, err := s.enterOnce(ctx, cl, uid)
		if scaleRetryable(a, err) && attempt < 5 {
			if err := sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond); err != nil {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if err := a.decode(nil); err != nil {
			return "", fmt.Errorf("enter: %w", err)
		}
		if v.Status != "WAITING" || v.UserToken == "" {
			return "", fmt.Errorf("enter: user %d got %s, want WAITING", uid, v.Status)
		}
		return v.UserToken, nil
	}
}

func (s *scaleRun) enterOnce(ctx context.Context, cl *client, uid int64) (queueStatus, answer, error) {
	return callAnswer[queueStatus](ctx, cl, call{endpoint: "POST /api/users/token", method: "POST", path: "/api/users/token",
		token: userKey(uid), body: map[string]int64{"concertId": s.concertID}})
}

// profilePoll runs one more, unmeasured poll phase while it takes a CPU profile of
// concertd, saved as <-profile-dir>/poll-<n>.cpu.pprof; only with -pprof and
// -profile-dir.
func (s *scaleRun) profilePoll(ctx context.Context, n int) error {
	if s.cfg.pprof == "" || s.cfg.profileDir == "" {
		return nil
	}
	secs := max(int(s.cfg.pollDuration.Seconds())-1, 1)
	errc := make(chan error, 1)
	go func() {
		if err := sleepCtx(ctx, s.cfg.settle+500*time.Millisecond); err != nil {
			errc <- err
			return
		}
		req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.cfg.pprof, secs), nil)
		if err != nil {
			errc <- err
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errc <- fmt.Errorf("CPU profile: %w", err)
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("CPU profile: %s", resp.Status)
		}
		if err == nil {
			err = os.WriteFile(fmt.Sprintf("%s/poll-%d.cpu.pprof", s.cfg.profileDir, n), b, 0o644)
		}
		errc <- err
	}()
	if _, err := s.pollPhase(ctx, len(s.tokens)); err != nil {
		return err
	}
	return <-errc
}

// fastestRound is the round with the highest req/s among those during which the
// rest of the machine used at most `quiet` cores, or among all if none was quiet.
func fastestRound(rounds []phaseResult, quiet float64) phaseResult {
	var best phaseResult
	found := false
	for _, onlyQuiet := range []bool{true, false} {
		for _, r := range rounds {
			if onlyQuiet && r.OtherCores > quiet {
				continue
			}
			if !found || r.PerSec > best.PerSec {
				best, found = r, true
			}
		}
		if found {
			return best
		}
	}
	return best
}

// settleDown precedes each timed phase: -settle, then waitQuiet.
func (s *scaleRun) settleDown(ctx context.Context) error {
	if err := sleepCtx(ctx, s.cfg.settle); err != nil {
		return err
	}
	return s.waitQuiet(ctx)
}

// waitQuiet waits, at most -quiet-wait, until the rest of the machine (all but
// rush, concertd and Redis) uses at most -quiet cores over a second, so a timed
// phase does not start in the middle of a neighbour's load run.
func (s *scaleRun) waitQuiet(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.quietWait)
	said := false
	for {
		c0, err := s.cpu(ctx)
		if err != nil {
			return err
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
		c1, err := s.cpu(ctx)
		if err != nil {
			return err
		}
		d := c1.sub(c0)
		if d.machine < 0 || d.wall <= 0 {
			return nil
		}
		other := max(d.machine-d.rush-d.concertd-d.redis, 0) / d.wall
		if other <= s.cfg.quiet {
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "rush scale: the rest of the machine still uses %.2f cores after %s; measuring anyway\n", other, s.cfg.quietWait)
			return nil
		}
		if !said {
			fmt.Fprintf(os.Stderr, "rush scale: the rest of the machine uses %.2f cores; waiting up to %s for it to drop below %.2f\n", other, s.cfg.quietWait, s.cfg.quiet)
			said = true
		}
		if err := sleepCtx(ctx, 2*time.Second); err != nil {
			return err
		}
	}
}

// issuePhase times the token requests of uids (users that exist and hold no token
// yet) at -concurrency. The queue grows by len(uids) during it.
func (s *scaleRun) issuePhase(ctx context.Context, uids []int64) (phaseResult, error) {
	k := len(uids)
	n := len(s.tokens)
	rec := newRecorder()
	s.meas.stats = rec
	tokens := make([]string, k)
	var bad atomic.Int64
	elapsed, cpu0, cpu1, err := s.measured(ctx, func() error {
		return forEach(ctx, k, s.cfg.concurrency, func(ctx context.Context, i int) error {
			v, a, err := s.enterOnce(ctx, s.meas, uids[i])
			switch {
			case err != nil && !errors.Is(err, errTransport):
				return err
			case err != nil || a.Status != 201 || v.Status != "WAITING" || v.Position < 1 || v.Position > int64(n+k):
				bad.Add(1)
			default:
				tokens[i] = v.UserToken
			}
			return nil
		})
	})
	if err != nil {
		return phaseResult{}, err
	}
	// A probe request that failed still needs its token for the queue count to be
	// known: take it untimed now (a retry returns the same live token).
	for i, t := range tokens {
		if t == "" {
			if tokens[i], err = s.enterRetry(ctx, s.fill, uids[i]); err != nil {
				return phaseResult{}, fmt.Errorf("probe: %w", err)
			}
		}
	}
	s.uids = append(s.uids, uids...)
	s.tokens = append(s.tokens, tokens...)
	return scalePhase(rec, "POST /api/users/token", elapsed, int(bad.Load()), cpu0, cpu1), nil
}

// pollPhase polls tokens drawn at random from the n waiting ones for -poll-duration
// at -concurrency.
func (s *scaleRun) pollPhase(ctx context.Context, n int) (phaseResult, error) {
	rec := newRecorder()
	s.meas.stats = rec
	var bad atomic.Int64
	elapsed, cpu0, cpu1, err := s.measured(ctx, func() error {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.pollDuration)
		defer cancel()
		err := forEach(pctx, s.cfg.concurrency, s.cfg.concurrency, func(ctx context.Context, _ int) error {
			for ctx.Err() == nil {
				st, a, err := s.meas.status(ctx, s.tokens[rand.IntN(n)])
				switch {
				case ctx.Err() != nil:
					return nil
				case err != nil && !errors.Is(err, errTransport):
					return err
				case err != nil || !a.ok() || st.Status != "WAITING" || st.Position < 1 || st.Position > int64(n):
					bad.Add(1)
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return ctx.Err()
	})
	if err != nil {
		return phaseResult{}, err
	}
	return scalePhase(rec, "GET /api/queue/status", elapsed, int(bad.Load()), cpu0, cpu1), nil
}

// measured lets the rest of the machine settle, then times phase between two CPU
// snapshots.
func (s *scaleRun) measured(ctx context.Context, phase func() error) (elapsed time.Duration, cpu0, cpu1 cpuSnapshot, err error) {
	if err = s.settleDown(ctx); err != nil {
		return 0, cpu0, cpu1, err
	}
	if cpu0, err = s.cpu(ctx); err != nil {
		return 0, cpu0, cpu1, err
	}
	start := time.Now()
	err = phase()
	elapsed = time.Since(start)
	if err != nil {
		return elapsed, cpu0, cpu1, err
	}
	cpu1, err = s.cpu(ctx)
	return elapsed, cpu0, cpu1, err
}

func scalePhase(rec *recorder, endpoint string, elapsed time.Duration, bad int, cpu0, cpu1 cpuSnapshot) phaseResult {
	p := phaseResult{Seconds: elapsed.Seconds(), Errors: bad}
	for _, r := range rec.rows(elapsed) {
		if r.Endpoint == endpoint {
			p.N, p.PerSec, p.P50, p.P99 = r.Count, r.PerSecond, r.P50, r.P99
		}
	}
	d := cpu1.sub(cpu0)
	if p.N > 0 {
		p.ConcertdUS = d.concertd / float64(p.N) * 1e6
		p.RedisUS = d.redis / float64(p.N) * 1e6
		p.RedisCmds = redisCommands(d.cmds, p.N)
	}
	if d.wall > 0 {
		p.RushCores = d.rush / d.wall
		if d.machine >= 0 {
			p.OtherCores = max(d.machine-d.rush-d.concertd-d.redis, 0) / d.wall
		}
	}
	return p
}

// cpuSnapshot is CPU seconds used so far: by concertd, Redis, this process and the
// whole machine (busy time of all cores; -1 when /proc/stat cannot be read).
type cpuSnapshot struct {
	wall                           float64 // seconds since an arbitrary origin
	concertd, redis, rush, machine float64
	cmds                           map[string]cmdStat // Redis INFO commandstats
}

// cmdStat is one line of INFO commandstats: calls and total µs of a command.
type cmdStat struct{ calls, usec float64 }

var cpuOrigin = time.Now()

func (a cpuSnapshot) sub(b cpuSnapshot) cpuSnapshot {
	d := cpuSnapshot{wall: a.wall - b.wall, concertd: a.concertd - b.concertd, redis: a.redis - b.redis, rush: a.rush - b.rush, machine: -1,
		cmds: map[string]cmdStat{}}
	if a.machine >= 0 && b.machine >= 0 {
		d.machine = a.machine - b.machine
	}
	for k, v := range a.cmds {
		if dv := (cmdStat{v.calls - b.cmds[k].calls, v.usec - b.cmds[k].usec}); dv.calls > 0 {
			d.cmds[k] = dv
		}
	}
	return d
}

func (s *scaleRun) cpu(ctx context.Context) (cpuSnapshot, error) {
	c := cpuSnapshot{wall: time.Since(cpuOrigin).Seconds(), machine: machineBusySeconds()}
	m, err := s.metrics(ctx)
	if err != nil {
		return c, err
	}
	c.concertd = m["process_cpu_seconds_total"]
	info, err := s.rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return c, fmt.Errorf("redis INFO cpu: %w", err)
	}
	f := parseRedisInfo(info)
	u, err1 := strconv.ParseFloat(f["used_cpu_user"], 64)
	sy, err2 := strconv.ParseFloat(f["used_cpu_sys"], 64)
	if err1 != nil || err2 != nil {
		return c, fmt.Errorf("redis INFO cpu: no used_cpu_user / used_cpu_sys")
	}
	c.redis = u + sy
	stats, err := s.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return c, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	c.cmds = parseCommandStats(stats)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		c.rush = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	}
	return c, nil
}

// parseCommandStats reads INFO commandstats lines
// "cmdstat_zrank:calls=10,usec=50,usec_per_call=5.00,...".
func parseCommandStats(info string) map[string]cmdStat {
	out := map[string]cmdStat{}
	for k, v := range parseRedisInfo(info) {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		var st cmdStat
		for _, kv := range strings.Split(v, ",") {
			f, val, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseFloat(val, 64)
			if err != nil {
				continue
			}
			switch f {
			case "calls":
				st.calls = n
			case "usec":
				st.usec = n
			}
		}
		out[name] = st
	}
	return out
}

// redisCommands formats Redis's time by command over a phase of n requests, most
// first: "evalsha 20.1us/req (0.05 calls/req 402us/call); zadd ...". A script's
// commands are counted both on their own and inside the script's time.
func redisCommands(cmds map[string]cmdStat, n int) string {
	if n <= 0 {
		return ""
	}
	names := make([]string, 0, len(cmds))
	for k, v := range cmds {
		if v.usec/float64(n) >= 0.05 && k != "info" {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return cmds[names[i]].usec > cmds[names[j]].usec })
	parts := make([]string, len(names))
	for i, k := range names {
		v := cmds[k]
		parts[i] = fmt.Sprintf("%s %.1fus/req (%.2f calls/req %.2fus/call)", k, v.usec/float64(n), v.calls/float64(n), v.usec/v.calls)
	}
	return strings.Join(parts, "; ")
}

func tvSeconds(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// machineBusySeconds is the busy time of every core from /proc/stat's cpu line
// (user nice system irq softirq steal; USER_HZ = 100), or -1.
func machineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseCPULine(line)
}

// parseCPULine reads "cpu  user nice system idle iowait irq softirq steal ..." and
// returns the non-idle seconds, or -1.
func parseCPULine(line string) float64 {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var busy float64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return -1
		}
		busy += n
	}
	return busy / 100
}

// pause stops admission on the concert (PATCH .../queue {"paused": true}).
func (s *scaleRun) pause(ctx context.Context) error {
	v, err := callJSON[struct {
		Paused bool `json:"paused"`
	}](ctx, s.fill, call{endpoint: "PATCH /api/admin/concerts/{id}/queue", method: "PATCH",
		path: "/api/admin/concerts/" + strconv.FormatInt(s.concertID, 10) + "/queue", admin: true,
		body: map[string]bool{"paused": true}}, "pause queue")
	if err != nil {
		return err
	}
	if !v.Paused {
		return fmt.Errorf("pause queue: the answer says paused=false")
	}
	return nil
}

// redisMemory reads INFO memory's used_memory and used_memory_rss.
func (s *scaleRun) redisMemory(ctx context.Context) (used, rss int64, err error) {
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("redis INFO memory: %w", err)
	}
	f := parseRedisInfo(info)
	used, err1 := strconv.ParseInt(f["used_memory"], 10, 64)
	rss, err2 := strconv.ParseInt(f["used_memory_rss"], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("redis INFO memory: no used_memory / used_memory_rss")
	}
	return used, rss, nil
}

// parseInfo reads the field:value lines of an INFO answer.
func parseRedisInfo(info string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// keyUsage reads MEMORY USAGE of every key of the concert, found by SCAN, so it
// follows whatever key layout the server uses: single keys (wait, seen, tokens...)
// exactly (SAMPLES 0: every element counted), and a family of per-user keys such
// as tok:<userID> as its count times the mean of a random sample of 200.
func (s *scaleRun) keyUsage(ctx context.Context, row *scaleRow) error {
	prefix := s.cfg.redisPrefix + ":{c" + strconv.FormatInt(s.concertID, 10) + "}:"
	type family struct {
		count  int64
		sample []string // reservoir sample of key names
	}
	const sampleSize = 200
	singles := map[string]bool{}
	families := map[string]*family{}
	var cursor uint64
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, redisMatchEscape(prefix)+"*", 5000).Result()
		if err != nil {
			return fmt.Errorf("redis SCAN: %w", err)
		}
		for _, k := range keys {
			name, fam := keyFamily(strings.TrimPrefix(k, prefix))
			if !fam {
				singles[name] = true
				continue
			}
			f := families[name]
			if f == nil {
				f = &family{}
				families[name] = f
			}
			f.count++
			if len(f.sample) < sampleSize {
				f.sample = append(f.sample, k)
			} else if j := rand.Int64N(f.count); j < sampleSize {
				f.sample[j] = k
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(singles)+len(families) == 0 {
		return fmt.Errorf("redis: no key matches %s* (is -redis-prefix %q concertd's REDIS_PREFIX?)", prefix, s.cfg.redisPrefix)
	}
	usage := map[string]float64{}
	for name := range singles {
		v, err := s.rdb.MemoryUsage(ctx, prefix+name, 0).Result()
		if errors.Is(err, redis.Nil) {
			continue // gone since the SCAN
		}
		if err != nil {
			return fmt.Errorf("redis MEMORY USAGE %s: %w", name, err)
		}
		usage[name] = float64(v)
	}
	for name, f := range families {
		var sum, n int64
		for _, k := range f.sample {
			v, err := s.rdb.MemoryUsage(ctx, k).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return fmt.Errorf("redis MEMORY USAGE %s: %w", k, err)
			}
			sum, n = sum+v, n+1
		}
		if n > 0 {
			usage[name] = float64(sum) / float64(n) * float64(f.count)
		}
	}
	var err error
	if row.RedisKeys, err = s.rdb.DBSize(ctx).Result(); err != nil {
		return fmt.Errorf("redis DBSIZE: %w", err)
	}
	nTokens := float64(row.Waiting)
	row.KeysPerToken = 0
	row.KeyBreakdown = map[string]float64{}
	for name, v := range usage {
		row.KeysPerToken += v / nTokens
		row.KeyBreakdown[name] = v / nTokens
	}
	return nil
}

// keyFamily names a key (without the concert's prefix) for the breakdown: a
// per-user or per-id key "tok:123" belongs to the family "tok:*"; any other key is
// its own.
func keyFamily(k string) (string, bool) {
	i := strings.LastIndexByte(k, ':')
	if i < 0 || i == len(k)-1 {
		return k, false
	}
	for _, r := range k[i+1:] {
		if r < '0' || r > '9' {
			return k, false
		}
	}
	return k[:i] + ":*", true
}

// redisMatchEscape escapes SCAN MATCH's glob characters ({c1} has none, but a
// prefix might).
func redisMatchEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// breakdown formats the per-token bytes by key, largest first, e.g.
// "wait 98.4 + seen 94.2 + tok:* 120.0"; sep separates the entries.
func breakdown(m map[string]float64, sep string) string {
	names := make([]string, 0, len(m))
	for k, v := range m {
		if v >= 0.05 {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]] > m[names[j]] })
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %.1f", k, m[k])
	}
	return strings.Join(parts, sep)
}

// forceGC has concertd collect garbage through its pprof endpoint (the heap profile
// with gc=1), when -pprof is set; it reports whether it did.
func (s *scaleRun) forceGC(ctx context.Context) (bool, error) {
	if s.cfg.pprof == "" {
		return false, nil
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.cfg.pprof+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("force GC: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("force GC: %s", resp.Status)
	}
	return true, nil
}

// metrics scrapes concertd's /metrics and returns the unlabelled samples by name.
func (s *scaleRun) metrics(ctx context.Context) (map[string]float64, error) {
	a, err := s.fill.do(ctx, call{endpoint: "GET /metrics", method: "GET", path: "/metrics"})
	if err != nil {
		return nil, err
	}
	if !a.ok() {
		return nil, fmt.Errorf("GET /metrics: HTTP %d", a.Status)
	}
	m := parsePromText(a.Body)
	for _, name := range []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "process_cpu_seconds_total"} {
		if _, ok := m[name]; !ok {
			return nil, fmt.Errorf("GET /metrics: no %s", name)
		}
	}
	return m, nil
}

// parseMetrics reads the unlabelled samples of a Prometheus text exposition.
func parsePromText(body []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}

func scaleMiB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

var scaleCSVHeader = []string{
	"waiting", "waiting_after_probe", "fill_seconds", "fill_per_s",
	"issue_n", "issue_rps", "issue_p50_ms", "issue_p99_ms", "issue_errors",
	"issue_concertd_cpu_us", "issue_redis_cpu_us", "issue_rush_cores", "issue_other_cores",
	"poll_n", "poll_rps", "poll_p50_ms", "poll_p99_ms", "poll_errors",
	"poll_concertd_cpu_us", "poll_redis_cpu_us", "poll_rush_cores", "poll_other_cores",
	"redis_used_bytes", "redis_rss_bytes", "redis_delta_bytes", "redis_bytes_per_token",
	"keys_bytes_per_token", "keys_breakdown", "redis_keys",
	"concertd_rss_bytes", "concertd_heap_inuse_bytes", "concertd_heap_alloc_bytes", "gc_forced",
	"stats_waiting", "stats_active", "stats_waiting_after_probe", "stats_ok",
	"issue_rps_rounds", "poll_rps_rounds", "issue_other_cores_rounds", "poll_other_cores_rounds",
	"issue_redis_commands", "poll_redis_commands",
}

func (s *scaleRun) writeCSV() error {
	if s.cfg.csvPath == "" {
		return nil
	}
	var b bytes.Buffer
	writeScaleCSV(&b, s.rows)
	return os.WriteFile(s.cfg.csvPath, b.Bytes(), 0o644)
}

func writeScaleCSV(w io.Writer, rows []scaleRow) {
	fmt.Fprintln(w, strings.Join(scaleCSVHeader, ","))
	msf := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
	}
	ff := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	for _, r := range rows {
		rec := []string{
			strconv.Itoa(r.Waiting), strconv.Itoa(r.WaitingAfter), ff(r.FillSeconds, 2), ff(r.FillPerSecond, 0),
			strconv.Itoa(r.Issue.N), ff(r.Issue.PerSec, 0), msf(r.Issue.P50), msf(r.Issue.P99), strconv.Itoa(r.Issue.Errors),
			ff(r.Issue.ConcertdUS, 1), ff(r.Issue.RedisUS, 1), ff(r.Issue.RushCores, 2), ff(r.Issue.OtherCores, 2),
			strconv.Itoa(r.Poll.N), ff(r.Poll.PerSec, 0), msf(r.Poll.P50), msf(r.Poll.P99), strconv.Itoa(r.Poll.Errors),
			ff(r.Poll.ConcertdUS, 1), ff(r.Poll.RedisUS, 1), ff(r.Poll.RushCores, 2), ff(r.Poll.OtherCores, 2),
			strconv.FormatInt(r.RedisUsed, 10), strconv.FormatInt(r.RedisRSS, 10), strconv.FormatInt(r.RedisDelta, 10), ff(r.RedisPerToken, 1),
			ff(r.KeysPerToken, 1), breakdown(r.KeyBreakdown, "; "), strconv.FormatInt(r.RedisKeys, 10),
			ff(r.ConcertdRSS, 0), ff(r.HeapInuse, 0), ff(r.HeapAlloc, 0), strconv.FormatBool(r.GCForced),
			strconv.FormatInt(r.StatsWaiting, 10), strconv.FormatInt(r.StatsActive, 10), strconv.FormatInt(r.StatsAfter, 10), strconv.FormatBool(r.StatsOK),
			joinRounds(r.IssueRounds, func(p phaseResult) string { return ff(p.PerSec, 0) }),
			joinRounds(r.PollRounds, func(p phaseResult) string { return ff(p.PerSec, 0) }),
			joinRounds(r.IssueRounds, func(p phaseResult) string { return ff(p.OtherCores, 2) }),
			joinRounds(r.PollRounds, func(p phaseResult) string { return ff(p.OtherCores, 2) }),
			r.Issue.RedisCmds, r.Poll.RedisCmds,
		}
		fmt.Fprintln(w, strings.Join(rec, ","))
	}
}

// heap is the live heap when a GC was forced before the reading (heap_alloc right
// after a GC), else the heap in use (which includes garbage not yet collected).
func (r scaleRow) heap() float64 {
	if r.GCForced {
		return r.HeapAlloc
	}
	return r.HeapInuse
}

// joinRounds lists one figure of every round, ";"-separated (one CSV field).
func joinRounds(rounds []phaseResult, f func(phaseResult) string) string {
	out := make([]string, len(rounds))
	for i, r := range rounds {
		out[i] = f(r)
	}
	return strings.Join(out, ";")
}

// writeScaleTable prints the checkpoints and how the largest compares with the smallest.
// CPU/op is concertd + Redis CPU µs per request; "other" is the machine's CPU (in
// cores) used outside rush, concertd and Redis during the phase: when it is high,
// req/s says more about the neighbours than about concertd.
func writeScaleTable(w io.Writer, rows []scaleRow) {
	fmt.Fprintf(w, "%9s %7s | %7s %8s %8s %7s %5s | %7s %8s %8s %7s %5s | %7s %7s | %9s %9s\n",
		"waiting", "fill/s", "issue/s", "p50", "p99", "CPU/op", "other", "poll/s", "p50", "p99", "CPU/op", "other",
		"B/token", "keysB/t", "RSS", "heap")
	for _, r := range rows {
		fmt.Fprintf(w, "%9d %7.0f | %7.0f %8s %8s %6.0fus %5.2f | %7.0f %8s %8s %6.0fus %5.2f | %7.1f %7.1f | %9s %9s\n",
			r.Waiting, r.FillPerSecond,
			r.Issue.PerSec, ms(r.Issue.P50), ms(r.Issue.P99), r.Issue.ConcertdUS+r.Issue.RedisUS, r.Issue.OtherCores,
			r.Poll.PerSec, ms(r.Poll.P50), ms(r.Poll.P99), r.Poll.ConcertdUS+r.Poll.RedisUS, r.Poll.OtherCores,
			r.RedisPerToken, r.KeysPerToken, scaleMiB(r.ConcertdRSS), scaleMiB(r.heap()))
	}
	if len(rows) < 2 {
		return
	}
	first, last := rows[0], rows[len(rows)-1]
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	for _, x := range []struct {
		name        string
		first, last phaseResult
	}{{"issue", first.Issue, last.Issue}, {"poll", first.Poll, last.Poll}} {
		fmt.Fprintf(w, "%s at %d vs %d waiting: req/s x%.2f, p99 x%.2f, CPU/op x%.2f (concertd %.0f -> %.0f us, Redis %.1f -> %.1f us)   goal: req/s >= x0.80\n",
			x.name, last.Waiting, first.Waiting, ratio(x.last.PerSec, x.first.PerSec), ratio(float64(x.last.P99), float64(x.first.P99)),
			ratio(x.last.ConcertdUS+x.last.RedisUS, x.first.ConcertdUS+x.first.RedisUS),
			x.first.ConcertdUS, x.last.ConcertdUS, x.first.RedisUS, x.last.RedisUS)
	}
	fmt.Fprintf(w, "Redis: %.1f bytes per waiting token at %d (INFO used_memory delta; %.1f from MEMORY USAGE: %s)   goal < 200\n",
		last.RedisPerToken, last.Waiting, last.KeysPerToken, breakdown(last.KeyBreakdown, " + "))
	// At each memory reading exactly `Waiting` users exist: one token each.
	users := float64(last.Waiting - first.Waiting)
	fmt.Fprintf(w, "concertd: RSS %s -> %s, heap (live after GC if -pprof, else in use) %s -> %s: %.0f bytes RSS, %.0f bytes heap per user added   goal: flat\n",
		scaleMiB(first.ConcertdRSS), scaleMiB(last.ConcertdRSS), scaleMiB(first.heap()), scaleMiB(last.heap()),
		(last.ConcertdRSS-first.ConcertdRSS)/users, (last.heap()-first.heap())/users)
}
