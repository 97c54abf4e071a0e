package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/afterhours-go/afterhours/internal/fanout"
)

// Rollout runs phases of work against many targets, as a patch run across a
// fleet: with a concurrency limit, a limit per group, an error budget,
// critical phases that stop everything and escalate, and a killswitch.
//
// Build one with [NewRollout] and call [Rollout.Run] once. While it runs,
// [Rollout.Status], [Rollout.Report], [Rollout.Subscribe] and
// [Rollout.Kill] may be called from any goroutine, at any time; they are
// safe for concurrent use. A stopped rollout is resumed by a new Rollout
// built with [WithResume].
//
// Targets start in the order given, each as soon as there is room for it:
// fewer targets running than the concurrency, and fewer of its group than
// the group limit; a target whose group is full does not hold back the
// targets of other groups behind it. Nothing polls: starts follow the ends
// of targets, and, for a rollout run by several controllers (see
// [WithCoordinator]), the changes the coordinator signals; only a group
// waiting for a full group semaphore asks it again on a period (see
// [WithGroupSemaphore]).
type Rollout struct {
	cfg     config
	targets []Target
	phases  []Phase
	conc    int
	budget  int

	// Scheduling state, owned by Run's goroutine.
	groups  []group
	groupOf []int // target index to group index
	ready   groupHeap
	waiting []waiter // targets waiting for their site's window

	// estimate is the sum of the phases' estimates: what must fit in the
	// window of a target with a site.
	estimate time.Duration

	// halt is set by a failed critical phase, before Run learns of it, so
	// that no running target begins another phase.
	halt atomic.Bool

	// coord is the rollout's shared state: the one WithCoordinator gave,
	// else, with a status file, file (the claims log behind it); nil for
	// a rollout that has neither, whose own scheduling is the whole
	// truth. Set by Run before any target starts.
	coord Coordinator
	file  *fileCoordinator
	// claims is file's log.
	claims *claimLog
	// recordName names coord in errors: "claims log" or "coordinator".
	recordName string
	// blocked is set when the coordinator refused a claim for want of
	// room and nothing changed since the target was dispatched: no
	// target starts until the next change (Changes, or a local end).
	// changes counts the changes Run has seen. Owned by Run's goroutine.
	// seenAt is, for each target, how many changes Run had seen when it
	// dispatched the target (with a coordinator only).
	blocked bool
	changes uint64
	seenAt  []uint64
	// blockedGroups are the groups whose limit the coordinator found
	// full, out of the heap until the next change.
	blockedGroups []int
	// coordCtx is Run's context without its cancellation, for the calls
	// to the coordinator that the killswitch must not cut short.
	coordCtx context.Context
	// mark is the index of the first phase that is not idempotent, when
	// it is not the first phase: its beginning is recorded durably.
	mark int

	// With a group semaphore (WithGroupSemaphore): semGiven is set for
	// each target whose slot was given back as it ended; semEnds counts
	// the ends of targets Run has seen and semAt holds, for each target,
	// semEnds as it was dispatched; semBlocked is set when a group waits
	// for the retry. All but semGiven are owned by Run's goroutine.
	semGiven   []atomic.Bool
	semAt      []uint64
	semEnds    uint64
	semBlocked bool

	mu         sync.Mutex
	recs       []Record
	counts     Counts
	resumed    int
	state      State
	reasons    []string
	errs       []error
	started    time.Time
	endedAt    time.Time
	ran        bool
	ended      bool
	killCause  error
	overBudget bool
	cancel     context.CancelCauseFunc
	subs       fanout.Set[Event]
	fileErr    string
	runID      string
	recordErr  bool // the claims log failed: the rollout has stopped for it
	// sawCritical is set when the rollout stopped for a critical failure,
	// its own or (through the coordinator) another controller's.
	sawCritical bool
	// sharedKill is set when the killswitch came from the coordinator,
	// which needs no telling.
	sharedKill bool
}

// Escalation is what the [WithEscalation] function gets when a target fails
// a critical phase.
type Escalation struct {
	// Record is the failed target's final record: its phase, attempts,
	// error and times.
	Record Record
	// Err is the error the phase's action returned.
	Err error
	// Status is the rollout's status right after the failure.
	Status Status
}

