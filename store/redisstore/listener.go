package redisstore

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/concertd/concertd/engine"
)

// expiredChannel carries the name of every key Redis expires, on every database.
const expiredChannel = "__keyevent@*__:expired"

// ListenExpiries calls hint(concertID, scheduleID) whenever a hold trigger key
// (P:{cN}:hold:<scheduleID>:<seat>) of this store expires, so the sweeper can free
// the seat within a second instead of waiting for its next pass. It is only a hint:
// Redis may drop notifications (reconnects, a failover, a server that forbids CONFIG
// SET), and the holds/paying zsets stay the truth the sweeper reads.
//
// A Redis Cluster server publishes only the expiries of its own keys, so on Cluster
// it listens to every master, and returns when their set changes (a failover, a
// new master) for the caller to listen anew. On one server, or a Sentinel-managed
// master, it returns when the server behind the client changes (watchServer).
//
// It returns nil when ctx ends, or an error if a subscription fails.
func (s *Store) ListenExpiries(ctx context.Context, hint func(concertID, scheduleID int64)) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	servers, err := s.eventServers(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return engine.Unavailable("redis expiry listener", err)
	}
	var subs []*redis.PubSub
	defer func() {
		for _, ps := range subs {
			_ = ps.Close()
		}
	}()
	for _, srv := range servers {
		enableExpiryEvents(ctx, srv)
		ps := srv.PSubscribe(ctx, expiredChannel)
		subs = append(subs, ps)
		// Receive waits for the subscription to be confirmed, so a Redis that is down
		// at start is reported rather than retried silently.
		if _, err := ps.Receive(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return engine.Unavailable("redis expiry listener", err)
		}
	}
	var wg sync.WaitGroup
	for _, ps := range subs {
		// Channel reconnects and resubscribes by itself after a dropped connection.
		ch := ps.Channel()
		wg.Go(func() {
			defer stop() // one server's channel closing ends them all
			for {
				select {
				case <-ctx.Done():
					return
				case msg, ok := <-ch:
					if !ok {
						return
					}
					if c, sid, ok := s.parseHoldTrigger(msg.Payload); ok {
						hint(c, sid)
					}
				}
			}
		})
	}
	if cc, ok := clusterOf(s.rdb); ok {
		wg.Go(func() {
			defer stop()
			watchMasters(ctx, cc, servers)
		})
	} else {
		wg.Go(func() {
			defer stop()
			watchServer(ctx, s.rdb)
		})
	}
	wg.Wait()
	return nil
}

// mastersCheck is how often a Cluster listener looks for a changed set of masters.
const mastersCheck = 10 * time.Second

// watchMasters returns when ctx ends or the cluster's masters are no longer the
// servers listened to.
func watchMasters(ctx context.Context, cc *redis.ClusterClient, servers []redis.UniversalClient) {
	t := time.NewTicker(mastersCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now, err := masters(ctx, cc)
			if err != nil || !sameServers(now, servers) {
				return
			}
		}
	}
}

// serverCheck is how often a listener on one server (or a Sentinel-managed
// master) checks that the server it enabled events on is still the one it talks to.
const serverCheck = 2 * time.Second

// watchServer returns when ctx ends or the server behind rdb is another one (its
// run_id changed): a Sentinel failover promoted a replica, or Redis restarted.
// Neither keeps a CONFIG SET, so the caller listens anew and enables events on
// the server now behind rdb.
func watchServer(ctx context.Context, rdb redis.UniversalClient) {
	first := ""
	t := time.NewTicker(serverCheck)
	defer t.Stop()
	for {
		id, err := runID(ctx, rdb)
		if err == nil && first == "" {
			first = id
		}
		if err == nil && id != first {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runID is the server's run_id from INFO server.
func runID(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return v, nil
		}
	}
	return "", nil
}

// eventServers are the servers whose expiries this store must hear: every
// master of a Cluster, or the one server.
func (s *Store) eventServers(ctx context.Context) ([]redis.UniversalClient, error) {
	if cc, ok := clusterOf(s.rdb); ok {
		return masters(ctx, cc)
	}
	return []redis.UniversalClient{s.rdb}, nil
}

func masters(ctx context.Context, cc *redis.ClusterClient) ([]redis.UniversalClient, error) {
	// The client's view of the cluster may be a moment old; ask for a fresh one.
	cc.ReloadState(ctx)
	var mu sync.Mutex
	var out []redis.UniversalClient
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		out = append(out, c)
		mu.Unlock()
		return nil
	})
	return out, err
}

func sameServers(a, b []redis.UniversalClient) bool {
	addrs := func(cs []redis.UniversalClient) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			if n, ok := c.(*redis.Client); ok {
				out[i] = n.Options().Addr
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(addrs(a), addrs(b))
}

// clusterOf finds the Cluster client in rdb, or under it: a wrapper (such as
// cmd/concertd's autopipeliner) tells what it wraps with Unwrap.
func clusterOf(rdb redis.UniversalClient) (*redis.ClusterClient, bool) {
	for {
		switch c := rdb.(type) {
		case *redis.ClusterClient:
			return c, true
		case interface{ Unwrap() redis.UniversalClient }:
			rdb = c.Unwrap()
		default:
			return nil, false
		}
	}
}

// enableExpiryEvents adds key-event (E) and expired (x) notifications to whatever
// the server already emits, so other users of those events keep theirs. Managed
// Redis often refuses CONFIG; then events flow only if the operator enabled them,
// and the sweeper's periodic pass still frees every seat.
func enableExpiryEvents(ctx context.Context, srv redis.UniversalClient) {
	cur := ""
	if v, err := srv.ConfigGet(ctx, "notify-keyspace-events").Result(); err == nil {
		cur = v["notify-keyspace-events"]
	}
	want := cur
	if !strings.ContainsRune(want, 'E') {
		want += "E"
	}
	// "A" stands for every event class, x included.
	if !strings.ContainsRune(want, 'x') && !strings.ContainsRune(want, 'A') {
		want += "x"
	}
	if want != cur {
		_ = srv.ConfigSet(ctx, "notify-keyspace-events", want).Err()
	}
}

// parseHoldTrigger reads concert and schedule from a hold trigger key of this store.
func (s *Store) parseHoldTrigger(key string) (concertID, scheduleID int64, ok bool) {
	rest, found := strings.CutPrefix(key, s.keys.prefix+":{c")
	if !found {
		return 0, 0, false
	}
	c, rest, found := strings.Cut(rest, "}:hold:")
	if !found {
		return 0, 0, false
	}
	sid, seat, found := strings.Cut(rest, ":")
	if !found {
		return 0, 0, false
	}
	concertID, err1 := strconv.ParseInt(c, 10, 64)
	scheduleID, err2 := strconv.ParseInt(sid, 10, 64)
	_, err3 := strconv.Atoi(seat)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return concertID, scheduleID, true
}
