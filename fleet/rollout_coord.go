package fleet

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// What a Rollout does with its Coordinator. Run joins it before any target
// starts, each target's goroutine claims, marks and ends through it, and
// Run's loop watches its Changes: a change unblocks the claims refused for
// room and brings the stops of other controllers (killswitch, budget,
// critical failure) to this one.

// coordTimeout bounds the calls to the coordinator that nothing else
// bounds: telling it of the killswitch, and the ends of abandoned targets.
const coordTimeout = 10 * time.Second

// join joins the coordinator with the rollout's plan and carries the
// records it already holds: their targets do not run here.
func (r *Rollout) join(ctx context.Context) error {
	if r.recordName == "" {
		r.recordName = "coordinator"
	}
	r.mu.Lock()
	if r.runID == "" {
		r.runID = newRunID()
	}
	plan := CoordPlan{Run: r.runID, Concurrency: r.conc, Budget: r.budget, Failures: r.counts.Failures(),
		GroupLimits: make(map[string]int)}
	r.mu.Unlock()
	for _, g := range r.groups {
		if g.name != "" && g.limit != unlimited {
			plan.GroupLimits[g.name] = g.limit
		}
	}
	r.seenAt = make([]uint64, len(r.targets))
	recs, err := r.coord.Join(ctx, plan)
	if err != nil {
		err = fmt.Errorf("fleet: %s: %w", r.recordName, err)
		r.mu.Lock()
		r.fileErr = err.Error()
		r.mu.Unlock()
		return err
	}
	if len(recs) > 0 {
		index := make(map[string]int, len(r.recs))
		for i := range r.recs {
			index[r.recs[i].ID] = i
		}
		r.mu.Lock()
		for _, p := range recs {
			i, ok := index[p.ID]
			if !ok || r.recs[i].Outcome != Pending {
				continue
			}
			rec := &r.recs[i]
			rec.Outcome, rec.Phase, rec.Attempts = p.Outcome, p.Phase, p.Attempts
			rec.Start, rec.End, rec.Error, rec.Resumed = p.Start, p.End, p.Error, true
			r.counts.Pending--
			r.counts.add(rec.Outcome, 1)
			r.resumed++
		}
		r.mu.Unlock()
	}
	r.sharedStop(r.coord.Stopped())
	return nil
}

// refused handles a claim the coordinator refused: the target's first
// action never ran. A target another controller took is Elsewhere; one
// refused for room goes back to the head of its group's queue, and, when
// nothing changed since it was dispatched, no target (or none of its
// group) starts until something does; one refused because the rollout
// stopped goes back to pending, and the stop comes here.
func (r *Rollout) refused(res result) {
	r.mu.Lock()
	gi := r.groupOf[res.i]
	switch {
	case errors.Is(res.refused, ErrTaken):
		rec := &r.recs[res.i]
		rec.Outcome, rec.Start, rec.Phase, rec.Attempts = Elsewhere, time.Time{}, "", 0
		r.counts.Running--
		r.counts.Elsewhere++
		r.release(gi)
		r.mu.Unlock()
		return
	case errors.Is(res.refused, ErrNoRoom) && r.seenAt[res.i] == r.changes:
		if errors.Is(res.refused, ErrGroupFull) {
			r.blockGroupLocked(gi)
		} else {
			r.blocked = true
		}
	case errors.Is(res.refused, ErrStopped):
		// Until the stop reaches this controller's state (sharedStop,
		// below), or the next change: never claim again at once.
		r.blocked = true
	}
	r.putBackLocked(res.i)
	r.mu.Unlock()
	if errors.Is(res.refused, ErrStopped) {
		err := r.coord.Stopped()
		if err == nil {
			err = res.refused
		}
		r.sharedStop(err)
	}
}

