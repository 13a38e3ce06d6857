package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterMasters is the size of the test cluster: three masters is the smallest
// cluster redis-cli will create, and enough for the keys of different concerts
// to land on different servers.
const clusterMasters = 3

var cluster struct {
	once  sync.Once
	addrs []string
	err   error
}

// Cluster returns a client of a real Redis Cluster of three masters and a key
// prefix unique to this test. The cluster is started once per test binary from
// the redis-server on PATH, on ports of its own, and dies with the binary; its
// keys are never cleaned, since nothing outlives it.
//
// The store's promise is that every script's keys share one concert's hash
// tag, so it runs unchanged on Cluster; only a real cluster, whose servers each
// own a third of the slots and answer CROSSSLOT and MOVED, can show that.
func Cluster(t testing.TB) (*redis.ClusterClient, string) {
	t.Helper()
	cluster.once.Do(func() { cluster.addrs, cluster.err = startCluster() })
	if cluster.err != nil {
		unreachable(t, "redis cluster (started from redis-server)", cluster.err)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, RandomName("t")
}

// startCluster runs clusterMasters redis-servers and forms a cluster of them.
func startCluster() ([]string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	removeStaleClusterDirs(os.TempDir())
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", clusterDirPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	var addrs []string
	for i := range clusterMasters {
		addr, _, err := startClusterNode(bin, filepath.Join(dir, fmt.Sprint(i)), clusterNodeTimeout)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return addrs, formCluster(ctx, addrs)
}

// formCluster gives each server at addrs an equal share of the slots and
// introduces them, as `redis-cli --cluster create` would, then waits until every
// server reports the cluster ok.
func formCluster(ctx context.Context, addrs []string) error {
	nodes := make([]*redis.Client, len(addrs))
	for i, a := range addrs {
		nodes[i] = redis.NewClient(&redis.Options{Addr: a})
		defer nodes[i].Close()
	}
	const slots = 16384
	for i, n := range nodes {
		from, to := i*slots/len(nodes), (i+1)*slots/len(nodes)-1
		if err := n.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", from, to).Err(); err != nil {
			return fmt.Errorf("%s: cluster addslotsrange: %w", addrs[i], err)
		}
		// Distinct epochs spare the servers the collision round that equal ones cost.
		if err := n.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("%s: cluster set-config-epoch: %w", addrs[i], err)
		}
	}
	for _, a := range addrs[1:] {
		if err := meet(ctx, nodes[0], a); err != nil {
			return err
		}
	}
	return awaitClusterOK(ctx, addrs, len(addrs))
}

// meet introduces the server at addr to the cluster n is part of.
func meet(ctx context.Context, n *redis.Client, addr string) error {
	host, port, _ := strings.Cut(addr, ":")
	if err := n.Do(ctx, "CLUSTER", "MEET", host, port).Err(); err != nil {
		return fmt.Errorf("cluster meet %s: %w", addr, err)
	}
	return nil
}

// awaitClusterOK waits until every server at addrs knows known nodes and reports
// the cluster ok.
func awaitClusterOK(ctx context.Context, addrs []string, known int) error {
	for _, a := range addrs {
		n := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := n.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", known)) {
				break
			}
			if ctx.Err() != nil {
				_ = n.Close()
				return fmt.Errorf("%s: cluster not ok: %v %q", a, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = n.Close()
	}
	return nil
}

// clusterDirPrefix begins the name of a test binary's cluster directory, then
// comes the binary's pid. The directory cannot go while its servers run (a
// server that cannot rewrite nodes.conf exits), and they die with the binary, so
// the next binary to start a cluster removes the directories of binaries gone.
const clusterDirPrefix = "concertd-cluster-"

// removeStaleClusterDirs removes the cluster directories under tmp whose test
// binary no longer runs.
func removeStaleClusterDirs(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, clusterDirPrefix+"*-*"))
	for _, d := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), clusterDirPrefix), "-")
		if n, err := strconv.Atoi(pid); err == nil && n > 0 && syscall.Kill(n, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
}

// startClusterNode starts one cluster-enabled redis-server on a free port (its
// bus port, 10000 higher, free too) and waits until it answers. The server gets
// SIGKILL when the test binary exits, however it exits.
// clusterNodeTimeout is the shared test cluster's cluster-node-timeout (ms): no
// server of it is ever killed, so it need not be short.
const clusterNodeTimeout = "5000"

func startClusterNode(bin, dir, nodeTimeout string) (string, *exec.Cmd, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	var last error
	for range 20 {
		port := 20000 + rand.IntN(30000)
		if !portFree(port) || !portFree(port+10000) {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", nodeTimeout, "--dir", dir,
			"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return "", nil, err
		}
		if last = awaitServer(addr, cmd.Process.Pid); last == nil {
			go func() { _ = cmd.Wait() }()
			return addr, cmd, nil
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.Remove(filepath.Join(dir, "nodes.conf"))
	}
	return "", nil, fmt.Errorf("no redis-server cluster node started: %w", last)
}

func portFree(port int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// awaitServer waits until the redis-server of process pid answers on addr: the
// pid check tells it from a server someone else started on the port meanwhile.
func awaitServer(addr string, pid int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	want := fmt.Sprintf("process_id:%d", pid)
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		var info string
		info, err = rdb.Info(ctx, "server").Result()
		cancel()
		if err == nil {
			if strings.Contains(info, want+"\r\n") {
				return nil
			}
			return fmt.Errorf("%s answers, but not from redis-server pid %d", addr, pid)
		}
	}
	return fmt.Errorf("redis-server pid %d never answered on %s: %w", pid, addr, err)
}