// NewRollout returns a rollout of phases over targets. It fails, wrapping
// [ErrInvalidTarget], [ErrInvalidPhase] or [ErrInvalidOption], on a target
// with an empty or repeated ID or a bad tag, on a phase without a name or
// an action, and on a bad option. Targets and phases are copied: changing
// the slices afterwards does not change the rollout.
func NewRollout(targets []Target, phases []Phase, opts ...Option) (*Rollout, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := checkPhases(phases); err != nil {
		return nil, err
	}
	r := &Rollout{cfg: cfg, phases: append([]Phase(nil), phases...), mark: -1}
	for _, p := range r.phases {
		r.estimate += p.Estimate
	}
	for p := range r.phases {
		if !r.phases[p].Idempotent {
			if p > 0 {
				r.mark = p
			}
			break
		}
	}
	seen := make(map[string]bool, len(targets))
	for _, t := range targets {
		if err := checkTarget(t); err != nil {
			return nil, err
		}
		if seen[t.ID] {
			return nil, fmt.Errorf("%w: ID %q repeated", ErrInvalidTarget, t.ID)
		}
		seen[t.ID] = true
		if !cfg.selector.Matches(t.Tags) {
			continue
		}
		t.Tags = append([]string(nil), t.Tags...)
		r.targets = append(r.targets, t)
	}
	n := len(r.targets)
	r.conc = max(1, cfg.concurrency.ceilOf(n))
	r.budget = cfg.budget.floorOf(n)
	r.recs = make([]Record, n)
	for i, t := range r.targets {
		r.recs[i] = Record{ID: t.ID, Group: t.Group, Tags: t.Tags}
	}
	if cfg.sem != nil {
		r.semGiven = make([]atomic.Bool, n)
		r.semAt = make([]uint64, n)
	}
	r.carry()
	r.buildGroups()
	return r, nil
}

// carry takes the records of the report to resume from that are kept (see
// [WithResume]).
func (r *Rollout) carry() {
	prev := make(map[string]*Record)
	if rep := r.cfg.resume; rep != nil {
		for i := range rep.Targets {
			prev[rep.Targets[i].ID] = &rep.Targets[i]
		}
	}
	for i := range r.recs {
		rec := &r.recs[i]
		p := prev[rec.ID]
		if p == nil || !r.keeps(p) {
			r.counts.Pending++
			continue
		}
		rec.Outcome, rec.Phase, rec.Attempts = p.Outcome, p.Phase, p.Attempts
		rec.Start, rec.End, rec.Error, rec.Resumed = p.Start, p.End, p.Error, true
		if p.Outcome == Running {
			rec.Outcome, rec.End = Interrupted, time.Time{}
			rec.Error = "the report to resume from shows the target running: it may have run in part"
		}
		r.counts.add(rec.Outcome, 1)
		r.resumed++
	}
}

// keeps reports whether the resumed rollout keeps p's outcome rather than
// running its target again.
func (r *Rollout) keeps(p *Record) bool {
	switch p.Outcome {
	case Succeeded:
		return true
	case Failed, Critical:
		return !r.cfg.retryFailed
	case Interrupted, Abandoned:
		// Phase is the last phase the target began, as far as is known
		// for sure: the first phase that is not idempotent is recorded
		// before it begins.
		return !r.idempotentThrough(p.Phase)
	case Running:
		// A report taken while the target ran: any phase may have begun.
		return !r.idempotentThrough(r.phases[len(r.phases)-1].Name)
	}
	return false // pending, stopped, killed
}

// idempotentThrough reports whether every phase up to the one named phase
// is idempotent; false for a name that is not a phase.
func (r *Rollout) idempotentThrough(phase string) bool {
	for _, ph := range r.phases {
		if !ph.Idempotent {
			return false
		}
		if ph.Name == phase {
			return true
		}
	}
	return false
}

