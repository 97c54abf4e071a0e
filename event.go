package afterhours

import (
	"fmt"
	"time"
)

// EventKind says what happened.
type EventKind int

// The kinds of [Event].
const (
	// EventPlanned: a cycle was planned or re-planned; Event.Plan is set.
	EventPlanned EventKind = iota + 1
	// EventStarted: a run started.
	EventStarted
	// EventFinished: a run completed.
	EventFinished
	// EventFailed: a run failed, timed out, was killed or interrupted.
	EventFailed
	// EventDeferred: a task will not run in the cycle (planned deferrals
	// included), or a timer run was skipped or missed; see Reason.
	EventDeferred
	// EventHeld: the next step waits: for a hold to end, or for a
	// constraint that asked to wait.
	EventHeld
	// EventReleased: a held step may go on.
	EventReleased
	// EventKilled: the killswitch went on.
	EventKilled
	// EventResumed: the killswitch went off.
	EventResumed
	// EventCommandAccepted: a command was accepted and saved.
	EventCommandAccepted
)

var eventNames = [...]string{
	EventPlanned:         "planned",
	EventStarted:         "started",
	EventFinished:        "finished",
	EventFailed:          "failed",
	EventDeferred:        "deferred",
	EventHeld:            "held",
	EventReleased:        "released",
	EventKilled:          "killed",
	EventResumed:         "resumed",
	EventCommandAccepted: "command-accepted",
}

// String returns the kind's name: "planned", "started", "finished",
// "failed", "deferred", "held", "released", "killed", "resumed" or
// "command-accepted".
func (k EventKind) String() string {
	if k >= EventPlanned && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something the executor did, as [Executor.Subscribe] streams it.
type Event struct {
	Kind EventKind
	// At is the executor's clock when it happened.
	At time.Time
	// Day is the cycle's site-local date.
	Day string
	// Task and TaskKind name the task, for events about one.
	Task     string
	TaskKind Kind
	// Reason and Detail say why, for deferred, held, failed and killed
	// events.
	Reason, Detail string
	// Record is the journal record, for started, finished, failed and
	// deferred events.
	Record *Record
	// Plan is the plan, for planned events.
	Plan *Plan
	// Dropped counts the events this subscriber lost just before this one
	// because it did not keep up.
	Dropped int
}

// String formats the event on one line, as examples/agent prints it.
func (e Event) String() string {
	s := e.At.Format("2006-01-02 15:04:05 MST") + " " + e.Kind.String()
	if e.Task != "" {
		s += " " + e.TaskKind.String() + " " + e.Task
	}
	if e.Kind == EventPlanned && e.Plan != nil {
		s += fmt.Sprintf(" cycle %s: %s, %s, %s, %d deferred", e.Plan.Day, plural(len(e.Plan.Steps), "step"),
			plural(len(e.Plan.Slots), "slot"), plural(len(e.Plan.Timers), "timer run"), len(e.Plan.Deferred))
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Dropped > 0 {
		s += fmt.Sprintf(" [%d events lost before]", e.Dropped)
	}
	return s
}

// plural is "1 step", "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// subscriberBuffer is how many events a subscriber's channel holds.
const subscriberBuffer = 256

// Subscribe returns a channel of the executor's events and a function that
// ends the subscription and closes the channel.
//
// A subscriber never blocks the executor: the channel holds
// 256 events, and while it is full, new events are dropped
// for that subscriber alone. The next event it does get says, in Dropped,
// how many it lost. The journal ([Executor.Journal]) and [Executor.Status]
// have everything a lost event said.
func (e *Executor) Subscribe() (<-chan Event, func()) {
	e.mu.Lock()
	ch, sub := e.subs.Add(subscriberBuffer)
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.subs.Remove(sub)
	}
}

// emit sends ev to every subscriber without blocking. The caller holds
// e.mu.
func (e *Executor) emit(ev Event) {
	if e.heldEvents != nil {
		*e.heldEvents = append(*e.heldEvents, ev) // until the journal has them (finishReady)
		return
	}
	e.subs.Send(ev, func(ev *Event, lost int) { ev.Dropped = lost })
}

// emitRecord emits an event about a record. Every failure passes here: a
// failed event of the current cycle marks it as having failures to
// notify, so that it wakes at its window's end (Executor.noticeWindow).
func (e *Executor) emitRecord(kind EventKind, day string, r *Record, at time.Time) {
	if kind == EventFailed && e.cur != nil && e.cur.day == day {
		e.cur.unnoticed = true
	}
	if e.subs.Len() == 0 {
		return
	}
	cp := *r
	e.emit(Event{Kind: kind, At: at, Day: day, Task: r.Task, TaskKind: r.Kind, Reason: r.Reason, Detail: firstOf(r.Detail, r.Error), Record: &cp})
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
