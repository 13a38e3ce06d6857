package engine

import (
	"context"
	"testing"
	"time"
)

func TestEstimatedWaitAndPollAfter(t *testing.T) {
	cases := []struct {
		position int64
		rate     int
		idle     time.Duration
		wait     time.Duration
		poll     time.Duration
	}{
		{position: 1, rate: 100, idle: 2 * time.Minute, wait: time.Second, poll: time.Second},
		{position: 100, rate: 100, idle: 2 * time.Minute, wait: time.Second, poll: time.Second},
		{position: 101, rate: 100, idle: 2 * time.Minute, wait: 2 * time.Second, poll: time.Second},
		{position: 4000, rate: 100, idle: 2 * time.Minute, wait: 40 * time.Second, poll: 10 * time.Second},
		{position: 1_000_000, rate: 100, idle: 2 * time.Minute, wait: 10000 * time.Second, poll: 30 * time.Second},
		// the idle timeout caps the interval, so a far-back waiter never idles out
		{position: 1_000_000, rate: 100, idle: 30 * time.Second, wait: 10000 * time.Second, poll: 10 * time.Second},
		{position: 1_000_000, rate: 100, idle: 2 * time.Second, wait: 10000 * time.Second, poll: time.Second},
		{position: 10, rate: 0, idle: 2 * time.Minute, wait: 10 * time.Second, poll: time.Second},
	}
	for _, c := range cases {
		w := estimatedWait(c.position, c.rate)
		p := pollAfter(c.position, w, c.idle)
		if w != c.wait || p != c.poll {
			t.Errorf("position %d rate %d idle %v: wait %v poll %v, want %v %v", c.position, c.rate, c.idle, w, p, c.wait, c.poll)
		}
	}
	// polls never grow less frequent as a waiter moves forward
	prev := time.Duration(1 << 62)
	for pos := int64(100_000); pos >= 1; pos -= 997 {
		p := pollAfter(pos, estimatedWait(pos, 50), 2*time.Minute)
		if p > prev {
			t.Fatalf("pollAfter rose from %v to %v at position %d", prev, p, pos)
		}
		prev = p
	}
}

// A catalog reload that read the ledger before a concert was created must not hide
// that concert from the instance that created it.
func TestCatalogLoadKeepsConcertsPutDuringLoad(t *testing.T) {
	l := &slowCatalogLedger{release: make(chan struct{}), started: make(chan struct{})}
	c := newCatalog(l, nil)
	done := make(chan error)
	go func() { done <- c.load(t.Context()) }()
	<-l.started
	c.put(Concert{ID: 9, Title: "new"}, []Schedule{{ID: 90, ConcertID: 9}})
	close(l.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c.concert(t.Context(), 9); err != nil {
		t.Fatalf("concert 9 after a stale reload: %v", err)
	}
	if _, err := c.schedule(t.Context(), 90); err != nil {
		t.Fatalf("schedule 90 after a stale reload: %v", err)
	}
	if _, s := c.all(); len(s) != 2 || s[0].ID != 1 || s[1].ID != 90 {
		t.Fatalf("schedules %+v, want ids 1 and 90 in order", s)
	}
}

// slowCatalogLedger returns a catalog snapshot taken before the test's put.
type slowCatalogLedger struct {
	Concerts
	started, release chan struct{}
}

func (l *slowCatalogLedger) Catalog(context.Context) ([]Concert, []Schedule, error) {
	close(l.started)
	<-l.release
	return []Concert{{ID: 1, Title: "old"}}, []Schedule{{ID: 1, ConcertID: 1}}, nil
}
