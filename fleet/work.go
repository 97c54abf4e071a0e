package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errHalted is the error of targets a critical failure elsewhere stopped.
var errHalted = errors.New("a critical failure stopped the rollout")

// work runs the phases of target i and reports to Run. With a claims log,
// the target is claimed durably before its first action runs, the first
// phase that is not idempotent is marked durably before it begins, and the
// result is durable before Run learns of it, so that a status file never
// shows an end the log lacks.
func (r *Rollout) work(ctx context.Context, i int, results chan<- result) {
	res := result{i: i, outcome: Succeeded}
	t := r.targets[i]
	var start time.Time // with a claims log, once claimed
	held := false       // the target holds its group semaphore's slot
	for p := range r.phases {
		if ctx.Err() != nil {
			res.outcome, res.err = Killed, fmt.Errorf("killed before %s: %w", r.phases[p].Name, context.Cause(ctx))
		} else if r.halt.Load() {
			res.outcome, res.err = Stopped, fmt.Errorf("stopped before %s: %w", r.phases[p].Name, errHalted)
		} else if r.coord != nil && (p == 0 || p == r.mark) {
			r.recordBegin(ctx, &res, p, &start)
		}
		if p == 0 && res.outcome == Succeeded && r.semAt != nil && t.Group != "" {
			held = r.takeSlot(ctx, &res)
		}
		if res.outcome != Succeeded {
			if p == 0 {
				res.outcome, res.err = Pending, nil // its first action never ran
			}
			break
		}
		res.phase = p
		res.outcome, res.attempts, res.err = r.runPhase(ctx, t, i, p)
		if res.outcome != Succeeded {
			break
		}
	}
	res.end = r.cfg.clock.Now()
	if !start.IsZero() {
		r.recordEnd(&res, start)
	}
	if held {
		r.releaseSlot(i)
	}
	results <- res
}

// recordBegin tells the coordinator that the target of res begins phase
// p: the claim, for the first phase, and the mark of the first phase that
// is not idempotent, both durable when it returns. It sets *start to the
// target's start once claimed, and stops the target in res when the
// coordinator refuses the claim or fails, or the killswitch was thrown
// while the claim was made. The calls are not cancelled by the
// killswitch: a claim made must be known to be made.
// (Kept out of work, whose stack every target's goroutine carries.)
func (r *Rollout) recordBegin(ctx context.Context, res *result, p int, start *time.Time) {
	id, name := r.targets[res.i].ID, r.phases[p].Name
	cctx := r.coordCtx
	var err error
	if p == 0 {
		r.mu.Lock()
		claim := r.recs[res.i]
		r.mu.Unlock()
		claim.Tags = nil
		err = r.coord.Claim(cctx, claim)
		switch {
		case err == nil:
			*start = claim.Start
			if !r.semFor(res.i) { // else once it holds its slot
				r.mu.Lock()
				r.startedLocked(&r.recs[res.i])
				r.mu.Unlock()
			}
			if ctx.Err() != nil {
				res.outcome = Killed // its first action never runs
			}
			return
		case errors.Is(err, ErrTaken), errors.Is(err, ErrNoRoom), errors.Is(err, ErrStopped):
			res.refused, res.outcome = err, Stopped
			return
		}
	} else {
		err = r.coord.Mark(cctx, id, name)
	}
	if err != nil {
		res.recErr = err
		res.outcome, res.err = Stopped, fmt.Errorf("stopped before %s: the %s failed: %w", name, r.recordName, err)
	}
}

// recordEnd tells the coordinator the result in res, which frees the
// target's room, and waits until it is durable.
func (r *Rollout) recordEnd(res *result, start time.Time) {
	t := &r.targets[res.i]
	rec := Record{ID: t.ID, Group: t.Group, Outcome: res.outcome}
	if res.outcome != Pending {
		rec.Phase, rec.Attempts, rec.Start, rec.End = r.phases[res.phase].Name, res.attempts, start, res.end
	}
	if res.err != nil {
		rec.Error = res.err.Error()
	}
	if err := r.coord.End(r.coordCtx, rec); err != nil && res.recErr == nil {
		res.recErr = err
	}
}

// startOf returns target i's start, as dispatch set it.
func (r *Rollout) startOf(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recs[i].Start
}

