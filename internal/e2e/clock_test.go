package e2e_test

import (
	"container/heap"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
)

// simClock is the one manual clock of the simulation, shared by the
// server, the executors and the links through views (afterhours.Clock).
// Its time is a benbjohnson/clock Mock's; its timers are its own, for two
// reasons: the Mock tells nobody when its next timer is due, which the
// simulation needs to step from deadline to deadline, and it sleeps 1 ms
// of real time after firing each timer, which with two long-polls per
// agent made a week of 200 agents take minutes. Every call of a view
// bumps gen, which [sim.quiet] reads as a sign of activity.
type simClock struct {
	mock *clock.Mock
	gen  *atomic.Int64

	mu     sync.Mutex
	timers [3]timerHeap // by viewKind
}

func newSimClock(start time.Time, gen *atomic.Int64) *simClock {
	m := clock.NewMock()
	m.Set(start)
	return &simClock{mock: m, gen: gen}
}

// viewKind says how the simulation treats a view's timers.
type viewKind int

const (
	// untracked timers (the server's long-poll timeouts) fire at the next
	// sweep after their deadline (see sweepEvery); the simulation does
	// not stop for them.
	untracked viewKind = iota
	// precise timers (the executors' wakes) are each a stop of the
	// simulation: the executor wakes exactly when it asked to.
	precise
	// loose timers (the links' backoffs) may fire up to looseSlack late,
	// so that the retries of 200 agents after the restart are served in a
	// few steps.
	loose
)

const looseSlack = time.Minute

// sweepEvery is how often the untracked timers are fired: every 4
// simulated hours rather than when due. The server's long-poll timeouts
// are untracked: a long-poll that ends later than its wait asked is one
// the agent must take anyway (a slow network), and answering 2 polls of
// 200 agents every 5 minutes was most of the cost of the week (about
// 800,000 requests; 17,000 with the sweep). Profile changes and commands
// still end the polls at once.
const sweepEvery = 4 * time.Hour

// view returns a clock for one component.
func (c *simClock) view(kind viewKind) *clockView { return &clockView{c: c, kind: kind} }

// next returns the instant to step to after now, at most limit: the
// earliest precise deadline, or the earliest loose one plus the slack.
func (c *simClock) next(now, limit time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := limit
	if h := c.timers[precise]; len(h) > 0 && h[0].at.Before(at) {
		at = h[0].at
	}
	if h := c.timers[loose]; len(h) > 0 && h[0].at.Add(looseSlack).Before(at) {
		at = h[0].at.Add(looseSlack)
	}
	if !at.After(now) { // a deadline passed while the system was settling
		at = now.Add(time.Nanosecond)
	}
	return at
}

// set moves the clock to t and fires the timers due by then, earliest
// first, each with its own deadline; the untracked ones only when sweep
// is set.
func (c *simClock) set(t time.Time, sweep bool) {
	c.gen.Add(1)
	c.mock.Set(t)
	c.mu.Lock()
	var due []timer
	for k := range c.timers {
		if viewKind(k) == untracked && !sweep {
			continue
		}
		h := &c.timers[k]
		for len(*h) > 0 && !(*h)[0].at.After(t) {
			due = append(due, heap.Pop(h).(timer))
		}
	}
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b timer) int { return a.at.Compare(b.at) })
	for _, d := range due {
		d.ch <- d.at // buffered: never blocks
	}
}

func (c *simClock) now() time.Time { return c.mock.Now() }

// clockView is an afterhours.Clock over the simulation's clock.
type clockView struct {
	c    *simClock
	kind viewKind
}

func (v *clockView) Now() time.Time {
	v.c.gen.Add(1)
	return v.c.mock.Now()
}

func (v *clockView) After(d time.Duration) <-chan time.Time {
	v.c.gen.Add(1)
	ch := make(chan time.Time, 1)
	v.c.mu.Lock()
	defer v.c.mu.Unlock()
	now := v.c.mock.Now()
	if d <= 0 {
		ch <- now
		return ch
	}
	heap.Push(&v.c.timers[v.kind], timer{at: now.Add(d), ch: ch})
	return ch
}

type timer struct {
	at time.Time
	ch chan time.Time
}

// timerHeap is a min-heap of timers by deadline.
type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
