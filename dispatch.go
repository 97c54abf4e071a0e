package afterhours

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// advance does everything due at now: it rolls the cycle over, stops runs
// past their deadlines, starts the timers, commands, slot tasks and steps
// that may start, and notifies the failures of a window that ended. The
// caller holds e.mu. It returns the first error of the store.
func (e *Executor) advance(now time.Time) error {
	e.next = time.Time{}
	if e.cur == nil {
		return nil
	}
	for !now.Before(e.cur.c.Span.End) {
		if err := e.rollover(now); err != nil {
			return err
		}
	}
	for _, cy := range e.cycles() {
		for _, it := range cy.running {
			if it.stopCause == "" && !now.Before(it.deadline) {
				e.stop(it, it.deadlineCause, false)
			}
		}
	}
	if e.j.meta.Killed == nil {
		cy := e.cur
		e.dispatchTimers(cy, now)
		e.dispatchCommands(cy, now)
		e.dispatchSlots(cy, now)
		e.dispatchSteps(cy, now)
		e.startLaunched()
	}
	e.noticeWindow(e.cur, now)
	err := e.storeErr
	e.storeErr = nil
	return err
}

// wakeAt asks for a wake at t (the earliest asked wins).
func (e *Executor) wakeAt(t time.Time) {
	if e.next.IsZero() || t.Before(e.next) {
		e.next = t
	}
}

// nextWake returns when the loop must wake next: the earliest of what the
// dispatchers asked for, the deadlines of the runs, and the cycle's end.
func (e *Executor) nextWake(now time.Time) time.Time {
	if e.cur == nil {
		return time.Time{}
	}
	e.wakeAt(e.cur.c.Span.End)
	for _, cy := range e.cycles() {
		for _, it := range cy.running {
			if it.stopCause == "" {
				e.wakeAt(it.deadline)
			}
		}
	}
	return e.next
}

// save writes cy's journal, keeping the first error for the loop.
func (e *Executor) save(cy *cycleRun) {
	if err := e.j.saveCycle(cy.log); err != nil && e.storeErr == nil {
		e.storeErr = err
	}
}

func (e *Executor) saveMeta() {
	if err := e.j.saveMeta(); err != nil && e.storeErr == nil {
		e.storeErr = err
	}
}

func (e *Executor) selfUpdateRunning() bool {
	for _, cy := range e.cycles() {
		for _, it := range cy.running {
			if it.task.kind == SelfUpdate {
				return true
			}
		}
	}
	return false
}

// dispatchTimers starts the timer runs due: of those due, the latest; the
// earlier ones were missed. A run due while the timer runs, or while the
// self-update runs, is skipped. Only the timers due are looked at.
func (e *Executor) dispatchTimers(cy *cycleRun, now time.Time) {
	loc := cy.p.Site.loc
	due := cy.timers.due(now, true)
	var running map[string]*item
	if len(due) > 0 {
		running = cy.runningTimers()
	}
	for _, q := range due {
		n, first, beforeLast, at, after, more := q.occurrences(now, cy.c.Span.End, true, loc, &cy.days)
		if more {
			q.next = after.UnixNano()
			cy.timers.push(q)
		}
		if n > 1 {
			e.addTimerRecord(cy, q.task, first, beforeLast, n-1, ReasonMissed, "missed: the executor was not awake", now)
		}
		switch last := running[q.task.Name]; {
		case last != nil:
			e.addTimerRecord(cy, q.task, at, at, 1, ReasonOverlap, "its last run, started "+hhmm(last.rec.Start.In(loc))+", still runs", now)
		case e.selfUpdateRunning():
			e.addTimerRecord(cy, q.task, at, at, 1, ReasonSelfUpdate, "the self-update runs alone", now)
		default:
			t := q.task
			rec := &Record{Task: t.Name, Kind: Timer, State: StateToDo, Estimate: Duration(t.estimate),
				PlannedStart: at, PlannedEnd: at.Add(t.estimate), ExitCode: -1}
			cy.log.Records = append(cy.log.Records, rec)
			it := &item{cy: cy, rec: rec, task: t, est: t.estimate}
			e.launch(it, now)
		}
	}
	if at, ok := cy.timers.nextWake(loc); ok {
		e.wakeAt(at)
	}
}

