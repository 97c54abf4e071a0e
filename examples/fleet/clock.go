package main

import (
	"sync"
	"time"
)

// fastClock is an afterhours.Clock that runs speed times faster than real
// time from start: Now is start + real time elapsed since the origin ×
// speed, and After(d) fires after d/speed of real time. Until begin is
// called the origin is when the clock was made. It is safe for concurrent
// use.
type fastClock struct {
	start time.Time
	speed float64

	mu     sync.Mutex
	origin time.Time
}

func newFastClock(start time.Time, speed float64) *fastClock {
	return &fastClock{start: start, speed: speed}
}

// begin starts the clock: it reads start now, and runs from there.
func (c *fastClock) begin() {
	c.mu.Lock()
	c.origin = time.Now()
	c.mu.Unlock()
}

func (c *fastClock) Now() time.Time {
	c.mu.Lock()
	origin := c.origin
	c.mu.Unlock()
	if origin.IsZero() {
		return c.start
	}
	return c.start.Add(time.Duration(float64(time.Since(origin)) * c.speed))
}

func (c *fastClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(time.Duration(float64(d)/c.speed), func() { ch <- c.Now() })
	return ch
}

// serverClock is the server's view of the fast clock: its instants are
// the fast clock's (last seen, reports received), but its waits, the
// long-polls of the agents' profiles and commands, last real time, so
// that 50 agents' polls wait instead of spinning every few milliseconds.
// A poll still answers at once when what it waits for changes.
type serverClock struct{ *fastClock }

func (c serverClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
