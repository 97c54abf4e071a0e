package fleet

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// GroupSemaphore is a counting semaphore per group that a rollout shares
// with others: the FleetLock groups of a server, which Fedora CoreOS's
// Zincati and the agent's FleetLock constraint take slots of too, so that
// the nodes of a cluster rebooted by a rollout and those rebooted by
// anything else together never exceed the group's slots.
//
// Acquire takes a slot of group for the holder id: true when id holds one
// (already, or now), false when every slot is held by others. Locks are
// owned and recursive, as in the FleetLock protocol: taking again a slot
// one holds succeeds and takes nothing more. Release gives id's slot of
// group back; it is no error when id holds none. Both are called from the
// goroutines of the rollout's targets, concurrently: implementations must
// be safe for concurrent use.
//
// [NewFleetLockSemaphore] speaks the FleetLock protocol to a server; the
// server package's Fleet has an in-process one.
type GroupSemaphore interface {
	Acquire(ctx context.Context, group, id string) (bool, error)
	Release(ctx context.Context, group, id string) error
}

// DefaultSemaphoreRetry is how long a target whose group's semaphore is
// full waits before it tries again, when [WithGroupSemaphore] is given no
// interval.
const DefaultSemaphoreRetry = 30 * time.Second

// WithGroupSemaphore has the rollout take a slot of s for every target that
// has a group (holder id: the target's ID; group: its Group) before the
// target's first action runs, after the rollout's own limits
// ([WithConcurrency], [WithGroupLimit]) and its coordinator's claim (see
// [WithCoordinator]) allow it to start, and give the slot back when the
// target ends, whatever its outcome: succeeded, failed, killed,
// abandoned (at once when Run abandons it, though its action may still
// run), or given back pending by a stop. Targets without a group take no
// slot.
//
// While a group's semaphore is full, that group's targets wait, and the
// targets of other groups go on; each waiting target emits an
// [EventWaiting]. There is no watch in the FleetLock protocol: the
// rollout tries again every retry of its clock ([DefaultSemaphoreRetry]
// when retry is 0), and whenever one of its own targets ends. An error of
// the semaphore fails no target: the target waits and is tried again
// likewise, and the error is logged and carried by its EventWaiting (Err).
// A claim made for a target that then waits is given back to the
// coordinator (ended [Pending]), so that another controller may take it.
//
// A target interrupted by a crash of its controller keeps its slot, as a
// Zincati node that dies in the middle of its reboot does: a rollout
// resumed from the crashed one's report (see [WithResume]) that runs the
// target again takes the slot again (recursively, as the same holder) and
// gives it back when the target ends; one that does not run it again
// leaves the slot to an operator (the server's FleetLock release). A
// failed give-back is logged; the slot stays held likewise.
//
// Without this option nothing of it runs: a rollout's scheduling is
// unchanged. A nil semaphore or a negative retry is an error.
func WithGroupSemaphore(s GroupSemaphore, retry time.Duration) Option {
	return func(cfg *config) error {
		if s == nil {
			return fmt.Errorf("%w: nil group semaphore", ErrInvalidOption)
		}
		if retry < 0 {
			return fmt.Errorf("%w: negative group semaphore retry %v", ErrInvalidOption, retry)
		}
		if retry == 0 {
			retry = DefaultSemaphoreRetry
		}
		cfg.sem, cfg.semRetry = s, retry
		return nil
	}
}

// semFor reports whether target i takes a slot of the group semaphore.
func (r *Rollout) semFor(i int) bool {
	return r.cfg.sem != nil && r.targets[i].Group != ""
}

// takeSlot takes target i's slot of the group semaphore as it is about to
// begin its first phase; it reports whether the target holds it. When it
// does not (the semaphore is full or failed), the target stops in res,
// refused with a *semWait. A slot taken while the killswitch was thrown
// is given back, and the target is killed before its first action. (Kept
// out of work, whose stack every target's goroutine carries.)
func (r *Rollout) takeSlot(ctx context.Context, res *result) bool {
	t := &r.targets[res.i]
	actx, cancel := context.WithTimeout(ctx, coordTimeout)
	ok, err := r.cfg.sem.Acquire(actx, t.Group, t.ID)
	cancel()
	if ctx.Err() != nil {
		// Killed while it asked: whatever the answer, nothing holds the
		// slot for this run any more.
		r.giveBack(t)
		res.outcome = Killed
		return false
	}
	if err != nil || !ok {
		w := &semWait{}
		if err != nil {
			// The slot may have been taken before the error: the target
			// waits, and its next Acquire takes it again recursively.
			w.err = fmt.Errorf("fleet: group semaphore: %w", err)
		}
		res.outcome, res.refused = Stopped, w
		return false
	}
	r.mu.Lock()
	r.startedLocked(&r.recs[res.i])
	r.mu.Unlock()
	return true
}

// releaseSlot gives target i's slot of the group semaphore back as the
// target ends, once: its goroutine and Run's abandon may both try.
func (r *Rollout) releaseSlot(i int) {
	if r.semGiven[i].Swap(true) {
		return
	}
	r.giveBack(&r.targets[i])
}

// giveBack releases t's slot of the group semaphore, logging a failure.
func (r *Rollout) giveBack(t *Target) {
	ctx, cancel := context.WithTimeout(context.Background(), coordTimeout)
	defer cancel()
	if err := r.cfg.sem.Release(ctx, t.Group, t.ID); err != nil {
		r.cfg.logger.Error("giving a group semaphore slot back failed", "target", t.ID, "group", t.Group, "err", err)
	}
}

// semWait is the refusal of a target whose group semaphore was full, or
// failed with err.
type semWait struct{ err error }

func (w *semWait) Error() string {
	if w.err != nil {
		return w.err.Error()
	}
	return "fleet: group semaphore full"
}

// semRefused handles a target that found its group's semaphore full, or
// failed: its first action never ran. It goes back to the head of its
// group's queue and, unless one of the rollout's targets ended since it
// was dispatched, its group waits for the next end or the retry.
func (r *Rollout) semRefused(res result, w *semWait) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &r.recs[res.i]
	now := r.cfg.clock.Now()
	until := now
	if r.semAt[res.i] == r.semEnds {
		r.blockGroupLocked(r.groupOf[res.i])
		r.semBlocked = true
		until = now.Add(r.cfg.semRetry)
	}
	r.putBackLocked(res.i)
	reason := fmt.Sprintf("group %s's semaphore is full", rec.Group)
	if w.err != nil {
		reason = fmt.Sprintf("group %s's semaphore failed", rec.Group)
		r.cfg.logger.Warn("group semaphore failed: the target waits", "target", rec.ID, "group", rec.Group, "err", w.err)
	}
	if r.subs.Len() > 0 {
		r.emitLocked(Event{Kind: EventWaiting, At: now, Target: rec.ID, Group: rec.Group,
			Until: until, Reason: reason, Err: w.err})
	}
}

// releaseSlots gives back, together, the slots of the targets Run
// abandoned.
func (r *Rollout) releaseSlots(targets []int) {
	var wg sync.WaitGroup
	for _, i := range targets {
		wg.Go(func() { r.releaseSlot(i) })
	}
	wg.Wait()
}