// Run runs the rollout and returns when no target runs any more: when
// every target has run, or after a stop (error budget, critical failure,
// killswitch, a durable record that cannot be written) once the running
// targets have finished, or been cancelled and returned or been abandoned
// (see [WithKillGrace] and [Phase].Timeout). It returns nil when the
// rollout completed, failures within the budget included; otherwise an
// error wrapping [ErrBudgetExhausted], [ErrCritical] or [ErrKilled] for
// each stop, or the durable record's error, joined, and the error of the
// last status file write, if that failed. The cancellation of ctx is the
// killswitch, as [Rollout.Kill] is.
//
// When the status file or the durable record beside it (see
// [WithStatusFile]) cannot be written as Run starts, or another Run holds
// that record, or the coordinator's Join fails (see [WithCoordinator]),
// Run starts nothing and returns that error. With a coordinator, Run also
// stops for the stops of the other controllers (their killswitch, the
// shared budget, their critical failures), and returns when its own
// targets are done: those another controller took are [Elsewhere]. A
// Rollout runs once: Run again returns [ErrStarted].
func (r *Rollout) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.ran {
		r.mu.Unlock()
		return ErrStarted
	}
	r.ran = true
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	if r.killCause != nil {
		cancel(r.killCause)
	}
	r.started = r.cfg.clock.Now()
	r.state = StateRunning
	if f := r.counts.Failures(); f > r.budget {
		r.overBudget = true
		r.stopLocked(StateBudgetExhausted, fmt.Errorf("%w: %d failures carried from the resumed report, budget %d", ErrBudgetExhausted, f, r.budget))
	}
	r.mu.Unlock()

	r.coord = r.cfg.coord
	err := func() error {
		if r.cfg.statusFile != "" {
			if err := r.openRecord(); err != nil {
				return err
			}
		}
		if r.coord == nil {
			return nil
		}
		return r.join(ctx)
	}()
	if err != nil {
		if r.file != nil {
			r.file.close()
		}
		r.mu.Lock()
		r.state = StateReady
		r.ended, r.endedAt = true, r.cfg.clock.Now()
		r.subs.Close()
		r.mu.Unlock()
		return err
	}
	var writer sync.WaitGroup
	stopWriter := make(chan struct{})
	if r.cfg.statusFile != "" {
		writer.Go(func() { r.writeEvery(stopWriter) })
	}

	r.coordCtx = context.WithoutCancel(runCtx)
	var kills sync.WaitGroup
	r.loop(runCtx, &kills)
	kills.Wait()

	close(stopWriter)
	writer.Wait()
	var closeErr error
	if r.file != nil {
		if err := r.file.close(); err != nil && !r.recordFailed() {
			closeErr = fmt.Errorf("fleet: claims log: %w", err)
		}
	}
	r.mu.Lock()
	r.ended, r.endedAt = true, r.cfg.clock.Now()
	if r.state == StateRunning {
		r.state = StateCompleted
	}
	errs := append(append([]error(nil), r.errs...), closeErr)
	r.mu.Unlock()
	if r.cfg.statusFile != "" {
		if err := r.writeStatus(); err != nil {
			errs = append(errs, err)
		}
	}
	r.mu.Lock()
	r.emitLocked(Event{Kind: EventEnded, At: r.endedAt, State: r.state, Reason: strings.Join(r.reasons, "; ")})
	r.subs.Close()
	r.mu.Unlock()
	return errors.Join(errs...)
}

// openRecord starts the durable record of a run with a status file: it
// removes the temporary files a crash left, writes the status file, and
// creates the claims log beside it. Nothing has started yet.
func (r *Rollout) openRecord() error {
	path := r.cfg.statusFile
	fail := func(err error) error {
		err = fmt.Errorf("fleet: claims log: %w", err)
		r.mu.Lock()
		r.fileErr = err.Error()
		r.mu.Unlock()
		return err
	}
	f, err := lockClaims(path + ClaimsSuffix)
	if err != nil {
		return fail(err)
	}
	if err := removeTemps(path); err != nil {
		r.cfg.logger.Warn("removing temporary status files left by a crash failed", "path", path, "err", err)
	}
	r.mu.Lock()
	r.runID = newRunID()
	r.mu.Unlock()
	// The status file first: it holds what was carried from a resumed
	// report, claims log included, before the new log replaces the old.
	if err := r.writeStatus(); err != nil {
		f.Close()
		return err
	}
	// With a coordinator of its own, the log holds nothing but a line
	// that names no run, so that LoadReport never reads the status
	// file's running targets as not begun: they are in the coordinator.
	logRun := r.runID
	if r.coord != nil {
		logRun = ""
	}
	if r.claims, err = startClaims(f, logRun); err != nil {
		f.Close()
		return fail(err)
	}
	if r.coord == nil {
		r.file = newFileCoordinator(r.claims)
		r.coord, r.recordName = r.file, "claims log"
	} else {
		// The coordinator is the durable record: the log only holds the
		// status file's lock.
		r.file = &fileCoordinator{log: r.claims}
	}
	return nil
}

// recordFailed reports whether the rollout stopped because its claims log
// failed.
func (r *Rollout) recordFailed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recordErr
}

// result is what a target's goroutine reports to Run when it is done.
type result struct {
	i        int
	outcome  Outcome
	phase    int
	attempts int
	err      error
	end      time.Time
	// recErr is the coordinator's error, when it could not record the
	// target's claim or result.
	recErr error
	// refused is the coordinator's refusal of the target's claim
	// (ErrTaken, ErrNoRoom, ErrStopped), or a *semWait; its first action
	// never ran.
	refused error
}

