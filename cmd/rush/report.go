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
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

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

// admissionSample is one read of the concert's stats during the sale. The server
// read its counts at some instant between Sent and Recv.
type admissionSample struct {
	Sent, Recv                time.Time
	Admitted, Active, Waiting int64
}

// admissionCheck is what the samples say about admission against the concert's
// settings: at most admitPerSecond a second (the token bucket holds at most one
// second's worth, so over any span T at most rate×(T+1)), never more than
// maxActive ACTIVE at once.
type admissionCheck struct {
	Rate, MaxActive int
	Samples         int
	Admitted        int64         // from the first sample to the last
	Span            time.Duration // first admission to the last sample with anyone waiting
	SpanAdmitted    int64
	Average         float64 // SpanAdmitted / Span
	Best1s, Best5s  float64 // highest rate between samples at least 1 s (5 s) apart
	Excess          int64   // largest count above the bound over any two samples; > 0 breaks the rate
	PeakActive      int64
	AtCap           int // samples with active == maxActive
}

func (a admissionCheck) ok() bool {
	return a.Samples >= 2 && a.Excess <= 0 && a.PeakActive <= int64(a.MaxActive)
}

func checkAdmission(ss []admissionSample, admitPerSecond, maxActive int) admissionCheck {
	a := admissionCheck{Rate: admitPerSecond, MaxActive: maxActive, Samples: len(ss), Excess: math.MinInt64}
	if len(ss) == 0 {
		return a
	}
	a.Admitted = ss[len(ss)-1].Admitted - ss[0].Admitted
	for _, s := range ss {
		a.PeakActive = max(a.PeakActive, s.Active)
		if s.Active >= int64(maxActive) {
			a.AtCap++
		}
	}
	// The bound for every pair: the widest the server-side interval can have been
	// is from the earlier request's sending to the later one's answer.
	for i := range ss {
		for j := i + 1; j < len(ss); j++ {
			t := ss[j].Recv.Sub(ss[i].Sent).Seconds()
			bound := int64(math.Floor(float64(admitPerSecond) * (t + 1)))
			a.Excess = max(a.Excess, ss[j].Admitted-ss[i].Admitted-bound)
		}
	}
	best := func(w time.Duration) float64 {
		r, j := 0.0, 0
		for i := range ss {
			for j < len(ss) && ss[j].Recv.Sub(ss[i].Recv) < w {
				j++
			}
			if j == len(ss) {
				break
			}
			r = max(r, rate(ss[j].Admitted-ss[i].Admitted, ss[j].Recv.Sub(ss[i].Recv)))
		}
		return r
	}
	a.Best1s, a.Best5s = best(time.Second), best(5*time.Second)
	// The average while admission was limited by the settings, not by demand:
	// from the first sample after admission began to the last one that still saw
	// someone waiting.
	first, last := -1, -1
	for i, s := range ss {
		if first < 0 && i > 0 && s.Admitted > ss[0].Admitted {
			first = i - 1
		}
		if s.Waiting > 0 {
			last = i
		}
	}
	if first >= 0 && last > first {
		a.Span = ss[last].Recv.Sub(ss[first].Recv)
		a.SpanAdmitted = ss[last].Admitted - ss[first].Admitted
		a.Average = rate(a.SpanAdmitted, a.Span)
	}
	return a
}
