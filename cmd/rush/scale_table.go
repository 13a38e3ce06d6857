// The table printed at the end of a run.

package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

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

func scaleMiB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

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
