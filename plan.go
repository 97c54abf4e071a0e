package afterhours

import (
	"fmt"
	"time"
)

// Clock is the least the package needs of a clock. clock.New() and
// clock.NewMock() of github.com/benbjohnson/clock satisfy it, and so do
// other fake clocks.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// History is what planning needs to know of the past; the Executor's
// journal implements it. Days are site-local cycle dates, "2006-01-02".
type History interface {
	// Settled reports that task needs no run in the cycle of day: a one-off
	// completed in any cycle, or anything completed or failed in this one.
	Settled(task, day string) bool
	// Durations returns the task's recent successful run times, newest first.
	Durations(task string) []time.Duration
}

// FailureHistory is a [History] that also knows which tasks failed in a
// cycle. A settled task that failed in the cycle is deferred as "failed"
// (not "done"), and, an update, keeps the self-update waiting
// ("updates-pending"); when a task with on_failure "stop" failed in a
// cycle, planning defers the rest of that cycle, the self-update included,
// as "stopped". A History that does not implement it is taken to know of
// no failure.
type FailureHistory interface {
	History
	Failed(task, day string) bool
}

// PlanOption adjusts planning.
type PlanOption func(*planConfig)

type planConfig struct {
	history History
}

func configOf(opts []PlanOption) planConfig {
	var cfg planConfig
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// WithHistory plans with what h knows of the past: settled tasks are
// deferred as "failed" when h is a [FailureHistory] that says they failed
// in the cycle, and as "done" otherwise; estimates come from recent runs
// (the longest of the three most recent successful runs). A nil h is no
// history.
func WithHistory(h History) PlanOption {
	return func(c *planConfig) { c.history = h }
}

// The reasons of a [Deferral]: short words a program can match.
const (
	ReasonNotDue        = "not-due"        // its schedule or repeat has no occurrence in the cycle
	ReasonDisabled      = "disabled"       // the task is not enabled
	ReasonTagMismatch   = "tag-mismatch"   // its tag selector does not match the site
	ReasonWindowFull    = "window-full"    // no room left in the window
	ReasonBusinessHours = "business-hours" // its slot intersects business time
	ReasonDone          = "done"           // the history says it is settled, and it did not fail
	ReasonFailed        = "failed"         // the history says it is settled: it failed in the cycle
	ReasonStopped       = "stopped"        // an on_failure "stop" task failed in the cycle
	ReasonNoSlot        = "no-slot"        // its token has no slot in the cycle
	// The self-update waits: an update that is enabled and matches the
	// site's tags is not completed and is not placed in the cycle
	// (deferred, failed, carried over); see [PlanAt].
	ReasonUpdatesPending = "updates-pending"
	// A downtime of a resource the task uses keeps it from running:
	// "downtime:<resource>", see [ReasonDowntime].
)

// Plan is what one cycle will do: its window, the slots of its span, the
// projected steps of the after-hours sequence, and every deferral with its
// reason. All instants are in the site's zone.
type Plan struct {
	Client string
	// Day is the site-local date of the cycle, "2006-01-02".
	Day string
	// Span is the whole cycle, from its anchor to the next day's.
	Span Interval
	// Window is the cycle's after-hours window.
	Window Interval
	// From is where projection starts: the later of the window's start and
	// the instant planned at.
	From time.Time
	// Slots are the slot occurrences whose start lies in the span, in order
	// of start.
	Slots []Slot
	// Neighbours are the slot occurrences of the cycles before and after
	// whose holds overlap the window (from From on): their tasks belong to
	// those cycles' plans, but contending steps keep out of their holds
	// here too. Void ones are not listed: their holds do not count.
	Neighbours []Slot
	// Steps are the placed housekeeping, update and self-update runs, in
	// order of start.
	Steps []Step
	// Downtimes are the downtime occurrences of the profile's resources
	// that touch the window, in order of start.
	Downtimes []Downtime
	// Timers are the timer occurrences whose time lies in the span, in
	// order of time: each instant once, even where a DST change resolves
	// two wall times to one. Timers run at their times in business hours or
	// not, and whatever the history says: a run does not settle a timer and
	// a failed on_failure "stop" task does not stop one. Only a disabled
	// timer or one whose tags do not match is deferred.
	Timers []TimerRun
	// Deferred lists every task that does not run, with its reason.
	Deferred []Deferral

	site *Site // the site planned for: WriteSVG shades its business hours
}

// TimerRun is one occurrence of a timer: the instant it runs at.
type TimerRun struct {
	Task *Task
	At   time.Time
}

// Slot is one occurrence of a sharing token's slot.
type Slot struct {
	Token string
	// Buffer is the buffer zone before the slot, in which no contending work
	// may start or run.
	Buffer Interval
	// Run is the slot itself.
	Run Interval
	// Tasks are the tasks that run in the slot.
	Tasks []*Task
	// Void is set when the slot intersects business time and its token is
	// not anytime: its tasks are deferred and its hold does not count.
	Void bool

	tok *Token
}

// Hold returns the buffer zone and the slot together.
func (s Slot) Hold() Interval { return Interval{Start: s.Buffer.Start, End: s.Run.End} }

// Step is a placed run of a task, with its projected start and end.
type Step struct {
	Task *Task
	Interval
}

// Deferral is a task that does not run in the cycle, with a reason a
// program can match (one of the Reason constants) and a human detail.
type Deferral struct {
	Task   *Task
	Reason string
	Detail string
}

// BuildPlan plans the cycle that holds the clock's current instant: it reads
// the clock once and returns PlanAt(p, clk.Now(), opts...).
func BuildPlan(p *Profile, clk Clock, opts ...PlanOption) (*Plan, error) {
	if clk == nil {
		return nil, ErrNilClock
	}
	return PlanAt(p, clk.Now(), opts...)
}

// PlanAt plans, as of the instant now, the cycle whose window contains now,
// or else the next cycle with a non-empty window (searched at most 400 days
// ahead, then [ErrNoWindow]). Steps are projected from the later of the
// window's start and now. It is pure: the same profile, history and instant
// give the same plan.
//
// The self-update is placed after every other step, and only when every
// update that is enabled and matches the site's tags is completed (settled
// and not failed, as the history says) or placed in this plan: a plan
// assumes that the steps it places complete. Otherwise (an update that does
// not fit, that a downtime keeps off, that failed in the cycle or that the
// cycle's stop defers) it is deferred as "updates-pending". The [Executor]
// checks again before it starts the self-update, so that an update that
// fails or is deferred at run time keeps it waiting too.
func PlanAt(p *Profile, now time.Time, opts ...PlanOption) (*Plan, error) {
	if p == nil || !p.validated {
		return nil, ErrNotValidated
	}
	if y := now.Year(); y < 1700 || y > 2200 {
		return nil, ErrOutOfRange
	}
	cfg := configOf(opts)
	c, ok := p.Site.windowFrom(now)
	if !ok {
		return nil, ErrNoWindow
	}
	return p.planCycle(c, now, cfg.history), nil
}

// windowFrom returns the cycle whose window contains t, or the next one
// with a non-empty window starting within 400 days.
func (s *Site) windowFrom(t time.Time) (Cycle, bool) {
	c := s.CycleAt(t)
	limit := t.AddDate(0, 0, maxChain)
	for c.Window.Empty() || !t.Before(c.Window.End) {
		if !c.Span.End.Before(limit) {
			return Cycle{}, false
		}
		c = s.Cycle(c.Day.AddDays(1))
	}
	return c, true
}

// Forecast returns n consecutive cycles from the one [BuildPlan] would give,
// cycles with an empty window included. It assumes planned work completes:
// a one-off placed in one cycle is done in the later ones, and so a
// self-update is placed in the cycle of the last update it waits for, after
// it (see [PlanAt]); while an update never fits, the self-update is deferred
// as "updates-pending" in every cycle.
func Forecast(p *Profile, clk Clock, n int, opts ...PlanOption) ([]*Plan, error) {
	if clk == nil {
		return nil, ErrNilClock
	}
	if p == nil || !p.validated {
		return nil, ErrNotValidated
	}
	if n < 0 {
		return nil, fmt.Errorf("afterhours: forecast of %d days", n)
	}
	cfg := configOf(opts)
	now := clk.Now()
	if y := now.Year(); y < 1700 || y > 2200-n/366-1 {
		return nil, ErrOutOfRange
	}
	c, ok := p.Site.windowFrom(now)
	if !ok {
		return nil, ErrNoWindow
	}
	h := &forecastHistory{base: cfg.history, done: map[string]bool{}}
	plans := make([]*Plan, 0, n)
	for range n {
		plan := p.planCycle(c, now, h)
		for _, s := range plan.Steps {
			if k := s.Task.kind; k == Update || k == SelfUpdate {
				h.done[s.Task.Name] = true
			}
		}
		plans = append(plans, plan)
		c = p.Site.Cycle(c.Day.AddDays(1))
	}
	return plans, nil
}

// forecastHistory adds the one-offs a forecast has placed to a history.
type forecastHistory struct {
	base History
	done map[string]bool
}

func (h *forecastHistory) Settled(task, day string) bool {
	return h.done[task] || (h.base != nil && h.base.Settled(task, day))
}

func (h *forecastHistory) Durations(task string) []time.Duration {
	if h.base == nil {
		return nil
	}
	return h.base.Durations(task)
}

func (h *forecastHistory) Failed(task, day string) bool {
	f, ok := h.base.(FailureHistory)
	return ok && f.Failed(task, day)
}
