package fleet

import (
	"fmt"
	"strings"
	"time"
)

// State is where a rollout as a whole stands. Once the rollout has stopped
// starting targets for a reason (budget, critical failure, killswitch), its
// state says which, even while the targets already running finish; the
// Ended time of [Status] says when [Rollout.Run] has returned. When several
// reasons arise, the state is the gravest: record-failed, then killed,
// then critical, then budget-exhausted.
type State uint8

// The states of a rollout.
const (
	// StateReady is a rollout not run yet.
	StateReady State = iota
	// StateRunning is a rollout starting targets as room frees.
	StateRunning
	// StateCompleted is a rollout that ran every target it had to (some may
	// have failed within the error budget).
	StateCompleted
	// StateBudgetExhausted is a rollout that stopped starting targets
	// because more failed than the error budget tolerates.
	StateBudgetExhausted
	// StateCritical is a rollout stopped by a failure in a critical phase.
	StateCritical
	// StateKilled is a rollout stopped by the killswitch.
	StateKilled
	// StateRecordFailed is a rollout that stopped starting targets because
	// its durable record of claims and results (see [WithStatusFile]), or
	// its coordinator (see [WithCoordinator]), failed to record a claim,
	// a mark or an end: without it, a crash could make a resumed rollout
	// run a target twice.
	StateRecordFailed
)

var stateNames = [...]string{
	StateReady:           "ready",
	StateRunning:         "running",
	StateCompleted:       "completed",
	StateBudgetExhausted: "budget-exhausted",
	StateCritical:        "critical",
	StateKilled:          "killed",
	StateRecordFailed:    "record-failed",
}

// String returns the state's name: ready, running, completed,
// budget-exhausted, critical, killed or record-failed.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText encodes the state as its name.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("fleet: invalid state %d", int(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown state %q", ErrInvalidReport, b)
}

// stopped reports whether a rollout in state s starts no more targets.
func (s State) stopped() bool { return s >= StateBudgetExhausted }

// Counts is how many targets have each [Outcome].
type Counts struct {
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Critical  int `json:"critical"`
	Stopped   int `json:"stopped"`
	Killed    int `json:"killed"`
	Abandoned int `json:"abandoned"`
	// Interrupted is not a failure: it does not count against the budget.
	Interrupted int `json:"interrupted"`
	// Elsewhere is the targets another controller of a shared rollout
	// claimed (see [WithCoordinator]).
	Elsewhere int `json:"elsewhere,omitempty"`
}

// Of returns the count of targets with outcome o.
func (c Counts) Of(o Outcome) int {
	if p := c.field(o); p != nil {
		return *p
	}
	return 0
}

// Total returns the number of targets counted.
func (c Counts) Total() int {
	return c.Pending + c.Running + c.Succeeded + c.Failed + c.Critical + c.Stopped + c.Killed + c.Abandoned + c.Interrupted + c.Elsewhere
}

// Done returns the number of targets that are neither pending nor running.
func (c Counts) Done() int { return c.Total() - c.Pending - c.Running }

// Failures returns the number of targets that count against the error
// budget: Failed and Critical.
func (c Counts) Failures() int { return c.Failed + c.Critical }

func (c *Counts) add(o Outcome, n int) {
	if p := c.field(o); p != nil {
		*p += n
	}
}

func (c *Counts) field(o Outcome) *int {
	switch o {
	case Pending:
		return &c.Pending
	case Running:
		return &c.Running
	case Succeeded:
		return &c.Succeeded
	case Failed:
		return &c.Failed
	case Critical:
		return &c.Critical
	case Stopped:
		return &c.Stopped
	case Killed:
		return &c.Killed
	case Abandoned:
		return &c.Abandoned
	case Interrupted:
		return &c.Interrupted
	case Elsewhere:
		return &c.Elsewhere
	}
	return nil
}

// Status is a snapshot of a rollout as a whole, cheap to take at any time
// with [Rollout.Status]: it holds counts, not the record of every target
// (that is [Rollout.Report]). Times are read from the rollout's clock.
type Status struct {
	// State is where the rollout stands; Reason says why it stopped, when
	// it did (several reasons are separated by "; ").
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Selector is the selector that chose the targets, if any.
	Selector string `json:"selector,omitempty"`
	// RunID identifies one run of a rollout with a status file: the
	// durable record beside the status file carries it too, so that
	// [LoadReport] reads only the record of the run that wrote the file.
	RunID string `json:"run_id,omitempty"`
	// Started is when Run began, Ended when it returned, and At when this
	// snapshot was taken.
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	At      time.Time `json:"at,omitzero"`
	// Total is the number of targets of the rollout, Counts how many have
	// each outcome, and Resumed how many of them kept the outcome they had
	// in the report a rollout resumed from (see [WithResume]) and do not
	// run again.
	Total   int    `json:"total"`
	Counts  Counts `json:"counts"`
	Resumed int    `json:"resumed,omitempty"`
	// Concurrency and Budget are the resolved limits: at most Concurrency
	// targets run at once, and Budget failures are tolerated. GroupLimit is
	// the limit per group as given, zero when there is none.
	Concurrency int   `json:"concurrency"`
	Budget      int   `json:"budget"`
	GroupLimit  Limit `json:"group_limit,omitzero"`
	// FileError is the error of the last failed write of the status file,
	// cleared by the next write that succeeds.
	FileError string `json:"file_error,omitempty"`
}

// Done returns the number of targets with an outcome: neither pending nor
// running.
func (s Status) Done() int { return s.Counts.Done() }

// Finished reports whether Run has returned.
func (s Status) Finished() bool { return !s.Ended.IsZero() }

// Elapsed returns the time from Started to Ended, or to At while the
// rollout runs; 0 before it starts.
func (s Status) Elapsed() time.Duration {
	switch {
	case s.Started.IsZero():
		return 0
	case !s.Ended.IsZero():
		return s.Ended.Sub(s.Started)
	}
	return s.At.Sub(s.Started)
}

// Rate returns the targets finished per second since Started, not counting
// those taken as done from a resumed report; 0 before anything finished.
func (s Status) Rate() float64 {
	el := s.Elapsed()
	n := s.Done() - s.Resumed
	if el <= 0 || n <= 0 {
		return 0
	}
	return float64(n) / el.Seconds()
}

// Left estimates the time until the rollout ends at the current Rate: the
// targets still to run (pending ones only while the rollout is still
// starting targets) divided by the rate. ok is false when there is no rate
// to go by yet; Left is 0 once the rollout has ended.
func (s Status) Left() (left time.Duration, ok bool) {
	if s.Finished() {
		return 0, true
	}
	todo := s.Counts.Running
	if !s.State.stopped() {
		todo += s.Counts.Pending
	}
	rate := s.Rate()
	if rate <= 0 {
		return 0, todo == 0
	}
	return time.Duration(float64(todo) / rate * float64(time.Second)), true
}

// Status returns a snapshot of the rollout as a whole.
func (r *Rollout) Status() Status {
	now := r.cfg.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statusLocked(now)
}

func (r *Rollout) statusLocked(now time.Time) Status {
	return Status{
		State:       r.state,
		Reason:      strings.Join(r.reasons, "; "),
		Selector:    r.cfg.selector.String(),
		RunID:       r.runID,
		Started:     utc(r.started),
		Ended:       utc(r.endedAt),
		At:          utc(now),
		Total:       len(r.recs),
		Counts:      r.counts,
		Resumed:     r.resumed,
		Concurrency: r.conc,
		Budget:      r.budget,
		GroupLimit:  r.cfg.groupLimit,
		FileError:   r.fileErr,
	}
}
