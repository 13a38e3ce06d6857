package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concertd/concertd/test/rushtest"
)

// recorder keeps every answer's latency and outcome by endpoint. A run records a
// few hundred thousand answers at most, so keeping the raw samples (8 bytes each)
// is cheaper to reason about than a histogram and gives exact percentiles.
type recorder struct {
	mu        sync.Mutex
	endpoints map[string]*endpointStats
	total     atomic.Int64
	// perSecond keeps each latency a second time, until takeSecond, for the
	// timeline; set before any request, and only when someone takes the seconds.
	perSecond bool
	second    []time.Duration
}

type endpointStats struct {
	samples []time.Duration
	codes   map[string]int // non-2xx outcomes: "409 SEAT_TAKEN", "TRANSPORT"
}

func newRecorder() *recorder { return &recorder{endpoints: map[string]*endpointStats{}} }

func (r *recorder) record(endpoint string, took time.Duration, status int, code string) {
	r.total.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.endpoints[endpoint]
	if e == nil {
		e = &endpointStats{codes: map[string]int{}}
		r.endpoints[endpoint] = e
	}
	e.samples = append(e.samples, took)
	if r.perSecond {
		r.second = append(r.second, took)
	}
	switch {
	case status == 0:
		e.codes[code]++
	case status < 200 || status > 299:
		e.codes[fmt.Sprintf("%d %s", status, code)]++
	}
}

// takeSecond returns how many requests finished since its last call and their
// p99, and starts a new window.
func (r *recorder) takeSecond() (n int, p99 time.Duration) {
	r.mu.Lock()
	w := r.second
	r.second = make([]time.Duration, 0, len(w))
	r.mu.Unlock()
	slices.Sort(w)
	return len(w), percentile(w, 99)
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted
// samples: the smallest value with at least p% of the samples at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// endpointRow is one line of the report.
type endpointRow struct {
	Endpoint      string
	Count         int
	PerSecond     float64
	P50, P95, P99 time.Duration
	Max           time.Duration
	Errors        map[string]int
}

// rows summarizes the recorder over a run that lasted elapsed, busiest endpoint first.
func (r *recorder) rows(elapsed time.Duration) []endpointRow {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []endpointRow
	for name, e := range r.endpoints {
		s := slices.Clone(e.samples)
		slices.Sort(s)
		out = append(out, summarize(name, s, elapsed, e.codes))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Endpoint < out[j].Endpoint
	})
	return out
}

func summarize(name string, sorted []time.Duration, elapsed time.Duration, codes map[string]int) endpointRow {
	row := endpointRow{Endpoint: name, Count: len(sorted), Errors: codes}
	if elapsed > 0 {
		row.PerSecond = float64(len(sorted)) / elapsed.Seconds()
	}
	row.P50 = percentile(sorted, 50)
	row.P95 = percentile(sorted, 95)
	row.P99 = percentile(sorted, 99)
	if len(sorted) > 0 {
		row.Max = sorted[len(sorted)-1]
	}
	return row
}

// rate is events per second over a window; 0 for an empty window.
var rate = rushtest.Rate

// bestWindow returns the largest count of events within any `window`-long span of
// the sorted instants: the sustained peak rate, free of the ramp-up and tail.
func bestWindow(sorted []time.Time, window time.Duration) int {
	best, j := 0, 0
	for i := range sorted {
		for sorted[i].Sub(sorted[j]) >= window {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func writeRows(w io.Writer, rows []endpointRow) {
	fmt.Fprintf(w, "%-44s %8s %9s %9s %9s %9s %9s  %s\n", "endpoint", "count", "req/s", "p50", "p95", "p99", "max", "non-2xx")
	for _, r := range rows {
		fmt.Fprintf(w, "%-44s %8d %9.0f %9s %9s %9s %9s  %s\n", r.Endpoint, r.Count, r.PerSecond,
			ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), formatCodes(r.Errors))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func formatCodes(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
