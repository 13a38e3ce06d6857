package storetest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FailoverCluster is a Redis Cluster of three masters, each with one replica,
// started for one test (Cluster's is shared by a test binary and never loses a
// server), so that the test can kill a master and see its replica take over.
type FailoverCluster struct {
	addrs []string // the masters, then their replicas in the same order
	mu    sync.Mutex
	procs map[string]*exec.Cmd
}

// failoverNodeTimeout is the cluster-node-timeout (ms) of a FailoverCluster: a
// killed master's replica is promoted a second or two after it.
const failoverNodeTimeout = "1000"

// ClusterWithReplicas starts a FailoverCluster whose servers stop with the test.
func ClusterWithReplicas(t testing.TB) *FailoverCluster {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unreachable(t, "redis-server (for a cluster with replicas)", err)
	}
	c := &FailoverCluster{procs: map[string]*exec.Cmd{}}
	t.Cleanup(c.stop)
	dir := t.TempDir()
	for i := range 2 * clusterMasters {
		addr, cmd, err := startClusterNode(bin, filepath.Join(dir, fmt.Sprint(i)), failoverNodeTimeout)
		if err != nil {
			unreachable(t, "redis cluster with replicas (started from redis-server)", err)
		}
		c.addrs = append(c.addrs, addr)
		c.procs[addr] = cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.form(ctx); err != nil {
		unreachable(t, "redis cluster with replicas (started from redis-server)", err)
	}
	return c
}

// form makes a cluster of the masters, then has each replica meet it and follow
// its master, and waits until every master has its replica in sync.
func (c *FailoverCluster) form(ctx context.Context) error {
	masters, replicas := c.addrs[:clusterMasters], c.addrs[clusterMasters:]
	if err := formCluster(ctx, masters); err != nil {
		return err
	}
	first := redis.NewClient(&redis.Options{Addr: masters[0]})
	defer first.Close()
	for _, a := range replicas {
		if err := meet(ctx, first, a); err != nil {
			return err
		}
	}
	if err := awaitClusterOK(ctx, c.addrs, len(c.addrs)); err != nil {
		return err
	}
	for i, a := range replicas {
		m := redis.NewClient(&redis.Options{Addr: masters[i]})
		id, err := m.Do(ctx, "CLUSTER", "MYID").Text()
		if err == nil {
			r := redis.NewClient(&redis.Options{Addr: a})
			err = r.Do(ctx, "CLUSTER", "REPLICATE", id).Err()
			_ = r.Close()
		}
		if err == nil {
			err = awaitReplica(ctx, m)
		}
		_ = m.Close()
		if err != nil {
			return fmt.Errorf("%s replicating %s: %w", a, masters[i], err)
		}
	}
	return nil
}

// awaitReplica waits until the master m has a replica whose link is up.
func awaitReplica(ctx context.Context, m *redis.Client) error {
	for {
		info, err := m.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "connected_slaves:1") && strings.Contains(info, "state=online") {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no replica in sync: %v %q", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the cluster in REDIS_URL's Cluster form: the masters' addresses,
// comma-separated.
func (c *FailoverCluster) URL() string { return strings.Join(c.addrs[:clusterMasters], ",") }

// MasterOf returns the address of the server that serves key's slot as master
// now, as the first server still running says.
func (c *FailoverCluster) MasterOf(ctx context.Context, key string) (string, error) {
	var last error
	for _, a := range c.running() {
		n := redis.NewClient(&redis.Options{Addr: a})
		addr, err := masterOf(ctx, n, key)
		_ = n.Close()
		if err == nil {
			return addr, nil
		}
		last = err
	}
	return "", last
}

func masterOf(ctx context.Context, n *redis.Client, key string) (string, error) {
	slot, err := n.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	shards, err := n.ClusterShards(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start > slot || slot > r.End {
				continue
			}
			for _, node := range sh.Nodes {
				if node.Role == "master" {
					return node.IP + ":" + strconv.FormatInt(node.Port, 10), nil
				}
			}
		}
	}
	return "", fmt.Errorf("no master serves slot %d", slot)
}

// Kill kills the server at addr with SIGKILL.
func (c *FailoverCluster) Kill(addr string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd, ok := c.procs[addr]
	if !ok {
		return fmt.Errorf("no running server of this cluster at %s", addr)
	}
	delete(c.procs, addr)
	return cmd.Process.Kill()
}

func (c *FailoverCluster) running() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.addrs {
		if _, ok := c.procs[a]; ok {
			out = append(out, a)
		}
	}
	return out
}

func (c *FailoverCluster) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, cmd := range c.procs {
		_ = cmd.Process.Kill()
		delete(c.procs, a)
	}
}