// loop starts targets as room frees until nothing runs any more.
func (r *Rollout) loop(ctx context.Context, kills *sync.WaitGroup) {
	// Room for every running target's result, so that a goroutine Run
	// abandoned never blocks on its send.
	results := make(chan result, r.conc)
	inflight := 0
	done := ctx.Done()
	var grace <-chan time.Time
	// wake fires when the first target waiting for its site's window may
	// start (at wakeAt).
	var wake <-chan time.Time
	var wakeAt time.Time
	var changes <-chan struct{}
	// semRetry fires when the groups waiting for the group semaphore try
	// again.
	var semRetry <-chan time.Time
	if r.coord != nil && (r.file == nil || r.coord != Coordinator(r.file)) {
		// Its own file coordinator has no other controller: every change
		// of it comes from this Rollout, which knows of it already.
		changes = r.coord.Changes(ctx)
	}
	for {
		if done != nil && ctx.Err() != nil {
			done = nil
			r.killed(context.Cause(ctx))
			r.tellKill(context.Cause(ctx), kills)
			if inflight > 0 {
				grace = r.cfg.clock.After(r.cfg.killGrace)
			}
		}
		inflight += r.dispatch(ctx, results, inflight)
		next := r.nextWaiter()
		if !next.IsZero() && (done == nil || r.stopping()) {
			next = time.Time{} // stopped: the waiting targets stay pending
		}
		if r.semBlocked && semRetry == nil {
			r.semBlocked, semRetry = false, r.cfg.clock.After(r.cfg.semRetry)
		}
		if inflight == 0 && next.IsZero() && !((changes != nil || semRetry != nil) && r.awaitsRoom(done == nil)) {
			return
		}
		if next.IsZero() {
			wake, wakeAt = nil, time.Time{}
		} else if wake == nil || next.Before(wakeAt) {
			wake, wakeAt = r.after(next), next
		}
		select {
		case res := <-results:
			inflight--
			r.finish(res)
		case <-done:
			// handled at the top of the loop
		case <-grace:
			r.abandon()
			return
		case <-wake:
			wake, wakeAt = nil, time.Time{}
			r.requeue(r.cfg.clock.Now())
		case <-changes:
			r.changed()
		case <-semRetry:
			semRetry = nil
			r.unblock()
		}
	}
}

// after returns a channel that receives once the rollout's clock reaches
// at. A clock moved to at or past it between reading the time and making
// the timer (a test's mock clock set from another goroutine) would leave
// the timer set that much later than at, to fire only when the clock moves
// again: the channel is then ready at once.
func (r *Rollout) after(at time.Time) <-chan time.Time {
	ch := r.cfg.clock.After(at.Sub(r.cfg.clock.Now()))
	if now := r.cfg.clock.Now(); !now.Before(at) {
		ready := make(chan time.Time, 1)
		ready <- now
		return ready
	}
	return ch
}

// finish records a target's outcome and stops the rollout when it must.
func (r *Rollout) finish(res result) {
	if w, ok := res.refused.(*semWait); ok {
		if res.recErr == nil {
			r.semRefused(res, w)
			return
		} // else the claim's give-back failed: the rollout stops for it
	} else if res.refused != nil {
		r.refused(res)
		return
	}
	if r.coord != nil || r.semAt != nil {
		r.unblock() // its end freed shared room
		r.semEnds++
	}
	r.mu.Lock()
	rec := &r.recs[res.i]
	r.counts.Running--
	r.counts.add(res.outcome, 1)
	rec.Outcome = res.outcome
	if res.outcome == Pending {
		// Stopped or killed before its first phase began: still to do.
		rec.Start, rec.Phase, rec.Attempts = time.Time{}, "", 0
	} else {
		rec.End, rec.Phase, rec.Attempts = res.end, r.phases[res.phase].Name, res.attempts
		if res.err != nil {
			rec.Error = res.err.Error()
		}
	}
	r.release(r.groupOf[res.i])
	if res.recErr != nil && !r.recordErr {
		r.recordErr = true
		r.stopLocked(StateRecordFailed, fmt.Errorf("fleet: %s: %w", r.recordName, res.recErr))
	}
	if r.subs.Len() > 0 {
		r.emitLocked(Event{Kind: EventFinished, At: res.end, Target: rec.ID, Group: rec.Group,
			Phase: rec.Phase, Attempt: rec.Attempts, Outcome: res.outcome, Err: res.err})
	}
	var esc *Escalation
	if res.outcome == Critical {
		r.sawCritical = true
		r.stopLocked(StateCritical, fmt.Errorf("%w: target %s failed in phase %s: %w", ErrCritical, rec.ID, rec.Phase, res.err))
		esc = &Escalation{Record: r.exportLocked(res.i), Err: res.err}
	}
	if f := r.counts.Failures(); r.coord == nil && !r.overBudget && f > r.budget {
		r.overBudget = true
		r.stopLocked(StateBudgetExhausted, fmt.Errorf("%w: %d failures, budget %d", ErrBudgetExhausted, f, r.budget))
	}
	r.mu.Unlock()
	if r.coord != nil && res.outcome.IsFailure() {
		// The coordinator counted the failure against the shared budget
		// as it recorded the end.
		r.sharedStop(r.coord.Stopped())
	}
	if esc != nil {
		r.mu.Lock()
		esc.Status = r.statusLocked(res.end)
		r.mu.Unlock()
		r.escalate(*esc)
	}
}

