package fleet

import (
	"errors"
	"fmt"
)

// Every exported sentinel error of the package. The errors the package
// makes wrap one of these with %w, so use [errors.Is] to tell them apart;
// errors of the file system (a status file that cannot be written or read)
// are returned wrapped as they come, for [errors.Is] with [io/fs.ErrNotExist]
// and the like.
var (
	// ErrKilled is returned by [Rollout.Run] when the rollout was stopped by
	// [Rollout.Kill] or by the cancellation of Run's context. The error
	// wraps the reason given to Kill, or the context's cause.
	ErrKilled = errors.New("fleet: rollout killed")

	// ErrBudgetExhausted is returned by [Rollout.Run] when more targets
	// failed than the error budget tolerates, so that no new target was
	// started after the failure that exceeded it.
	ErrBudgetExhausted = errors.New("fleet: error budget exhausted")

	// ErrCritical is returned by [Rollout.Run] when a target failed in a
	// critical phase, which stops the whole rollout and escalates. The
	// error also wraps the action's own error.
	ErrCritical = errors.New("fleet: critical failure")

	// ErrStarted is returned by [Rollout.Run] when the rollout has been run
	// already: a Rollout runs once; resume it with a new one.
	ErrStarted = errors.New("fleet: rollout already started")

	// ErrInvalidTarget is returned by [NewRollout] for a target with an empty
	// or repeated ID, or with a bad tag.
	ErrInvalidTarget = errors.New("fleet: invalid target")

	// ErrInvalidPhase is returned by [NewRollout] for a phase without a name
	// or an action, with a repeated name, or with a negative setting.
	ErrInvalidPhase = errors.New("fleet: invalid phase")

	// ErrInvalidOption is returned by [NewRollout] for an option with a value
	// it cannot use, such as a nil clock or a concurrency of 0.
	ErrInvalidOption = errors.New("fleet: invalid option")

	// ErrInvalidSelector is returned by [NewSelector] and [ParseSelector] for
	// an empty tag, a repeated tag, or a tag both required and excluded.
	ErrInvalidSelector = errors.New("fleet: invalid selector")

	// ErrInvalidLimit is returned by [ParseLimit] for text that is neither a
	// count nor a percentage.
	ErrInvalidLimit = errors.New("fleet: invalid limit")

	// ErrInvalidReport is returned when a report or status file cannot be
	// read back: bad JSON or CSV, an unknown outcome, a bad time.
	ErrInvalidReport = errors.New("fleet: invalid report")

	// ErrInvalidResource is returned by [Allocate] when the resource cannot be
	// allocated: no token name, an unknown zone, a duration that is not
	// positive, a negative buffer or capacity, or a buffer and duration
	// longer than a day.
	ErrInvalidResource = errors.New("fleet: invalid resource")

	// ErrInvalidPeriod is returned by [Allocate] when the first date of the
	// year to allocate for is not a valid date, and by [LoadForecastInterval]
	// when the interval is empty or longer than [MaxLoadInterval].
	ErrInvalidPeriod = errors.New("fleet: invalid period")

	// ErrTaken is returned by [Coordinator.Claim] for a target another
	// claim was made of, by any controller, or that ended.
	ErrTaken = errors.New("fleet: target taken")

	// ErrNoRoom is returned by [Coordinator.Claim] when the rollout's
	// concurrency is full across its controllers, or (as [ErrGroupFull])
	// the target's group limit is: the target may be claimed after the
	// next change.
	ErrNoRoom = errors.New("fleet: no room")

	// ErrGroupFull is returned by [Coordinator.Claim] when the target's
	// group runs as many targets as its limit allows. It wraps [ErrNoRoom].
	ErrGroupFull = fmt.Errorf("%w: group full", ErrNoRoom)

	// ErrStopped is returned by [Coordinator.Claim] when the rollout
	// stopped for every controller; the error wraps the reason too
	// ([ErrKilled], [ErrBudgetExhausted] or [ErrCritical]).
	ErrStopped = errors.New("fleet: rollout stopped")

	// ErrNotJoined is returned by a [Coordinator] called before Join.
	ErrNotJoined = errors.New("fleet: coordinator not joined")

	// ErrNotClaimed is returned by [Coordinator.Mark] and
	// [Coordinator.End] for a target that is not claimed, or no longer.
	ErrNotClaimed = errors.New("fleet: target not claimed")

	// ErrPlanMismatch is returned by [Coordinator.Join] for a plan that is
	// not valid, or not the plan the rollout's first controller joined
	// with.
	ErrPlanMismatch = errors.New("fleet: coordinator plan mismatch")
)
