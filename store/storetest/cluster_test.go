package storetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRemoveStaleClusterDirs(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir := func(pid int) string {
		d := filepath.Join(tmp, fmt.Sprintf("%s%d-123", clusterDirPrefix, pid))
		if err := os.MkdirAll(filepath.Join(d, "0"), 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	stale, live := dir(gone.Process.Pid), dir(os.Getpid())
	other := filepath.Join(tmp, "concertd-other-1-2")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}

	removeStaleClusterDirs(tmp)

	for _, c := range []struct {
		dir  string
		kept bool
	}{{stale, false}, {live, true}, {other, true}} {
		_, err := os.Stat(c.dir)
		if kept := err == nil; kept != c.kept {
			t.Errorf("%s: kept %v, want %v (%v)", filepath.Base(c.dir), kept, c.kept, err)
		}
	}
}

// TestClusterWithReplicas: killing the master that serves a key hands its slot to
// that master's replica, which keeps the key written before.
func TestClusterWithReplicas(t *testing.T) {
	t.Parallel()
	c := ClusterWithReplicas(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A killed master answers no MOVED: the client finds the new one by reading the
	// slot map again, which it does every ClusterStateReloadInterval.
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(c.URL(), ","), ClusterStateReloadInterval: 2 * time.Second})
	defer rdb.Close()
	if err := rdb.Set(ctx, "{c7}:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Wait(ctx, 1, time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	first, err := c.MasterOf(ctx, "{c7}:k")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(first); err != nil {
		t.Fatal(err)
	}
	for {
		now, err := c.MasterOf(ctx, "{c7}:k")
		if err == nil && now != first {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no replica took over from %s: %v", first, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		gctx, gcancel := context.WithTimeout(ctx, time.Second)
		v, err := rdb.Get(gctx, "{c7}:k").Result()
		gcancel()
		if err == nil {
			if v != "v" {
				t.Fatalf("after the failover {c7}:k = %q, want v", v)
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the key after the failover: %v (last: %v)", ctx.Err(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