// dispatchCommands starts the first queued command when no command runs
// and the self-update does not.
func (e *Executor) dispatchCommands(cy *cycleRun, now time.Time) {
	for e.cmdRun == nil && len(e.j.meta.Queue) > 0 && !e.selfUpdateRunning() {
		cmd := e.j.meta.Queue[0]
		rec := &Record{Task: cmd.name(), Kind: CommandKind, Command: cmd.ID, State: StateToDo, ExitCode: -1,
			Estimate: Duration(cmdTimeout(cmd)), PlannedStart: cmd.Accepted}
		cy.log.Records = append(cy.log.Records, rec)
		if cmd.Lost {
			rec.State, rec.Error = StateFailed, "lost: its Go action did not survive the executor's restart (not started)"
			cy.log.touch(rec)
			e.save(cy)
			e.j.meta.Queue = e.j.meta.Queue[1:]
			e.saveMeta()
			e.emitRecord(EventFailed, cy.day, rec, now)
			continue
		}
		it := &item{cy: cy, rec: rec, task: cmd.task(), cmd: cmd}
		e.cmdRun = it
		e.launch(it, now)
		e.startLaunched() // the run is in the journal before the queue loses it
		e.j.meta.Queue = e.j.meta.Queue[1:]
		e.saveMeta()
	}
}

func cmdTimeout(c *Command) time.Duration {
	if c.Timeout > 0 {
		return time.Duration(c.Timeout)
	}
	return DefaultCommandTimeout
}

// dispatchSlots starts slot tasks at their slot's start, one after another,
// and records as missed those whose slot ended first.
func (e *Executor) dispatchSlots(cy *cycleRun, now time.Time) {
	if cy.stopped != "" {
		return
	}
	for _, sr := range cy.slots {
		var next *item
		busy := false
		for _, it := range sr.items {
			if it.state == running {
				busy = true
			}
			if it.state == pending && next == nil {
				next = it
			}
		}
		switch {
		case next == nil:
			continue
		case now.Before(sr.slot.Run.Start):
			e.wakeAt(sr.slot.Run.Start)
			continue
		case !now.Before(sr.slot.Run.End):
			for _, it := range sr.items {
				if it.state == pending {
					e.deferItem(it, now, ReasonMissed, "the slot ended at "+hhmm(sr.slot.Run.End.In(cy.p.Site.loc))+" before it could start")
				}
			}
			e.save(cy)
			continue
		}
		e.wakeAt(sr.slot.Run.End)
		if busy || next.checking || e.selfUpdateRunning() {
			continue
		}
		if next.recheckAt.After(now) {
			e.wakeAt(next.recheckAt)
			continue
		}
		if next.allowedGen != e.wakes {
			e.startCheck(next, now, now.Add(next.est), sr.slot.Run.End, cy.p.anytime(sr.slot.Token))
			continue
		}
		e.release(next, now)
		e.launch(next, now)
	}
}

// anytime reports whether the token may run in business hours.
func (p *Profile) anytime(token string) bool {
	for _, t := range p.Sharing {
		if t.Token == token {
			return t.Anytime
		}
	}
	return false
}

func phase(k Kind) int {
	switch k {
	case Housekeeping:
		return 0
	case Update:
		return 1
	}
	return 2
}

// dispatchSteps starts the steps of the sequence that may start, in plan
// order: the first step not started holds back the ones after it, unless
// it can no longer fit, in which case it is deferred.
func (e *Executor) dispatchSteps(cy *cycleRun, now time.Time) {
	if cy.stopped != "" || cy.c.Window.Empty() {
		return
	}
	if e.cmdRun != nil || len(e.j.meta.Queue) > 0 {
		return // commands first; their end wakes the loop
	}
	// Steps never become pending again: those before the first pending
	// one are passed over once, not at every wake.
	for cy.nextStep < len(cy.steps) && cy.steps[cy.nextStep].state != pending {
		cy.nextStep++
	}
	if cy.nextStep == len(cy.steps) {
		return
	}
	changed := false
	defer func() {
		if changed {
			e.save(cy)
		}
	}()
	var runningSteps []*item
	var runningOther []*item
	for _, c := range e.cycles() {
		for _, it := range c.running {
			switch it.task.kind {
			case Housekeeping, Update, SelfUpdate:
				runningSteps = append(runningSteps, it)
			default:
				runningOther = append(runningOther, it)
			}
		}
	}
	for _, it := range cy.steps[cy.nextStep:] {
		if it.state != pending {
			continue
		}
		t := it.task
		res := stepRes(t)
		if t.kind == SelfUpdate {
			if len(runningSteps)+len(runningOther) > 0 {
				return
			}
			// The plan assumed the updates before it complete; the
			// self-update starts only once every pending update has.
			if u := cy.p.pendingUpdate(e.j, cy.day); u != nil {
				changed = true
				e.deferItem(it, now, ReasonUpdatesPending, "waits for update "+u.Name+" (not completed in the cycle): the self-update runs once every update is completed")
				continue
			}
		}
		for _, r := range runningSteps {
			if phase(r.task.kind) < phase(t.kind) || r.task.res.contends(res) {
				return
			}
		}
		if len(runningSteps) >= cy.p.lanes {
			return
		}
		for _, r := range runningOther {
			if r.task.kind == Shared && r.task.res.contends(res) {
				return
			}
		}
		win := cy.c.Window
		if now.Before(win.Start) {
			e.wakeAt(win.Start)
			return
		}
		e.wakeAt(win.End) // to defer it when it can no longer fit
		start, ok := cy.fit(res, it.task.down, now, it.est)
		if !ok {
			changed = true
			reason, detail := e.noFit(it, res, now)
			e.deferItem(it, now, reason, detail)
			continue
		}
		if start.After(now) {
			e.hold(it, now, "hold", "waits for a contending slot's hold until "+hhmm(start.In(cy.p.Site.loc)))
			e.wakeAt(start)
			return
		}
		if it.checking {
			return
		}
		if it.recheckAt.After(now) {
			e.wakeAt(it.recheckAt)
			e.wakeAt(win.End.Add(-it.est).Add(time.Nanosecond)) // when it stops fitting
			return
		}
		if it.allowedGen != e.wakes {
			e.startCheck(it, now, now.Add(it.est), time.Time{}, false)
			return
		}
		e.release(it, now)
		e.launch(it, now)
		runningSteps = append(runningSteps, it)
	}
}

