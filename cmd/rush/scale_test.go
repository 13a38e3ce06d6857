package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSteps(t *testing.T) {
	for in, want := range map[string][]int{
		"1000,10000,100000,1000000": {1000, 10000, 100000, 1000000},
		" 1k, 10k ,1M":              {1000, 10000, 1000000},
		"1_000,2e3":                 {1000, 2000},
		"5":                         {5},
	} {
		got, err := parseSteps(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseSteps(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10,10", "100,10", "0", "-5", "abc", "1.5"} {
		if got, err := parseSteps(in); err == nil {
			t.Errorf("parseSteps(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseInfo(t *testing.T) {
	info := "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:4194304\r\n\r\n"
	f := parseRedisInfo(info)
	if f["used_memory"] != "1048576" || f["used_memory_rss"] != "4194304" || f["used_memory_human"] != "1.00M" {
		t.Errorf("parseInfo: %v", f)
	}
}

func TestParseMetrics(t *testing.T) {
	body := []byte(`# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.4576e+07
go_memstats_heap_inuse_bytes 1.2e+07
concertd_http_requests_total{method="GET",route="/metrics",status="200"} 3
`)
	m, err := parsePromText(body)
	if err != nil {
		t.Fatal(err)
	}
	if m["process_resident_memory_bytes"] != 24576000 || m["go_memstats_heap_inuse_bytes"] != 12e6 {
		t.Errorf("parseMetrics: %v", m)
	}
	if len(m) != 2 {
		t.Errorf("labelled samples must be skipped: %v", m)
	}
	if _, err := parsePromText([]byte("process_cpu_seconds_total not-a-number\n")); err == nil {
		t.Error("a malformed exposition must be an error, not a missing figure")
	}
}

func TestScaleCSVAndTable(t *testing.T) {
	rows := []scaleRow{
		{Waiting: 1000, WaitingAfter: 6000, Issue: phaseResult{N: 5000, PerSec: 4000, P99: 3 * time.Millisecond},
			Poll: phaseResult{N: 50000, PerSec: 10000, P99: 2 * time.Millisecond}, RedisPerToken: 180, ConcertdRSS: 50 << 20, StatsOK: true},
		{Waiting: 1000000, WaitingAfter: 1005000, Issue: phaseResult{N: 5000, PerSec: 3600, P99: 4 * time.Millisecond},
			Poll: phaseResult{N: 50000, PerSec: 9000, P99: 2 * time.Millisecond}, RedisPerToken: 190, ConcertdRSS: 150 << 20, StatsOK: true},
	}
	rows[1].IssueRounds = []phaseResult{{PerSec: 3000}, rows[1].Issue}
	if got := fastestRound(rows[1].IssueRounds, 0.25); got.PerSec != 3600 {
		t.Errorf("fastestRound: %v", got.PerSec)
	}
	// A faster round during which neighbours were busy loses to a quiet one; with
	// no quiet round, the fastest of all.
	noisy := []phaseResult{{PerSec: 5000, OtherCores: 1}, {PerSec: 4000, OtherCores: 0.1}}
	if got := fastestRound(noisy, 0.25); got.PerSec != 4000 {
		t.Errorf("fastestRound prefers quiet rounds: %v", got.PerSec)
	}
	if got := fastestRound(noisy[:1], 0.25); got.PerSec != 5000 {
		t.Errorf("fastestRound without a quiet round: %v", got.PerSec)
	}
	var b bytes.Buffer
	writeScaleCSV(&b, rows)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("csv lines: %d", len(lines))
	}
	for i, l := range lines {
		if n := strings.Count(l, ",") + 1; n != len(scaleCSVHeader) {
			t.Errorf("csv line %d has %d fields, header %d", i, n, len(scaleCSVHeader))
		}
	}
	if !strings.HasPrefix(lines[2], "1000000,1005000,") || !strings.Contains(lines[2], ",true,") {
		t.Errorf("csv row: %s", lines[2])
	}
	if !strings.Contains(lines[2], ",3000;3600,") {
		t.Errorf("csv rounds: %s", lines[2])
	}
	b.Reset()
	writeScaleTable(&b, rows)
	out := b.String()
	for _, want := range []string{"issue at 1000000 vs 1000 waiting: req/s x0.90", "poll at 1000000 vs 1000 waiting: req/s x0.90", "190.0 bytes per waiting token"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestParseCPULine(t *testing.T) {
	// user nice system idle iowait irq softirq steal: busy = 100+2+30+1+2+0 jiffies.
	if got := parseCPULine("cpu  100 2 30 5000 40 1 2 0 0 0"); got != 1.35 {
		t.Errorf("parseCPULine = %v, want 1.35", got)
	}
	if got := parseCPULine("cpu0 1 2 3"); got != -1 {
		t.Errorf("short line: %v", got)
	}
	d := cpuSnapshot{wall: 10, concertd: 3, machine: 20}.sub(cpuSnapshot{wall: 5, concertd: 1, machine: -1})
	if d.wall != 5 || d.concertd != 2 || d.machine != -1 {
		t.Errorf("sub: %+v", d)
	}
}

func TestKeyFamily(t *testing.T) {
	for k, want := range map[string]string{"wait": "wait", "tok:123": "tok:*", "sold:1": "sold:*", "hold:1:17": "hold:1:*", "tok:": "tok:", "x:y": "x:y"} {
		if got, _ := keyFamily(k); got != want {
			t.Errorf("keyFamily(%q) = %q, want %q", k, got, want)
		}
	}
	if got := breakdown(map[string]float64{"wait": 98.44, "tok:*": 120, "cfg": 0.001}, " + "); got != "tok:* 120.0 + wait 98.4" {
		t.Errorf("breakdown: %q", got)
	}
}

func TestCommandStats(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_zrank:calls=10,usec=50,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\ncmdstat_evalsha:calls=2,usec=400,usec_per_call=200.00\r\n"
	m := parseCommandStats(info)
	if m["zrank"] != (cmdStat{10, 50}) || m["evalsha"] != (cmdStat{2, 400}) || len(m) != 2 {
		t.Fatalf("parseCommandStats: %v", m)
	}
	a := cpuSnapshot{cmds: m}
	b := cpuSnapshot{cmds: map[string]cmdStat{"zrank": {4, 20}}}
	d := a.sub(b)
	if d.cmds["zrank"] != (cmdStat{6, 30}) || d.cmds["evalsha"] != (cmdStat{2, 400}) {
		t.Errorf("sub: %v", d.cmds)
	}
	if got := redisCommands(d.cmds, 10); got != "evalsha 40.0us/req (0.20 calls/req 200.00us/call); zrank 3.0us/req (0.60 calls/req 5.00us/call)" {
		t.Errorf("redisCommands: %q", got)
	}
}
