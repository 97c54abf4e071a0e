package fleet

import (
	"context"
	"fmt"
)

// Coordinator is the shared state of one rollout that several controllers
// (Rollouts, in one process or in several) run together, each taking
// targets as it has room: together they never run more targets than the
// concurrency, more of a group than its limit, or start a target after
// the error budget is spent or the killswitch was thrown, and no target
// is run by two of them.
//
// A Rollout given one with [WithCoordinator] calls it for every target:
// Claim before the target's first action runs, Mark before the first of
// its phases that is not [Phase].Idempotent (when that is not its first
// phase), End when the target ends; it calls Join once as Run starts,
// watches Changes while it runs and reads Stopped after each change. A
// claim refused for room puts the target back in its queue until the
// next change; a target another controller claimed is recorded as
// [Elsewhere] in this controller's report.
//
// [NewMemoryCoordinator] keeps the state in memory, for Rollouts of one
// process; [WithStatusFile] uses a coordinator that also keeps it in a
// durable log beside the status file, for one controller; module
// github.com/afterhours-go/afterhours/etcd has one on etcd, for
// controllers in several processes. The conformance tests in package
// fleet/coordtest hold every implementation to this contract.
//
// Implementations are safe for concurrent use: a Rollout calls Claim, Mark
// and End from the goroutines of its targets. The context bounds the call
// only; a cancelled context never undoes a claim or an end that was made.
type Coordinator interface {
	// Join adds a controller to the rollout described by p, and returns
	// the records the rollout already holds: every target that ended, and
	// every target whose controller died while it ran, as [Interrupted]
	// (a final outcome, not a failure) in the last phase its claim or a
	// Mark named. The joining Rollout keeps those
	// records (marked Resumed) and does not run their targets. The first
	// Join fixes the plan; a later Join with another Concurrency, Budget
	// or GroupLimits fails wrapping [ErrPlanMismatch].
	Join(ctx context.Context, p CoordPlan) ([]Record, error)

	// Claim takes target rec.ID for the calling controller, durably,
	// before its first action runs: rec holds the target's ID, Group, the
	// name of its first phase (Phase) and its Start. It returns nil when
	// the target is the caller's, or an error wrapping [ErrTaken] when
	// another claim of it was made (by any controller) or it ended,
	// [ErrNoRoom] when the shared concurrency is full, [ErrGroupFull]
	// (which wraps ErrNoRoom too) when its group's limit is, [ErrStopped]
	// (with the reason, as Stopped returns it) when the rollout stopped,
	// and [ErrNotJoined] before Join. Any other error is the shared
	// state's: the target must not start.
	Claim(ctx context.Context, rec Record) error

	// Mark records durably that the claimed target id begins phase, the
	// first of its phases that is not idempotent, so that a target
	// interrupted later is known to have begun it. It fails wrapping
	// [ErrNotClaimed] for a target that is not claimed.
	Mark(ctx context.Context, id, phase string) error

	// End records the result of a claimed target durably and frees its
	// room (its place in the concurrency and in its group). A failure
	// ([Outcome].IsFailure) counts against the shared error budget: with
	// a budget of B, the failure that makes B+1 stops the rollout for
	// every controller ([ErrBudgetExhausted]); a [Critical] outcome stops
	// it at once ([ErrCritical]). An end with outcome [Pending] (the
	// target's first action never ran) only gives the target back: it may
	// be claimed again. Any other outcome is final for the rollout: no
	// controller claims the target again. It fails wrapping
	// [ErrNotClaimed] for a target that is not claimed (such as a target
	// already ended).
	End(ctx context.Context, rec Record) error

	// Kill throws the killswitch for every controller: the rollout stops
	// ([ErrKilled], with reason), and each controller cancels its running
	// actions when it sees the change, within a second. Only the first
	// reason is kept; Kill again does nothing.
	Kill(ctx context.Context, reason string) error

	// Changes returns a channel that receives (coalesced: one value may
	// stand for many changes) after every change of the shared state made
	// after the call that may free room or stop the rollout: an End by any
	// controller, a stop, a Kill. Each call returns a channel of its own,
	// which stops receiving when ctx is done.
	Changes(ctx context.Context) <-chan struct{}

	// Stopped returns why the rollout stopped for every controller: an
	// error wrapping [ErrKilled], [ErrBudgetExhausted] or [ErrCritical]
	// (several joined with [errors.Join], when several stops happened),
	// or nil while it runs. It returns what the coordinator has seen so
	// far, without blocking: a Rollout calls it after each change.
	Stopped() error
}

// CoordPlan is what the controllers of one rollout must agree on, as
// [Coordinator.Join] takes it: the limits, resolved to numbers by the
// Rollout from its options and its targets.
type CoordPlan struct {
	// Run is the joining controller's run ID ([Status].RunID).
	Run string
	// Concurrency is how many targets may run at once, across all
	// controllers: at least 1.
	Concurrency int
	// Budget is how many failures the rollout tolerates.
	Budget int
	// Failures is how many failures count against the budget already
	// (carried from a resumed report, see [WithResume]); only the first
	// Join's counts.
	Failures int
	// GroupLimits is how many targets of each group may run at once; a
	// group not in it (and the empty group) is not limited.
	GroupLimits map[string]int
}

// check returns why p cannot be a plan, or nil.
func (p CoordPlan) check() error {
	if p.Concurrency < 1 || p.Budget < 0 || p.Failures < 0 {
		return fmt.Errorf("%w: concurrency %d, budget %d, failures %d", ErrPlanMismatch, p.Concurrency, p.Budget, p.Failures)
	}
	for g, n := range p.GroupLimits {
		if n < 1 {
			return fmt.Errorf("%w: group %q limit %d", ErrPlanMismatch, g, n)
		}
	}
	return nil
}

// Matches reports whether q is the same plan as p, as Join compares them:
// the same Concurrency, Budget and GroupLimits (Run and Failures may
// differ).
func (p CoordPlan) Matches(q CoordPlan) bool {
	if p.Concurrency != q.Concurrency || p.Budget != q.Budget || len(p.GroupLimits) != len(q.GroupLimits) {
		return false
	}
	for g, n := range p.GroupLimits {
		if m, ok := q.GroupLimits[g]; !ok || m != n {
			return false
		}
	}
	return true
}

// WithCoordinator has the rollout keep its shared state in c, so that
// several Rollouts (controllers) given coordinators of the same rollout
// run it together: see [Coordinator]. Each controller should be given the
// same targets, phases and limits; each takes the targets it has room
// for, in order, and skips those another took. Its [Rollout.Report]
// holds the records of the targets it ran, those of targets that ended
// before it joined (marked Resumed), and [Elsewhere] for the others; its
// Status counts those, and its Budget and Concurrency are the shared ones.
// [Rollout.Kill] and the cancellation of Run's context throw the shared
// killswitch too. The Rollout never closes c: its owner does.
//
// With [WithStatusFile] too, the status file is written as usual, but no
// claims log is kept beside it: c is the durable record. A nil c is an
// error.
func WithCoordinator(c Coordinator) Option {
	return func(cfg *config) error {
		if c == nil {
			return fmt.Errorf("%w: nil coordinator", ErrInvalidOption)
		}
		cfg.coord = c
		return nil
	}
}