// noFit returns the reason and detail of a step that can no longer fit at
// now; res is what it contends with.
//
// # Missed or window-full
//
// A step that can no longer fit is missed ([ReasonMissed]) when its last
// chance to start went by while the executor was not awake, and
// window-full ([ReasonWindowFull]) when it went by while the executor was
// awake. The executor is not awake from the instant a timer it armed was
// due to the wake, when that wake comes more than a minute late (the
// clock jumped, the machine was suspended), and before [Executor.Run]
// starts. So at a late wake, a step that would still have fitted from the
// instant the executor should have woken (or from the window's start, if
// later) is missed, its detail saying when the executor woke; one that no
// longer fitted even then stopped fitting while the executor was awake
// (earlier steps ran long, it waited for a slot's hold) and is
// window-full. A step kept waiting by a constraint until it no longer
// fits is deferred with that constraint's reason. At Run's start, and
// when a cycle opens after a late wake, planning applies the same rule
// from the cycle's start (see Executor.plan). Missed one-offs carry over
// to the next cycle, as window-full ones do.
func (e *Executor) noFit(it *item, res resources, now time.Time) (string, string) {
	cy := it.cy
	end := hhmm(cy.c.Window.End.In(cy.p.Site.loc))
	switch {
	case it.waitName != "":
		return ReasonConstraint + it.waitName, fmt.Sprintf("waited since %s (%s); %s no longer fits before %s",
			hhmm(it.waitSince.In(cy.p.Site.loc)), it.waitReason, shortDuration(it.est), end)
	case cy.fitsFrom(e.slept, res, it.task.down, it.est):
		return ReasonMissed, wokeLate(cy, now, it.est, wake{}, it.task.kind)
	}
	return ReasonWindowFull, "needs " + shortDuration(it.est) + ", no room from " + hhmm(now.In(cy.p.Site.loc)) + " to the window's end at " + end + carried(it.task.kind)
}

// stepRes is what a step contends with: the self-update, everything.
func stepRes(t *Task) resources {
	if t.kind == SelfUpdate {
		return resources{any: true}
	}
	return t.res
}

// fit returns the earliest instant at or after now at which a run of est
// that contends with res avoids the cycle's holds and the downtimes of the
// resources in down, and ends by the window's end, as planning places
// steps. (At run time any downtime of a resource a step uses makes it wait:
// the plan already deferred what its action keeps from running.)
func (cy *cycleRun) fit(res resources, down []string, now time.Time, est time.Duration) (time.Time, bool) {
	at, d, end := nanos(now), int64(est), nanos(cy.c.Window.End)
	for {
		stop := at + d
		if stop > end {
			return time.Unix(0, at), false
		}
		next := at
		for _, h := range cy.holds {
			if h.start < stop && h.end > at && h.res.contends(res) {
				next = max(next, h.end)
			}
		}
		for _, o := range cy.plan.Downtimes {
			if nanos(o.Start) < stop && nanos(o.End) > at && slices.Contains(down, o.Resource) {
				next = max(next, nanos(o.End))
			}
		}
		if next == at {
			return time.Unix(0, at).In(now.Location()), true
		}
		at = next
	}
}

