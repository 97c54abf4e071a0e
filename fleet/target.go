package fleet

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Target is one machine (or any unit of work) of a rollout.
type Target struct {
	// ID names the target; it is unique within a rollout and is how reports
	// and a resumed rollout refer to it.
	ID string `json:"id"`
	// Group is the group the target belongs to, such as the cluster of a
	// node: [WithGroupLimit] bounds how many targets of one group run at
	// once. An empty group is no group: its targets are bounded only by the
	// rollout's concurrency.
	Group string `json:"group,omitempty"`
	// Tags are the target's site tags, which a [Selector] chooses by. A tag
	// is not empty, does not start with '!' and holds no white space.
	Tags []string `json:"tags,omitempty"`
}

// checkTarget returns why t cannot be part of a rollout, or nil.
func checkTarget(t Target) error {
	if t.ID == "" {
		return fmt.Errorf("%w: empty ID", ErrInvalidTarget)
	}
	for i, tag := range t.Tags {
		switch {
		case tag == "":
			return fmt.Errorf("%w: %s: empty tag", ErrInvalidTarget, t.ID)
		case strings.HasPrefix(tag, "!"):
			return fmt.Errorf("%w: %s: tag %q starts with '!'", ErrInvalidTarget, t.ID, tag)
		case strings.IndexFunc(tag, unicode.IsSpace) >= 0:
			return fmt.Errorf("%w: %s: tag %q holds white space", ErrInvalidTarget, t.ID, tag)
		}
		for _, prev := range t.Tags[:i] {
			if prev == tag {
				return fmt.Errorf("%w: %s: tag %q repeated", ErrInvalidTarget, t.ID, tag)
			}
		}
	}
	return nil
}

// Action is the work done on one target, or one phase of it. It must return
// soon after ctx is done: the killswitch works by cancelling ctx. An error
// is a failure of the target; a panic is recovered and is a failure too.
// Actions run concurrently, each in its own goroutine.
type Action func(ctx context.Context, t Target) error

// Phase is one named step of the work on every target, such as "drain",
// "patch" and "verify". A rollout runs its phases in order on each target;
// a target that fails a phase runs no later phase. A rollout of a single
// action is a rollout of one phase.
type Phase struct {
	// Name names the phase in records and events ("drain").
	Name string
	// Run does the work.
	Run Action
	// Critical marks a phase whose failure stops the whole rollout and
	// escalates: no new target starts, every running target stops before
	// its next phase, and the [WithEscalation] function is called. A
	// failed drain is the usual example.
	Critical bool
	// Retries is how many more attempts a failed phase gets before the
	// target fails: 0, the default, is one attempt. A phase cancelled by the
	// killswitch is not retried.
	Retries int
	// RetryDelay is the wait before each retry, measured by the rollout's
	// clock.
	RetryDelay time.Duration
	// Timeout, when positive, bounds each attempt: its context has this
	// deadline, measured by the Go runtime's timers rather than the
	// rollout's clock. An attempt that runs out of time has failed.
	Timeout time.Duration
}

// checkPhases returns why phases cannot be a rollout's phases, or nil.
func checkPhases(phases []Phase) error {
	if len(phases) == 0 {
		return fmt.Errorf("%w: no phase: a rollout needs an action", ErrInvalidPhase)
	}
	for i, p := range phases {
		switch {
		case p.Name == "":
			return fmt.Errorf("%w: phase %d has no name", ErrInvalidPhase, i)
		case p.Run == nil:
			return fmt.Errorf("%w: phase %q has no action", ErrInvalidPhase, p.Name)
		case p.Retries < 0 || p.RetryDelay < 0 || p.Timeout < 0:
			return fmt.Errorf("%w: phase %q: negative retries, delay or timeout", ErrInvalidPhase, p.Name)
		}
		for _, prev := range phases[:i] {
			if prev.Name == p.Name {
				return fmt.Errorf("%w: phase name %q repeated", ErrInvalidPhase, p.Name)
			}
		}
	}
	return nil
}

// Outcome is where a target stands in a rollout.
type Outcome uint8

// The outcomes of a target. Succeeded, Failed and Critical are final: a
// resumed rollout does not run such a target again (see [WithResume]). The
// others leave the target to do again.
const (
	// Pending is a target not started, or never started because the
	// rollout stopped first.
	Pending Outcome = iota
	// Running is a target whose phases are running.
	Running
	// Succeeded is a target whose every phase succeeded.
	Succeeded
	// Failed is a target that failed a phase, retries included. It counts
	// against the error budget.
	Failed
	// Critical is a target that failed a critical phase. It counts against
	// the error budget, and it stopped the rollout.
	Critical
	// Stopped is a target that a critical failure elsewhere stopped between
	// two of its phases (its last phase ran to its end, the next never
	// began), or before the retry of a failed attempt. It does not count
	// against the error budget.
	Stopped
	// Killed is a target whose running phase the killswitch cancelled, or
	// that the killswitch stopped between two of its phases or attempts.
	Killed
	// Abandoned is a target whose action had not returned when the kill
	// grace ran out after the killswitch: its state is unknown.
	Abandoned
)

var outcomeNames = [...]string{
	Pending:   "pending",
	Running:   "running",
	Succeeded: "succeeded",
	Failed:    "failed",
	Critical:  "critical",
	Stopped:   "stopped",
	Killed:    "killed",
	Abandoned: "abandoned",
}

// String returns the outcome's name as reports write it: pending, running,
// succeeded, failed, critical, stopped, killed or abandoned.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Final reports whether a resumed rollout takes the outcome as done:
// Succeeded, Failed or Critical.
func (o Outcome) Final() bool { return o == Succeeded || o == Failed || o == Critical }

// IsFailure reports whether the outcome counts against the error budget:
// Failed or Critical.
func (o Outcome) IsFailure() bool { return o == Failed || o == Critical }

// MarshalText encodes the outcome as its name.
func (o Outcome) MarshalText() ([]byte, error) {
	if int(o) >= len(outcomeNames) {
		return nil, fmt.Errorf("fleet: invalid outcome %d", int(o))
	}
	return []byte(outcomeNames[o]), nil
}

// UnmarshalText decodes an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	v, err := parseOutcome(string(b))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidReport, err)
	}
	*o = v
	return nil
}

func parseOutcome(s string) (Outcome, error) {
	for i, n := range outcomeNames {
		if n == s {
			return Outcome(i), nil
		}
	}
	return 0, fmt.Errorf("unknown outcome %q", s)
}