// putBackLocked makes target i, dispatched but not started, pending
// again, puts it back at the head of its group's queue, and frees its
// place in the group. The caller holds r.mu.
func (r *Rollout) putBackLocked(i int) {
	rec := &r.recs[i]
	rec.Outcome, rec.Start, rec.Phase, rec.Attempts = Pending, time.Time{}, "", 0
	r.counts.Running--
	r.counts.Pending++
	gi := r.groupOf[i]
	g := &r.groups[gi]
	g.running--
	if g.head > 0 {
		g.head--
		g.queue[g.head] = i
	} else {
		g.queue = append([]int{i}, g.queue...)
	}
	if g.inHeap {
		heap.Init(&r.ready) // its head changed
	} else if !g.blocked && g.running < g.limit {
		g.inHeap = true
		heap.Push(&r.ready, gi)
	}
}

// blockGroupLocked stops group gi from starting targets until unblocked.
// The caller holds r.mu.
func (r *Rollout) blockGroupLocked(gi int) {
	if g := &r.groups[gi]; !g.blocked {
		g.blocked = true
		r.blockedGroups = append(r.blockedGroups, gi)
	}
}

// unblock lets the targets refused for room be claimed again.
func (r *Rollout) unblock() {
	r.blocked = false
	for _, gi := range r.blockedGroups {
		g := &r.groups[gi]
		g.blocked = false
		if !g.inHeap && g.head < len(g.queue) && g.running < g.limit {
			g.inHeap = true
			heap.Push(&r.ready, gi)
		}
	}
	r.blockedGroups = r.blockedGroups[:0]
}

// awaitsRoom reports whether targets refused for room wait for a change
// of the coordinator's state: not when the rollout stopped (killed tells
// of the killswitch). Run asks only when it watches the coordinator's
// changes: without (its own file coordinator), no change would come.
func (r *Rollout) awaitsRoom(killed bool) bool {
	if !r.blocked && len(r.blockedGroups) == 0 {
		return false
	}
	return !killed && !r.stopping()
}

// changed handles a change of the coordinator's shared state.
func (r *Rollout) changed() {
	r.changes++
	r.unblock()
	r.sharedStop(r.coord.Stopped())
}

// sharedStop stops this controller for the stops err (from
// Coordinator.Stopped) holds that it has not stopped for yet: the
// killswitch cancels every running action, as Kill does; a spent budget
// or another controller's critical failure stops new starts.
func (r *Rollout) sharedStop(err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	if errors.Is(err, ErrBudgetExhausted) && !r.overBudget {
		r.overBudget = true
		r.stopLocked(StateBudgetExhausted, part(err, ErrBudgetExhausted))
	}
	if errors.Is(err, ErrCritical) && !r.sawCritical {
		r.sawCritical = true
		r.halt.Store(true)
		r.stopLocked(StateCritical, part(err, ErrCritical))
	}
	var cancel context.CancelCauseFunc
	var cause error
	if errors.Is(err, ErrKilled) && r.killCause == nil && !r.ended {
		cause = part(err, ErrKilled)
		r.killCause, r.sharedKill, cancel = cause, true, r.cancel
	}
	r.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

// part returns the error of the errors joined in err that wraps target,
// or err.
func part(err, target error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if errors.Is(e, target) {
				return e
			}
		}
	}
	return err
}

// tellKill throws the coordinator's killswitch for the killswitch of this
// controller, whose cause is cause, unless it came from the coordinator.
// The call runs beside Run's loop (the running actions are cancelled
// already); Run waits for it before it returns.
func (r *Rollout) tellKill(cause error, kills *sync.WaitGroup) {
	r.mu.Lock()
	tell := r.coord != nil && !r.sharedKill
	r.mu.Unlock()
	if !tell {
		return
	}
	reason := strings.TrimPrefix(strings.TrimPrefix(cause.Error(), ErrKilled.Error()), ": ")
	kills.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), coordTimeout)
		defer cancel()
		if err := r.coord.Kill(ctx, reason); err != nil {
			r.cfg.logger.Error("telling the coordinator of the killswitch failed", "err", err)
		}
	})
}

// endAll records the ends of abandoned targets, at once: a coordinator
// that makes them durable together (the claims log) does it in one go.
func (r *Rollout) endAll(recs []Record) {
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), coordTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, rec := range recs {
		wg.Go(func() {
			if err := r.coord.End(ctx, rec); err != nil {
				r.cfg.logger.Error("recording an abandoned target failed", "target", rec.ID, "err", err)
			}
		})
	}
	wg.Wait()
}