// stopping reports whether the rollout starts no more targets.
func (r *Rollout) stopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state.stopped() || r.halt.Load()
}

// stopLocked stops new starts for err's reason: the rollout's state becomes
// st unless it is graver already.
func (r *Rollout) stopLocked(st State, err error) {
	r.errs = append(r.errs, err)
	r.reasons = append(r.reasons, strings.TrimPrefix(err.Error(), "fleet: "))
	r.state = max(r.state, st)
	r.cfg.logger.Warn("rollout stopping", "state", st.String(), "reason", err.Error())
	r.emitLocked(Event{Kind: EventStopping, At: r.cfg.clock.Now(), State: r.state, Reason: err.Error()})
}

// killed stops the rollout for the killswitch, whose cause is cause.
func (r *Rollout) killed(cause error) {
	err := cause
	if !errors.Is(cause, ErrKilled) {
		err = fmt.Errorf("%w: %w", ErrKilled, cause)
	}
	r.mu.Lock()
	r.stopLocked(StateKilled, err)
	r.mu.Unlock()
}

// abandon records every target still running after the kill grace as
// abandoned.
func (r *Rollout) abandon() {
	r.mu.Lock()
	var ends []Record
	var slots []int
	defer func() {
		r.mu.Unlock()
		r.endAll(ends)
		r.releaseSlots(slots)
	}()
	now := r.cfg.clock.Now()
	msg := fmt.Sprintf("action had not returned %v after the killswitch", r.cfg.killGrace)
	for i := range r.recs {
		rec := &r.recs[i]
		if rec.Outcome != Running {
			continue
		}
		if r.semFor(i) {
			slots = append(slots, i)
		}
		rec.Outcome, rec.End, rec.Error = Abandoned, now, msg
		r.counts.Running--
		r.counts.Abandoned++
		if r.coord != nil {
			ends = append(ends, *rec)
		}
		r.cfg.logger.Error("target abandoned", "target", rec.ID, "phase", rec.Phase)
		if r.subs.Len() > 0 {
			r.emitLocked(Event{Kind: EventFinished, At: now, Target: rec.ID, Group: rec.Group,
				Phase: rec.Phase, Attempt: rec.Attempts, Outcome: Abandoned})
		}
	}
}

// escalate calls the escalation function, if any, and logs the escalation.
func (r *Rollout) escalate(e Escalation) {
	r.cfg.logger.Error("critical failure", "target", e.Record.ID, "phase", e.Record.Phase, "err", e.Err)
	if r.cfg.escalate == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			r.cfg.logger.Error("escalation function panicked", "target", e.Record.ID, "panic", fmt.Sprint(p))
		}
	}()
	r.cfg.escalate(e)
}

// Kill is the killswitch: it stops new starts and cancels the context of
// every running action at once, before it returns. Run then waits for the
// cancelled actions to return, for at most the kill grace, and returns an
// error wrapping [ErrKilled] and reason. Targets whose running phase was
// cancelled are recorded as [Killed]. Kill before Run makes Run start
// nothing; Kill after Run returned does nothing; only the first reason is
// kept. With a coordinator (see [WithCoordinator]), Run then throws the
// coordinator's killswitch too, which stops every controller.
func (r *Rollout) Kill(reason string) {
	cause := ErrKilled
	if reason != "" {
		cause = fmt.Errorf("%w: %s", ErrKilled, reason)
	}
	r.mu.Lock()
	if r.ended || r.killCause != nil {
		r.mu.Unlock()
		return
	}
	r.killCause = cause
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}
