// Package testclock is a clock that tests set and move by hand, safe for
// the concurrent readers (handlers, stores, schedulers) a fixture wires it
// into.
package testclock

import (
	"sync"
	"time"
)

// Clock reads the time it was last set to. Pass its Now method wherever
// code under test takes a func() time.Time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock stopped at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set stops the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Offset runs with the wall clock (UTC), moved forward by hand: for
// fixtures that need time to pass on its own as well as to jump (lockouts,
// timeouts, session lifetimes). Its zero value reads the wall clock.
type Offset struct {
	mu  sync.Mutex
	off time.Duration
}

// Now returns the wall clock plus the advances so far.
func (c *Offset) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.off)
}

// Advance moves the clock forward by d.
func (c *Offset) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}
