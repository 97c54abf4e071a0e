package fleet

import (
	"context"
	"errors"
	"fmt"
)

// errHalted is the error of targets a critical failure elsewhere stopped.
var errHalted = errors.New("a critical failure stopped the rollout")

// work runs the phases of target i and reports to Run.
func (r *Rollout) work(ctx context.Context, i int, results chan<- result) {
	res := result{i: i, outcome: Succeeded}
	t := r.targets[i]
	for p := range r.phases {
		if ctx.Err() != nil {
			res.outcome, res.err = Killed, fmt.Errorf("killed before %s: %w", r.phases[p].Name, context.Cause(ctx))
		} else if r.halt.Load() {
			res.outcome, res.err = Stopped, fmt.Errorf("stopped before %s: %w", r.phases[p].Name, errHalted)
		}
		if res.outcome != Succeeded {
			if p == 0 {
				res.outcome, res.err = Pending, nil
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
	results <- res
}

// runPhase runs phase p of target t, with its retries.
func (r *Rollout) runPhase(ctx context.Context, t Target, i, p int) (Outcome, int, error) {
	ph := &r.phases[p]
	var last error
	for attempt := 1; ; attempt++ {
		if p > 0 || attempt > 1 {
			r.phaseBegins(i, p, attempt, last)
		}
		err := r.attempt(ctx, ph, t)
		switch {
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

// attempt runs one attempt at a phase, turning a panic into an error.
func (r *Rollout) attempt(ctx context.Context, ph *Phase, t Target) (err error) {
	actx := ctx
	if ph.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, ph.Timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil && ctx.Err() == nil && actx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %v: %w", ph.Timeout, err)
		}
	}()
	return ph.Run(actx, t)
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
