package engine

import (
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
