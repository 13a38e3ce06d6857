// CPU used by concertd, Redis, rush and the whole machine (/proc/stat, getrusage).

package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