// runPhase runs phase p of target t, with its retries.
func (r *Rollout) runPhase(ctx context.Context, t Target, i, p int) (Outcome, int, error) {
	ph := &r.phases[p]
	var last error
	for attempt := 1; ; attempt++ {
		if p > 0 || attempt > 1 {
			r.phaseBegins(i, p, attempt, last)
		}
		abandoned, err := r.attempt(ctx, ph, t)
		switch {
		case abandoned:
			r.abandoned(i, p, attempt, err)
			if ph.Critical {
				r.halt.Store(true)
				return Critical, attempt, err
			}
			return Failed, attempt, err
		case err == nil:
			return Succeeded, attempt, nil
		case ctx.Err() != nil:
			if errors.Is(err, context.Canceled) {
				err = context.Cause(ctx)
			}
			return Killed, attempt, err
		case attempt > ph.Retries:
			if ph.Critical {
				r.halt.Store(true)
				return Critical, attempt, err
			}
			return Failed, attempt, err
		case r.halt.Load():
			return Stopped, attempt, fmt.Errorf("%w (not retried: %w)", err, errHalted)
		}
		last = err
		if ph.RetryDelay > 0 {
			select {
			case <-r.cfg.clock.After(ph.RetryDelay):
			case <-ctx.Done():
				return Killed, attempt, fmt.Errorf("%w (while waiting to retry after: %v)", context.Cause(ctx), err)
			}
		}
	}
}

// attempt runs one attempt at a phase. With a timeout, the action runs in
// a goroutine of its own, so that an action that does not return when its
// deadline passes can be abandoned: abandoned is true when it had not
// returned the kill grace after its deadline. After the killswitch, Run
// itself abandons what does not return (see Rollout.abandon).
func (r *Rollout) attempt(ctx context.Context, ph *Phase, t Target) (abandoned bool, err error) {
	if ph.Timeout > 0 {
		return r.attemptTimed(ctx, ph, t)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return false, ph.Run(ctx, t)
}

// attemptTimed is attempt with a timeout. (Kept out of attempt, whose stack
// every action carries.)
func (r *Rollout) attemptTimed(ctx context.Context, ph *Phase, t Target) (abandoned bool, err error) {
	actx, cancel := context.WithTimeout(ctx, ph.Timeout)
	defer cancel()
	done := make(chan error, 1) // the abandoned goroutine never blocks
	go func() { done <- call(actx, ph, t) }()
	timedOut := func(err error) error {
		if err != nil && ctx.Err() == nil && actx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %v: %w", ph.Timeout, err)
		}
		return err
	}
	select {
	case err := <-done:
		return false, timedOut(err)
	case <-actx.Done():
	}
	if ctx.Err() != nil {
		return false, <-done // the killswitch: Run's grace applies
	}
	select {
	case err := <-done:
		return false, timedOut(err)
	case <-r.cfg.clock.After(r.cfg.killGrace):
		return true, fmt.Errorf("abandoned: the action had not returned %v after its timeout of %v", r.cfg.killGrace, ph.Timeout)
	}
}

// call calls the phase's action, turning a panic into an error.
func call(ctx context.Context, ph *Phase, t Target) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return ph.Run(ctx, t)
}

// abandoned reports an attempt abandoned after its timeout.
func (r *Rollout) abandoned(i, p, attempt int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &r.recs[i]
	r.cfg.logger.Error("attempt abandoned after its timeout", "target", rec.ID, "phase", r.phases[p].Name, "attempt", attempt, "err", err)
	r.emitLocked(Event{Kind: EventAbandoned, At: r.cfg.clock.Now(), Target: rec.ID, Group: rec.Group,
		Phase: r.phases[p].Name, Attempt: attempt, Err: err})
}

// phaseBegins records that target i begins an attempt at phase p.
func (r *Rollout) phaseBegins(i, p, attempt int, last error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := &r.recs[i]
	if rec.Outcome != Running {
		return // abandoned
	}
	rec.Phase, rec.Attempts = r.phases[p].Name, attempt
	if r.subs.Len() > 0 {
		r.emitLocked(Event{Kind: EventPhase, At: r.cfg.clock.Now(), Target: rec.ID, Group: rec.Group,
			Phase: rec.Phase, Attempt: attempt, Err: last})
	}
}
