// The timed phases of a checkpoint (polls, token issues) and the quiet machine they wait for.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

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
