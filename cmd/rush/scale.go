package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// runScale measures how the waiting room scales with the number of WAITING
// tokens: concertd's memory, Redis memory per waiting token, and the cost of a
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
	serverFlags(fs, &c.addr, &c.adminKey)
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
