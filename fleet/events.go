package fleet

import (
	"fmt"
	"time"
)

// eventBuffer is how many events a subscriber's channel holds. A subscriber
// that falls this far behind loses the events that do not fit (see
// [Rollout.Subscribe]).
const eventBuffer = 1024

// EventKind says what an [Event] reports.
type EventKind uint8

// The kinds of event.
const (
	// EventStarted: a target started (Target, Group).
	EventStarted EventKind = iota + 1
	// EventPhase: a target began an attempt at a phase (Phase, Attempt;
	// Err is the error of the attempt before, on a retry).
	EventPhase
	// EventFinished: a target got its outcome (Outcome, Phase, Attempt, Err).
	EventFinished
	// EventStopping: the rollout stopped starting targets (State, Reason).
	EventStopping
	// EventStatusFile: the status file was written, or failed to be (Err).
	EventStatusFile
	// EventEnded: Run is about to return (State, Reason). The channel is
	// closed right after.
	EventEnded
	// EventAbandoned: an attempt at a phase had not returned the kill
	// grace after its timeout and was abandoned (Phase, Attempt, Err); its
	// target fails, and the action's goroutine lives on (see
	// [Phase].Timeout).
	EventAbandoned
	// EventWaiting: a target with a site found no room for its phases in
	// the site's window now and waits until Until, its NextStart (Target,
	// Group; Reason says why); the targets after it go on. Also a target
	// whose group semaphore (see [WithGroupSemaphore]) was full, or
	// failed (Err), and that tries again at Until or at the next end of
	// one of the rollout's targets, whichever comes first.
	EventWaiting
)

var eventNames = [...]string{
	EventStarted:    "started",
	EventPhase:      "phase",
	EventFinished:   "finished",
	EventStopping:   "stopping",
	EventStatusFile: "status-file",
	EventEnded:      "ended",
	EventAbandoned:  "abandoned",
	EventWaiting:    "waiting",
}

// String returns the kind's name: started, phase, finished, stopping,
// status-file, ended, abandoned or waiting.
func (k EventKind) String() string {
	if k >= EventStarted && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one thing that happened in a rollout. Which fields are set
// depends on Kind.
type Event struct {
	Kind EventKind
	// At is when it happened, by the rollout's clock.
	At time.Time
	// Target and Group identify the target of target events.
	Target string
	Group  string
	// Phase and Attempt are the phase a target is at and its attempt at it,
	// counted from 1.
	Phase   string
	Attempt int
	// Outcome is a finished target's outcome; Err its error, if any.
	Outcome Outcome
	Err     error
	// State and Reason are the rollout's, for EventStopping and EventEnded.
	State  State
	Reason string
	// Until is when a waiting target will start, for EventWaiting.
	Until time.Time
	// Missed is how many events this subscriber lost, for want of room in
	// its channel, just before this one.
	Missed int
}

// Subscribe returns a channel of the rollout's events from now on, and a
// function that ends the subscription and closes the channel (calling it
// again does nothing). The channel is also closed when Run returns, right
// after an EventEnded, so ranging over it ends with the rollout; a
// subscription made after Run returned gets a closed channel.
//
// A slow subscriber never slows the rollout: the channel holds
// 1,024 events, and an event that finds it full is dropped for that
// subscriber. The next event that fits says how many were lost in Missed.
// What is lost are those events themselves: the state they reported is
// still in [Rollout.Status] and [Rollout.Report], which a subscriber that
// missed events should read; and the closing of the channel is never lost.
func (r *Rollout) Subscribe() (<-chan Event, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch, sub := r.subs.Add(eventBuffer) // closed already once Run has returned
	return ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.subs.Remove(sub)
	}
}

// emitLocked sends e to every subscriber that has room. r.mu is held, so
// that every subscriber sees events in the order they happened.
func (r *Rollout) emitLocked(e Event) {
	r.subs.Send(e, func(e *Event, lost int) { e.Missed = lost })
}
