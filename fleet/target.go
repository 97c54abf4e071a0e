package fleet

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/afterhours-go/afterhours"
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
	// Site, when set, is the target's site (validated: see
	// [afterhours.Site.Validate]): the target starts only inside the
	// site's after-hours window, and only when its phases' estimates
	// ([Phase].Estimate, summed) fit before the window's end; otherwise it
	// waits for the next window where they fit, while the targets after it
	// go on. Windows are the planner's ([afterhours.Site.Cycle]): business
	// hours, grace, closed dates and DST days included. A report shows when
	// a waiting target will start ([Record].NextStart). Nil: the target
	// starts whenever there is room.
	Site *afterhours.Site `json:"-"`
}

// checkTarget returns why t cannot be part of a rollout, or nil.
func checkTarget(t Target) error {
	if t.ID == "" {
		return fmt.Errorf("%w: empty ID", ErrInvalidTarget)
	}
	if t.Site != nil && !t.Site.Validated() {
		return fmt.Errorf("%w: %s: its site is not validated (Site.Validate)", ErrInvalidTarget, t.ID)
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
	//
	// An action that does not return when its deadline passes (one that
	// blocks without watching its context) is waited for the kill grace
	// ([WithKillGrace], measured by the rollout's clock as after the
	// killswitch) and then abandoned: the target fails at once, with an
	// error that says the attempt was abandoned, and an [EventAbandoned]
	// is sent. Its concurrency slot and group place are freed, and it is
	// not retried, whatever Retries says: a retry would run beside the
	// abandoned attempt, whose goroutine lives on until the action
	// returns (nothing it does then changes the rollout). Without a
	// Timeout only the killswitch ends an attempt.
	Timeout time.Duration
	// Idempotent declares that running the phase again on a target that
	// may have run it in part, or in full, is safe. It decides what a
	// resumed rollout does with a target that was running when its last
	// run ended without recording the target's end (the process was
	// killed): such a target is [Interrupted], and is run again from its
	// first phase only when every phase up to the one it was in is
	// idempotent; otherwise it is left to the operator. The rollout
	// records durably that a target reached its first phase that is not
	// idempotent before that phase begins (see [WithStatusFile]), so a
	// target that may have begun such a phase is never run again on its
	// own.
	Idempotent bool
	// Estimate is how long the phase is expected to take, for the window
	// of a target with a [Target].Site: the sum of a rollout's phase
	// estimates must fit between the target's start and its window's end.
	// Zero counts as nothing.
	Estimate time.Duration
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
		case p.Retries < 0 || p.RetryDelay < 0 || p.Timeout < 0 || p.Estimate < 0:
			return fmt.Errorf("%w: phase %q: negative retries, delay, timeout or estimate", ErrInvalidPhase, p.Name)
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

// The outcomes of a target. Succeeded, Failed, Critical and Interrupted
// are final: a resumed rollout does not run such a target again on its own
// (see [WithResume] for the exceptions). Pending, Stopped and Killed leave
// the target to do again; Running and Abandoned targets are run again only
// when their phases are idempotent.
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
	// grace ran out after the killswitch: its state is unknown. (An attempt
	// abandoned after its phase's Timeout is a failure instead: see
	// [Phase].Timeout.)
	Abandoned
	// Interrupted is a target that was running when the process of its
	// rollout ended without recording the target's end (a crash, a
	// SIGKILL): it may have run in part, in full, or, rarely, not at all,
	// so it needs a person's attention. [LoadReport] finds it in the
	// durable record beside the status file. It is final and not a
	// failure: it does not count against the error budget, and a resumed
	// rollout runs it again only when its phases are idempotent (see
	// [Phase].Idempotent).
	Interrupted
	// Elsewhere is a target that another controller of a shared rollout
	// claimed (see [WithCoordinator]): its record is in that controller's
	// report. It is final for this controller and not a failure here.
	Elsewhere
)

var outcomeNames = [...]string{
	Pending:     "pending",
	Running:     "running",
	Succeeded:   "succeeded",
	Failed:      "failed",
	Critical:    "critical",
	Stopped:     "stopped",
	Killed:      "killed",
	Abandoned:   "abandoned",
	Interrupted: "interrupted",
	Elsewhere:   "elsewhere",
}

// String returns the outcome's name as reports write it: pending, running,
// succeeded, failed, critical, stopped, killed, abandoned, interrupted or
// elsewhere.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Final reports whether the outcome is an end a resumed rollout keeps:
// Succeeded, Failed, Critical or Interrupted (see [WithResume] for the
// exceptions: [WithRetryFailed], and idempotent phases).
func (o Outcome) Final() bool {
	return o == Succeeded || o == Failed || o == Critical || o == Interrupted
}

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