// hold marks an item as held, with an event the first time.
func (e *Executor) hold(it *item, now time.Time, reason, detail string) {
	if it.held == reason {
		return
	}
	it.held = reason
	e.emit(Event{Kind: EventHeld, At: now, Day: it.cy.day, Task: it.task.Name, TaskKind: it.task.kind, Reason: reason, Detail: detail})
}

// release ends an item's hold, with an event.
func (e *Executor) release(it *item, now time.Time) {
	if it.held == "" {
		return
	}
	it.held = ""
	e.emit(Event{Kind: EventReleased, At: now, Day: it.cy.day, Task: it.task.Name, TaskKind: it.task.kind})
}

// checkResult is the verdict of the constraints on an item.
type checkResult struct {
	it      *item
	verdict Verdict
	name    string
	grants  []grant // of the Releasers that allowed, when all allowed
}

// grant is what a Releaser holds for a start it allowed.
type grant struct {
	r Releaser
	c Check
}

// Backoff of re-checks after a constraint asked to wait.
const (
	firstBackoff = 30 * time.Second
	maxBackoff   = 5 * time.Minute
)

// startCheck asks the constraints about starting it now, on a goroutine:
// checks may take time and must not hold up commands and timers.
func (e *Executor) startCheck(it *item, now, end, limit time.Time, anytime bool) {
	if !limit.IsZero() && end.After(limit) {
		end = limit
	}
	it.checking = true
	e.inflight++
	c := Check{Task: it.task, Day: it.cy.day, Start: now, End: end, Anytime: anytime}
	cs := slices.Clone(e.constraints)
	ctx := e.runCtx
	go func() {
		v, name, grants := checkAll(ctx, cs, c)
		if v.Decision != Allow {
			e.releaseGrants(grants) // what the constraints before allowed
			grants = nil
		}
		e.checked <- checkResult{it: it, verdict: v, name: name, grants: grants}
	}()
}

// checkAll asks the constraints in order; the first that does not allow
// decides. A panicking constraint refuses. It returns the grants of the
// Releasers that allowed.
func checkAll(ctx context.Context, cs []Constraint, c Check) (v Verdict, name string, grants []grant) {
	for _, con := range cs {
		func() {
			defer func() {
				if r := recover(); r != nil {
					v = Refused("constraint %s panicked: %v", con.Name(), r)
				}
			}()
			v = con.Check(ctx, c)
		}()
		if v.Decision != Allow {
			return v, con.Name(), grants
		}
		if r, ok := con.(Releaser); ok {
			grants = append(grants, grant{r, c})
		}
	}
	return Allowed(), "", grants
}

// releaseGrants releases gs, each on a goroutine of its own that Run's
// end waits for (see [Releaser]).
func (e *Executor) releaseGrants(gs []grant) {
	for _, g := range gs {
		e.releasing.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), ReleaseTimeout)
			defer cancel()
			defer func() {
				if r := recover(); r != nil {
					e.log.Error("constraint's Release panicked", "constraint", g.r.Name(), "task", g.c.Task.Name, "panic", fmt.Sprint(r))
				}
			}()
			g.r.Release(ctx, g.c)
		})
	}
}

// dropGrants releases what the constraints hold for it, which will not
// start on their allowance.
func (e *Executor) dropGrants(it *item) {
	e.releaseGrants(it.grants)
	it.grants = nil
}

// checkDone handles a verdict. The caller holds e.mu.
func (e *Executor) checkDone(r checkResult) {
	e.inflight--
	it := r.it
	it.checking = false
	if it.state != pending || e.j.meta.Killed != nil {
		e.releaseGrants(r.grants)
		return
	}
	now := e.clk.Now()
	switch r.verdict.Decision {
	case Allow:
		it.allowedGen = e.wakes
		it.backoff, it.recheckAt, it.waitName = 0, time.Time{}, ""
		// A check again of a start allowed before: a Releaser takes its
		// thing again at no cost; what no longer allows is released.
		var gone []grant
		for _, old := range it.grants {
			if !slices.ContainsFunc(r.grants, func(g grant) bool { return g.r == old.r }) {
				gone = append(gone, old)
			}
		}
		e.releaseGrants(gone)
		it.grants = r.grants
	case Refuse:
		e.deferItem(it, now, ReasonConstraint+r.name, r.verdict.Reason)
		e.save(it.cy)
	default:
		e.dropGrants(it)
		if it.waitName == "" {
			it.waitSince = now
		}
		it.backoff = min(max(2*it.backoff, firstBackoff), maxBackoff)
		it.recheckAt = now.Add(it.backoff)
		it.waitName, it.waitReason = r.name, r.verdict.Reason
		e.hold(it, now, ReasonConstraint+r.name, r.verdict.Reason)
	}
}
