package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/concertd/concertd/engine"
	"github.com/concertd/concertd/store/storetest"
	"github.com/redis/go-redis/v9"
)

func TestListenExpiriesParse(t *testing.T) {
	s := New(nil, "p", nil)
	for key, want := range map[string][2]int64{
		"p:{c12}:hold:34:56": {12, 34},
		"p:{c1}:hold:2:3":    {1, 2},
	} {
		c, sid, ok := s.parseHoldTrigger(key)
		if !ok || c != want[0] || sid != want[1] {
			t.Errorf("%s: %d %d %v", key, c, sid, ok)
		}
	}
	for _, key := range []string{
		"q:{c12}:hold:34:56", "p:{c12}:res:34", "p:{c12}:hold:34", "p:{cx}:hold:1:2",
		"pp:{c12}:hold:34:56", "p:{c12}:holds:34", "p:{c12}:hold:34:5x",
	} {
		if _, _, ok := s.parseHoldTrigger(key); ok {
			t.Errorf("%s parsed as a hold trigger", key)
		}
	}
}

// TestListenExpiries lets real Redis expire a hold trigger: the only test that
// sleeps, since what it checks is Redis's own clock.
func TestListenExpiries(t *testing.T) {
	rdb, prefix := storetest.Redis(t)
	s := New(rdb, prefix, nil)
	ctx, cancel := context.WithCancel(context.Background())
	before := patternSubscribers(ctx, t, rdb)
	hints := make(chan [2]int64, 16)
	stopped := make(chan error, 1)
	go func() {
		stopped <- s.ListenExpiries(ctx, func(c, sid int64) { hints <- [2]int64{c, sid} })
	}()
	// No readiness signal exists, so wait until a new client subscribes to a pattern.
	// (PUBSUB NUMPAT counts distinct patterns: it does not move while any other
	// listener, say a concertd of another test, already has the same one.)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if newSubscriber(before, patternSubscribers(ctx, t, rdb)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("listener never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}

	b := backend{s: s, rdb: rdb, real: true}
	f := newFixture(t, b)
	now := time.Now().UTC()
	f.activate(1, now.Add(time.Hour))
	id, _ := s.NextReservationID(ctx)
	r, err := s.Hold(ctx, engine.HoldRequest{
		Token: f.token(1), ReservationID: id, Schedule: f.sched, Seat: 9,
		Now: now, Deadline: now.Add(300 * time.Millisecond), MaxHolds: 4,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Redis finds expired keys by sampling, which on a server busy with other
	// packages' volatile keys can take longer than this wait; reading the trigger
	// expires it at once and publishes the same event.
	poke := time.NewTicker(250 * time.Millisecond)
	defer poke.Stop()
	timeout := time.After(5 * time.Second)
wait:
	for {
		select {
		case h := <-hints:
			if h != [2]int64{f.c, f.sched.ID} {
				t.Fatalf("hint %v, want concert %d schedule %d", h, f.c, f.sched.ID)
			}
			break wait
		case <-poke.C:
			if time.Now().After(r.Reservation.ExpiresAt) {
				rdb.Exists(ctx, s.keys.holdTrigger(f.c, f.sched.ID, 9))
			}
		case <-timeout:
			t.Fatal("no expiry hint within 5s")
		}
	}
	// What the sweeper does on the hint.
	at := r.Reservation.ExpiresAt
	exp, err := s.Expired(ctx, f.c, f.sched.ID, at, 10)
	if err != nil || len(exp) != 1 || exp[0].ReservationID != id {
		t.Fatalf("expired = %+v, %v", exp, err)
	}
	if err := s.Release(ctx, exp[0], at); err != nil {
		t.Fatal(err)
	}
	if m := f.seatMap(at); m.Held(9) {
		t.Fatal("seat still held after release")
	}

	cancel()
	select {
	case err := <-stopped:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("listener returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listener did not stop with its context")
	}
}

// patternSubscribers is the set of client ids subscribed to at least one pattern.
func patternSubscribers(ctx context.Context, t *testing.T, rdb redis.UniversalClient) map[string]bool {
	t.Helper()
	list, err := rdb.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(list, "\n") {
		var id string
		subscribed := false
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(f, "psub="); ok && v != "0" {
				subscribed = true
			}
		}
		if subscribed {
			ids[id] = true
		}
	}
	return ids
}

func newSubscriber(before, now map[string]bool) bool {
	for id := range now {
		if !before[id] {
			return true
		}
	}
	return false
}

// TestListenExpiriesCluster: on Redis Cluster every master publishes only the
// expiries of its own keys, so the listener must enable events on, and subscribe
// to, each of them. Concerts are picked so that every master owns one.
func TestListenExpiriesCluster(t *testing.T) {
	rdb, prefix := storetest.Cluster(t)
	s := New(rdb, prefix, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	owner := slotOwners(ctx, t, rdb)
	concertOn := map[string]int64{} // master address -> a concert whose keys it owns
	for c := int64(1); len(concertOn) < len(owner.masters); c++ {
		slot, err := rdb.ClusterKeySlot(ctx, s.keys.tokens(c)).Result()
		if err != nil {
			t.Fatal(err)
		}
		addr := owner.of(int(slot))
		if _, ok := concertOn[addr]; !ok {
			concertOn[addr] = c
		}
	}

	hints := make(chan [2]int64, 16)
	stopped := make(chan error, 1)
	go func() {
		stopped <- s.ListenExpiries(ctx, func(c, sid int64) { hints <- [2]int64{c, sid} })
	}()
	for addr := range concertOn {
		node := redis.NewClient(&redis.Options{Addr: addr})
		defer node.Close()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if n, err := node.PubSubNumPat(ctx).Result(); err == nil && n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the listener never subscribed on master %s", addr)
			}
		}
	}

	want := map[[2]int64]bool{}
	for _, c := range concertOn {
		sid := c*10 + 1
		want[[2]int64{c, sid}] = true
		if err := rdb.Set(ctx, s.keys.holdTrigger(c, sid, 7), "1", 100*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
	}
	poke := time.NewTicker(200 * time.Millisecond) // reading an expired key expires it at once
	defer poke.Stop()
	timeout := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case h := <-hints:
			delete(want, h)
		case <-poke.C:
			for _, c := range concertOn {
				rdb.Exists(ctx, s.keys.holdTrigger(c, c*10+1, 7))
			}
		case <-timeout:
			t.Fatalf("no expiry hint within 5s for %v (masters and their concerts: %v)", want, concertOn)
		}
	}
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("listener returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listener did not stop with its context")
	}
}

// slotMap tells which master serves each slot.
type slotMap struct {
	masters []string
	ranges  []redis.ClusterSlot
}

func slotOwners(ctx context.Context, t *testing.T, rdb *redis.ClusterClient) slotMap {
	t.Helper()
	slots, err := rdb.ClusterSlots(ctx).Result() //nolint:staticcheck // slot ranges are what the test compares; CLUSTER SHARDS needs Redis 7

	if err != nil {
		t.Fatal(err)
	}
	m := slotMap{ranges: slots}
	for _, r := range slots {
		m.masters = append(m.masters, r.Nodes[0].Addr)
	}
	return m
}

func (m slotMap) of(slot int) string {
	for _, r := range m.ranges {
		if slot >= r.Start && slot <= r.End {
			return r.Nodes[0].Addr
		}
	}
	return ""
}
