package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the test sentinels monitor.
const SentinelMaster = "concertd"

// SentinelSet is a master, one replica and three sentinels started from
// redis-server for one test, torn down with it. Each test gets its own: a test
// that kills the master changes the set for good.
type SentinelSet struct {
	Master, Replica string   // host:port
	Sentinels       []string // host:port of each sentinel
	master          *exec.Cmd
}

// URL is the set's REDIS_URL in go-redis's ParseFailoverURL form.
func (s *SentinelSet) URL() string {
	u := "redis://" + s.Sentinels[0] + "/0?master_name=" + SentinelMaster
	for _, a := range s.Sentinels[1:] {
		u += "&addr=" + a
	}
	return u
}

// KillMaster kills the master with SIGKILL: no shutdown, no last write.
func (s *SentinelSet) KillMaster() error { return s.master.Process.Kill() }

// MasterAddr asks a sentinel which server is the master now.
func (s *SentinelSet) MasterAddr(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0]})
	defer sc.Close()
	a, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
	if err != nil {
		return "", err
	}
	return a[0] + ":" + a[1], nil
}

// Sentinel starts a SentinelSet whose sentinels call the master down after
// 1 s of silence and fail over at once.
func Sentinel(t testing.TB) *SentinelSet {
	t.Helper()
	s, err := startSentinelSet(t)
	if err != nil {
		unreachable(t, "redis sentinel (started from redis-server)", err)
	}
	return s
}

func startSentinelSet(t testing.TB) (*SentinelSet, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	set := &SentinelSet{}
	start := func(name string, args ...string) (string, *exec.Cmd, error) {
		return startProcess(t, bin, filepath.Join(dir, name), args...)
	}
	var replica *exec.Cmd
	if set.Master, set.master, err = start("master"); err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(set.Master, ":")
	if set.Replica, replica, err = start("replica", "--replicaof", host, port); err != nil {
		return nil, err
	}
	_ = replica
	for i := range 3 {
		conf := fmt.Sprintf("sentinel monitor %s %s %s 2\n"+
			"sentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 5000\n", SentinelMaster, host, port, SentinelMaster, SentinelMaster)
		addr, _, err := startSentinel(t, bin, filepath.Join(dir, fmt.Sprint("sentinel", i)), conf)
		if err != nil {
			return nil, err
		}
		set.Sentinels = append(set.Sentinels, addr)
	}
	// Ready when every sentinel knows the replica and the other sentinels.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, a := range set.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a})
		for {
			m, err := sc.Master(ctx, SentinelMaster).Result()
			if err == nil && m["num-other-sentinels"] == "2" && m["num-slaves"] == "1" {
				break
			}
			if ctx.Err() != nil {
				_ = sc.Close()
				return nil, fmt.Errorf("sentinel %s not ready: %v %v", a, m, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = sc.Close()
	}
	return set, nil
}

// startProcess starts one redis-server on a free port, ended with the test.
func startProcess(t testing.TB, bin, dir string, args ...string) (string, *exec.Cmd, error) {
	return startOnFreePort(t, "redis-server", dir, func(port int) (*exec.Cmd, error) {
		return exec.Command(bin, append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log")}, args...)...), nil
	})
}

// startSentinel starts `redis-server <conf> --sentinel` on a free port; a sentinel
// rewrites its configuration file, so each has its own.
func startSentinel(t testing.TB, bin, dir, conf string) (string, *exec.Cmd, error) {
	return startOnFreePort(t, "redis sentinel", dir, func(port int) (*exec.Cmd, error) {
		path := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n%s", port, dir, filepath.Join(dir, "sentinel.log"), conf)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return nil, err
		}
		return exec.Command(bin, path, "--sentinel"), nil
	})
}

// startOnFreePort runs the command made for a free port until one answers PING
// (ports are drawn at random and can be taken in between), and ends it with the
// test.
func startOnFreePort(t testing.TB, what, dir string, command func(port int) (*exec.Cmd, error)) (string, *exec.Cmd, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	var last error
	for range 20 {
		port := 20000 + rand.IntN(30000)
		if !portFree(port) {
			continue
		}
		cmd, err := command(port)
		if err != nil {
			return "", nil, err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return "", nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if last = awaitServer(addr, cmd.Process.Pid); last == nil {
			go func() { _ = cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			return addr, cmd, nil
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	return "", nil, fmt.Errorf("no %s started: %w", what, last)
}
