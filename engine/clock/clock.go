// Package clock gives the engine its notion of now, so expiry, admission ticks and
// ETAs are tested by moving a simulated clock instead of sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now in UTC.
func (Real) Now() time.Time { return time.Now().UTC() }

// Simulated is a clock that moves only when told to.
type Simulated struct {
	mu  sync.Mutex
	now time.Time
}

// NewSimulated returns a clock stopped at t.
func NewSimulated(t time.Time) *Simulated { return &Simulated{now: t.UTC()} }

// Now returns the simulated time.
func (s *Simulated) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves the clock forward by d.
func (s *Simulated) Advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

// Set moves the clock to t.
func (s *Simulated) Set(t time.Time) {
	s.mu.Lock()
	s.now = t.UTC()
	s.mu.Unlock()
}
