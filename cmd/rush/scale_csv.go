// The CSV of every checkpoint (-csv).

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

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
