// Package fakeclock has the clocks the library's tests and tools fix or
// move by hand: [Fixed], which always reads one instant, and [Manual],
// which moves only when told to. Both implement afterhours.Clock
// (Now and After).
package fakeclock

import (
	"sync"
	"time"
)

// Fixed always reads one instant. Planning never waits, so After never
// fires: it is the clock of a plan, a forecast or a report made as of a
// given instant.
type Fixed time.Time

// Now returns the instant.
func (c Fixed) Now() time.Time { return time.Time(c) }

// After returns a channel that never fires.
func (c Fixed) After(time.Duration) <-chan time.Time { return nil }

// Manual is a clock that moves only when a test moves it ([Manual.Advance],
// [Manual.AdvanceTo]); After's channel fires when the clock reaches its
// time, with the clock's time then. [Manual.WaitTimers] waits until the
// code under test waits on the clock, so that a test knows when to move
// it. It is safe for concurrent use.
type Manual struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []timer
}

type timer struct {
	at time.Time
	ch chan time.Time
}

// NewManual returns a clock that reads now until it is moved.
func NewManual(now time.Time) *Manual {
	c := &Manual{now: now}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that fires once the clock has moved by d; at
// once when d is not positive.
func (c *Manual) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, timer{c.now.Add(d), ch})
	c.cond.Broadcast()
	return ch
}

// Advance moves the clock by d and fires every timer due.
func (c *Manual) Advance(d time.Duration) { c.AdvanceTo(c.Now().Add(d)) }

// AdvanceTo moves the clock to t, if t is later than its time, and fires
// every timer due by then.
func (c *Manual) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- c.now
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// WaitTimers blocks until at least n timers are pending.
func (c *Manual) WaitTimers(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) < n {
		c.cond.Wait()
	}
}

// Pending returns how many timers wait for the clock to move.
func (c *Manual) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
