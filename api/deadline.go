package api

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines hands every request a context that ends between timeout and
// timeout+deadlineSlack after it started. Requests starting within the same
// deadlineSlack share one context, so the hot path pays an atomic load instead of a
// timer set up and torn down per request. The slot is short because every waiter
// on a context parks on its one Done channel, whose lock shows in profiles when
// many requests share one (10 ms slots under a poll rush). The shared context is never cancelled early: a request that returns leaves nothing
// running under it, and the timer ends it on schedule.
type deadlines struct {
	timeout time.Duration
	cur     atomic.Pointer[deadlineSlot]
}

const deadlineSlack = time.Millisecond

type deadlineSlot struct {
	ctx    context.Context
	cancel context.CancelFunc // kept only so the timer's resources are visibly owned
	until  time.Time          // last start time this slot serves
}

func (d *deadlines) context() context.Context {
	now := time.Now()
	if s := d.cur.Load(); s != nil && !now.After(s.until) {
		return s.ctx
	}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(d.timeout+deadlineSlack))
	s := &deadlineSlot{ctx: ctx, cancel: cancel, until: now.Add(deadlineSlack)}
	d.cur.Store(s) // a racing request may store its own slot too: both are valid
	return ctx
}
