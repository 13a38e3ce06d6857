package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(s, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("empty: %v", got)
	}
	one := []time.Duration{7}
	if percentile(one, 1) != 7 || percentile(one, 99) != 7 {
		t.Errorf("single sample")
	}
	// 3 samples: p50 is the 2nd (ceil(1.5)), p99 the 3rd.
	three := []time.Duration{1, 2, 3}
	if percentile(three, 50) != 2 || percentile(three, 99) != 3 || percentile(three, 33) != 1 {
		t.Errorf("three samples: %v %v %v", percentile(three, 50), percentile(three, 99), percentile(three, 33))
	}
}

func TestRecorderRows(t *testing.T) {
	r := newRecorder()
	for i := 1; i <= 10; i++ {
		r.record("GET /a", time.Duration(i)*time.Millisecond, 200, "")
	}
	r.record("POST /b", time.Millisecond, 409, "SEAT_TAKEN")
	r.record("POST /b", time.Millisecond, 409, "SEAT_TAKEN")
	r.record("POST /b", 3*time.Millisecond, 0, "TRANSPORT")
	rows := r.rows(2 * time.Second)
	if len(rows) != 2 || rows[0].Endpoint != "GET /a" {
		t.Fatalf("rows %+v", rows)
	}
	a, b := rows[0], rows[1]
	if a.Count != 10 || a.PerSecond != 5 || a.P50 != 5*time.Millisecond || a.P99 != 10*time.Millisecond || len(a.Errors) != 0 {
		t.Errorf("GET /a row %+v", a)
	}
	if b.Errors["409 SEAT_TAKEN"] != 2 || b.Errors["TRANSPORT"] != 1 || b.Max != 3*time.Millisecond {
		t.Errorf("POST /b row %+v", b)
	}
	if got := formatCodes(b.Errors); got != "409 SEAT_TAKEN×2 TRANSPORT×1" {
		t.Errorf("formatCodes = %q", got)
	}
	var sb strings.Builder
	writeRows(&sb, rows)
	if !strings.Contains(sb.String(), "GET /a") {
		t.Errorf("writeRows: %s", sb.String())
	}
}

func TestBestWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	var ts []time.Time
	// 3 events in the first second, 5 within [10s, 10.9s].
	for _, ms := range []int{0, 100, 900, 10000, 10200, 10400, 10600, 10900, 12000} {
		ts = append(ts, t0.Add(time.Duration(ms)*time.Millisecond))
	}
	if got := bestWindow(ts, time.Second); got != 5 {
		t.Errorf("bestWindow = %d, want 5", got)
	}
	if got := bestWindow(nil, time.Second); got != 0 {
		t.Errorf("empty = %d", got)
	}
	if rate(10, 2*time.Second) != 5 || rate(1, 0) != 0 {
		t.Errorf("rate")
	}
}
