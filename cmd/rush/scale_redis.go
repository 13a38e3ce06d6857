// What Redis says: INFO memory, cpu and commandstats, and MEMORY USAGE by key.

package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/store/redisstore"
)

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

// parseRedisInfo reads the field:value lines of an INFO answer.
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
		keys, next, err := s.rdb.Scan(ctx, cursor, redisstore.GlobEscape(prefix)+"*", 5000).Result()
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
