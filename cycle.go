package afterhours

import (
	"context"
	"fmt"
	"time"
)

// cycleRun is the executor's working state of one cycle: its plan, the
// items still to start, and the runs under way. Its journal is log.
type cycleRun struct {
	p      *Profile
	c      Cycle
	day    string
	log    *cycleLog
	plan   *Plan
	holds  []run   // the holds that overlap the window, on Unix nanoseconds
	steps  []*item // housekeeping, updates and self-update not yet started, in plan order
	slots  []*slotRun
	timers timerQueue // each timer's next run not yet handled, the earliest first
	days   dayCache   // the wall clocks of the dates the timers fall on
	// running lists every run of the cycle under way, whatever its kind.
	running []*item
	// stopped names the on_failure "stop" task that failed in the cycle.
	stopped string
	// ended is set once the span is over.
	ended bool
	// runs counts the runs of each task in the cycle.
	runs map[string]int
	// unnoticed is set when the cycle may have failures no notice listed
	// yet: at its opening, and at every failed event since (emitRecord).
	unnoticed bool
	// nextStep is the index in steps of the first step that may be
	// pending: steps never become pending again.
	nextStep int
}

type slotRun struct {
	slot  Slot
	items []*item
}

type itemState int

const (
	pending itemState = iota
	running
	done
)

// item is one thing to run in a cycle: a step, a slot task, a timer run or
// a command, with its record in the journal.
type item struct {
	cy    *cycleRun
	rec   *Record
	task  *Task
	cmd   *Command
	slot  *slotRun
	est   time.Duration
	state itemState

	// Waiting for constraints.
	checking   bool
	allowedGen int
	grants     []grant // what Releasers hold for the start they allowed
	recheckAt  time.Time
	backoff    time.Duration
	waitSince  time.Time
	waitName   string
	waitReason string
	held       string // what the item is held by, for held and released events

	// Running.
	cancel        context.CancelCauseFunc
	deadline      time.Time
	deadlineCause string
	stopCause     string
	interrupt     bool
}

func (cy *cycleRun) logSnapshot() CycleJournal { return cy.log.snapshot() }

// planHistory is the journal as planning sees it: a task that runs is
// settled, so that a re-plan leaves it out.
type planHistory struct {
	j       *journal
	running map[string]bool
}

func (h planHistory) Settled(task, day string) bool {
	return h.running[task] || h.j.Settled(task, day)
}
func (h planHistory) Durations(task string) []time.Duration { return h.j.Durations(task) }
func (h planHistory) Failed(task, day string) bool          { return h.j.Failed(task, day) }

// start opens the cycle of now when Run starts: it closes the cycles the
// journal left open, records the cycles slept through, and plans.
func (e *Executor) start(now time.Time) error {
	if e.cur != nil {
		return nil // Run again: the cycle goes on; advance rolls over
	}
	c := e.p.Site.CycleAt(now)
	day := c.Day.String()
	for _, l := range e.j.cycles {
		if l.Day < day && !l.Closed {
			if err := e.closeLog(l, now); err != nil {
				return err
			}
		}
	}
	if last := e.j.last(); last != nil && last.Day < day {
		d, err := ParseDate(last.Day)
		if err != nil {
			return err
		}
		if err := e.backfill(d.AddDays(1), c.Day, now); err != nil {
			return err
		}
	}
	// The executor was not running before now: as far as this cycle
	// knows, not since its start.
	cy, err := e.openCycle(c, now, wake{slept: c.Span.Start, started: true})
	if err != nil {
		return err
	}
	e.cur = cy
	return nil
}

// openCycle starts the cycle c: its journal (kept when it has one) and its
// plan as of now.
func (e *Executor) openCycle(c Cycle, now time.Time, w wake) (*cycleRun, error) {
	l, err := e.j.cycle(c)
	if err != nil {
		return nil, err
	}
	cy := &cycleRun{p: e.p, c: c, day: c.Day.String(), log: l, runs: map[string]int{}}
	for _, r := range l.Records {
		if !r.Start.IsZero() {
			cy.runs[r.Task]++
		}
		cy.unnoticed = cy.unnoticed || unnoticed(r)
	}
	return cy, e.plan(cy, now, w)
}

// plan (re-)plans cy as of now and rewrites its to-do list and deferrals.
// Runs, and the timer records of what already happened, are kept.
//
// w says whether the executor was awake before now. When it was not, a
// step the plan defers as window-full is missed instead when a plan made
// at the instant the executor stopped being awake places it, and the
// journal had it to do or knew nothing of it in the cycle: its room went
// by while the executor slept (see Executor.noFit for the rule). That
// instant is w.slept or the cycle's start, whichever is later, and at
// Run's start no earlier than the last start or end of a run the journal
// has of the cycle. A step the journal already had deferred keeps its
// deferral's reason.
func (e *Executor) plan(cy *cycleRun, now time.Time, w wake) error {
	hist := planHistory{j: e.j, running: map[string]bool{}}
	for _, it := range cy.running {
		hist.running[it.task.Name] = true
	}
	plan := cy.p.planCycle(cy.c, now, hist)
	e.holdSelfUpdate(plan)
	wasToDo, known := map[string]bool{}, map[string]bool{}
	kept := cy.log.Records[:0]
	for _, r := range cy.log.Records {
		known[r.Task] = true
		switch {
		case r.State == StateToDo:
			wasToDo[r.Task] = true
		case r.State == StateDeferred && r.Kind == Shared && slotOver(plan, r, now):
			// What happened to a slot that is over stays: the
			// re-plan does not list that slot again.
			kept = append(kept, r)
		case r.State == StateDeferred && r.Kind != Timer && r.Kind != CommandKind:
		case r.State == StateDeferred && r.Kind == Timer && (r.Reason == ReasonDisabled || r.Reason == ReasonTagMismatch):
		default:
			kept = append(kept, r)
		}
	}
	for i := len(kept); i < len(cy.log.Records); i++ {
		cy.log.Records[i] = nil
	}
	cy.log.Records = kept
	cy.log.prune()
	cy.plan = plan
	_, _, cy.holds = cy.p.slotsOf(cy.c, plan.From)
	for _, it := range cy.steps {
		if it.state == pending {
			e.dropGrants(it) // planned again below, and checked again
		}
		it.state = done
	}
	cy.steps, cy.nextStep = cy.steps[:0], 0
	add := func(r *Record) *Record {
		cy.log.Records = append(cy.log.Records, r)
		return r
	}
	for _, st := range plan.Steps {
		rec := add(&Record{Task: st.Task.Name, Kind: st.Task.kind, State: StateToDo, Estimate: Duration(st.Duration()),
			PlannedStart: st.Start, PlannedEnd: st.End, ExitCode: -1})
		cy.steps = append(cy.steps, &item{cy: cy, rec: rec, task: st.Task, est: st.Duration()})
	}
	type slotKey struct {
		token string
		start int64
	}
	runningIn := map[slotKey][]*item{}
	for _, sr := range cy.slots {
		for _, it := range sr.items {
			switch it.state {
			case pending:
				it.state = done
				e.dropGrants(it)
			case running:
				k := slotKey{sr.slot.Token, sr.slot.Run.Start.UnixNano()}
				runningIn[k] = append(runningIn[k], it)
			}
		}
	}
	cy.slots = cy.slots[:0]
	for _, sl := range plan.Slots {
		k := slotKey{sl.Token, sl.Run.Start.UnixNano()}
		if sl.Void || (len(sl.Tasks) == 0 && len(runningIn[k]) == 0) {
			continue
		}
		if !sl.Run.End.After(now) {
			e.slotMissed(cy, sl, w, now)
			continue
		}
		sr := &slotRun{slot: sl}
		for _, it := range runningIn[k] {
			it.slot = sr
			sr.items = append(sr.items, it)
		}
		at := laterOf(sl.Run.Start, now)
		for _, t := range sl.Tasks {
			est := min(t.estimateFrom(e.j.Durations(t.Name)), sl.Run.Duration())
			end := at.Add(est)
			if end.After(sl.Run.End) {
				end = sl.Run.End
			}
			rec := add(&Record{Task: t.Name, Kind: Shared, State: StateToDo, Estimate: Duration(est),
				PlannedStart: at, PlannedEnd: end, ExitCode: -1})
			sr.items = append(sr.items, &item{cy: cy, rec: rec, task: t, slot: sr, est: est})
			at = end
		}
		cy.slots = append(cy.slots, sr)
	}
	var fitted map[string]time.Duration // the steps of the plan as of w.slept
	if !w.slept.IsZero() {
		from := laterOf(w.slept, cy.c.Span.Start)
		if w.started {
			// The executor was awake at least until the last start or
			// end its journal has of the cycle.
			for _, r := range cy.log.Records {
				from = laterOf(from, laterOf(r.Start, r.End))
			}
		}
		fitted = map[string]time.Duration{}
		for _, st := range cy.p.planCycle(cy.c, from, hist).Steps {
			fitted[st.Task.Name] = st.Duration()
		}
	}
	for _, d := range plan.Deferred {
		if hist.running[d.Task.Name] && d.Reason == ReasonDone {
			continue
		}
		reason, detail := d.Reason, d.Detail
		est, fits := fitted[d.Task.Name]
		switch {
		case reason == ReasonWindowFull && fits && (wasToDo[d.Task.Name] || !known[d.Task.Name]):
			reason, detail = ReasonMissed, wokeLate(cy, now, est, w, d.Task.kind)
		case reason == ReasonDone || reason == ReasonFailed:
			if done, ok := e.j.meta.Done[d.Task.Name]; ok && done.Interrupted {
				detail = "interrupted in the cycle of " + done.Day + ": a self-update is not run again on its own"
			}
		}
		add(&Record{Task: d.Task.Name, Kind: d.Task.kind, State: StateDeferred, Reason: reason, Detail: detail, ExitCode: -1})
	}
	e.planTimers(cy, plan)
	if w.started {
		// Timer runs are caught up after a late wake, not after a start:
		// what fell due before the executor ran is recorded, not run.
		e.summariseTimers(cy, now, ReasonMissed, "missed: the executor was not running")
	}
	if k := e.j.meta.Killed; k != nil {
		e.deferPending(cy, now, ReasonKilled, k.Reason)
	}
	e.emit(Event{Kind: EventPlanned, At: now, Day: cy.day, Plan: plan})
	cy.plan = plan.withoutTimers() // the queue has what the executor needs of them
	for _, r := range cy.log.Records {
		if r.State == StateDeferred && r.Kind != Timer && r.Kind != CommandKind {
			e.emitRecord(EventDeferred, cy.day, r, now)
		}
	}
	return e.j.saveCycle(cy.log)
}

func carried(k Kind) string {
	if isOneOff(k) {
		return "; carried over to the next cycle"
	}
	return ""
}

// planTimers queues the timers of the plan, each with its first run not
// yet handled: the first after the latest occurrence the journal has a
// record of. Only that run is kept; the next is worked out when it is
// handled. A timer run under way goes on (see Executor.dispatchTimers).
func (e *Executor) planTimers(cy *cycleRun, plan *Plan) {
	handled := map[string]time.Time{}
	for _, r := range cy.log.Records {
		if r.Kind == Timer {
			last := laterOf(r.PlannedStart, r.PlannedEnd)
			if last.After(handled[r.Task]) {
				handled[r.Task] = last
			}
		}
	}
	// Each timer once, at its first run not handled; ranked by its first
	// run in the span, as the plan lists them.
	type seen struct {
		rank   int32
		queued bool
	}
	timers := map[*Task]seen{}
	var pending []timerEntry
	for _, tr := range plan.Timers {
		s, ok := timers[tr.Task]
		if !ok {
			s.rank = int32(len(timers))
		}
		if h, ok := handled[tr.Task.Name]; !s.queued && (!ok || tr.At.After(h)) {
			pending = append(pending, timerEntry{next: tr.At.UnixNano(), task: tr.Task, rank: s.rank})
			s.queued = true
		}
		timers[tr.Task] = s
	}
	cy.timers = newTimerQueue(pending)
	cy.days = dayCache{loc: cy.p.Site.loc}
	for _, d := range plan.Deferred {
		if d.Task.kind == Timer {
			cy.log.Records = append(cy.log.Records, &Record{Task: d.Task.Name, Kind: Timer, State: StateDeferred, Reason: d.Reason, Detail: d.Detail, ExitCode: -1})
		}
	}
}

// summariseTimers records the timer runs of cy due before upTo that were
// not handled, one record per timer, and marks them handled.
func (e *Executor) summariseTimers(cy *cycleRun, upTo time.Time, reason, why string) {
	loc := cy.p.Site.loc
	for _, q := range cy.timers.due(upTo, false) {
		n, first, _, last, after, more := q.occurrences(upTo, cy.c.Span.End, false, loc, &cy.days)
		if more {
			q.next = after.UnixNano()
			cy.timers.push(q)
		}
		e.addTimerRecord(cy, q.task, first, last, n, reason, why, upTo)
	}
}

func (e *Executor) addTimerRecord(cy *cycleRun, t *Task, first, last time.Time, n int, reason, why string, now time.Time) {
	detail := why
	if n > 1 {
		detail = fmt.Sprintf("%d runs from %s to %s %s", n, hhmm(first.In(cy.p.Site.loc)), hhmm(last.In(cy.p.Site.loc)), why)
	}
	r := &Record{Task: t.Name, Kind: Timer, State: StateDeferred, Reason: reason, Detail: detail,
		PlannedStart: first, PlannedEnd: last, ExitCode: -1}
	cy.log.Records = append(cy.log.Records, r)
	e.emitRecord(EventDeferred, cy.day, r, now)
}

// deferPending defers every step and slot task of cy not yet started.
func (e *Executor) deferPending(cy *cycleRun, now time.Time, reason, detail string) {
	for _, it := range cy.steps {
		if it.state == pending {
			e.deferItem(it, now, reason, detail)
		}
	}
	for _, sr := range cy.slots {
		for _, it := range sr.items {
			if it.state == pending {
				e.deferItem(it, now, reason, detail)
			}
		}
	}
}

// deferItem records that a pending item will not run in its cycle.
func (e *Executor) deferItem(it *item, now time.Time, reason, detail string) {
	it.state = done
	e.dropGrants(it)
	it.rec.State = StateDeferred
	it.rec.Reason, it.rec.Detail = reason, detail
	it.cy.log.touch(it.rec)
	if it.held != "" {
		it.held = ""
	}
	e.emitRecord(EventDeferred, it.cy.day, it.rec, now)
}

// failQueued records the queued commands as failed without running them.
func (e *Executor) failQueued(cy *cycleRun, now time.Time, cause string) {
	if len(e.j.meta.Queue) == 0 {
		return
	}
	for _, cmd := range e.j.meta.Queue {
		r := &Record{Task: cmd.name(), Kind: CommandKind, Command: cmd.ID, State: StateFailed, Error: cause + " (not started)", ExitCode: -1}
		cy.log.Records = append(cy.log.Records, r)
		e.emitRecord(EventFailed, cy.day, r, now)
	}
	e.j.meta.Queue = nil
	if err := e.j.saveMeta(); err != nil {
		e.log.Error("journal", "err", err)
	}
}

// rollover ends the current cycle and opens the one that holds now,
// recording the cycles between as slept through.
func (e *Executor) rollover(now time.Time) error {
	old := e.cur
	if err := e.endCycle(old, now); err != nil {
		return err
	}
	c := e.p.Site.CycleAt(now)
	if c.Day.Compare(old.c.Day) <= 0 {
		// Never back: a clock jump cannot reopen an older cycle.
		c = e.p.Site.Cycle(old.c.Day.AddDays(1))
	}
	if err := e.backfill(old.c.Day.AddDays(1), c.Day, now); err != nil {
		return err
	}
	cy, err := e.openCycle(c, now, wake{slept: e.slept})
	if err != nil {
		return err
	}
	e.cur = cy
	return nil
}

// endCycle ends cy at the end of its span: what did not start is deferred
// and the unhandled timer runs are recorded. Runs under way go on to their
// deadlines; the cycle closes when the last ends.
func (e *Executor) endCycle(cy *cycleRun, now time.Time) error {
	if k := e.j.meta.Killed; k != nil {
		e.deferPending(cy, now, ReasonKilled, k.Reason)
		e.summariseTimers(cy, cy.c.Span.End, ReasonKilled, "not run while killed")
	} else {
		for _, it := range cy.steps {
			if it.state != pending {
				continue
			}
			if cy.fitsFrom(e.slept, stepRes(it.task), it.task.down, it.est) {
				e.deferItem(it, now, ReasonMissed, wokeLate(cy, now, it.est, wake{}, it.task.kind))
			} else {
				e.deferItem(it, now, ReasonWindowFull, "the window ended before it could start"+carried(it.task.kind))
			}
		}
		for _, sr := range cy.slots {
			for _, it := range sr.items {
				if it.state == pending {
					e.deferItem(it, now, ReasonMissed, "the slot ended before it could start")
				}
			}
		}
		e.summariseTimers(cy, cy.c.Span.End, ReasonMissed, "missed: the executor was not awake")
	}
	cy.ended = true
	if len(cy.running) > 0 {
		e.closing = append(e.closing, cy)
		return e.j.saveCycle(cy.log)
	}
	return e.finalize(cy, now)
}

// finalize closes an ended cycle whose runs are over, and notifies its
// failures not notified before (those after its window's notice).
func (e *Executor) finalize(cy *cycleRun, now time.Time) error {
	for i, c := range e.closing {
		if c == cy {
			e.closing = append(e.closing[:i], e.closing[i+1:]...)
			break
		}
	}
	cy.log.Closed = true
	e.noticeFailures(cy.log, now, true)
	return e.j.saveCycle(cy.log)
}

// closeLog closes a cycle the journal left open (the executor stopped
// during it): its to-do list was missed.
func (e *Executor) closeLog(l *cycleLog, now time.Time) error {
	for _, r := range l.Records {
		if r.State == StateToDo {
			r.State, r.Reason, r.Detail = StateDeferred, ReasonMissed, "the executor was not running"+carried(r.Kind)
			l.touch(r)
		}
	}
	l.Closed = true
	e.noticeFailures(l, now, true)
	return e.j.saveCycle(l)
}

// backfill records the cycles of the days from first up to (not
// including) until, which the executor slept through: their work is
// missed. At most the retention's worth are recorded.
func (e *Executor) backfill(first, until Date, now time.Time) error {
	n := 0
	for d := first; d.Compare(until) < 0; d = d.AddDays(1) {
		n++
	}
	if n > e.retention {
		first = until.AddDays(-e.retention)
	}
	for d := first; d.Compare(until) < 0; d = d.AddDays(1) {
		c := e.p.Site.Cycle(d)
		if _, ok := e.j.byDay[d.String()]; ok {
			continue
		}
		l, err := e.j.cycle(c)
		if err != nil {
			return err
		}
		cy := &cycleRun{p: e.p, c: c, day: d.String(), log: l, runs: map[string]int{}}
		plan := e.p.planCycle(c, c.Span.Start, planHistory{j: e.j})
		cy.plan = plan
		for _, st := range plan.Steps {
			l.Records = append(l.Records, &Record{Task: st.Task.Name, Kind: st.Task.kind, State: StateDeferred, Reason: ReasonMissed,
				Detail: "the executor was not awake in this cycle" + carried(st.Task.kind), PlannedStart: st.Start, PlannedEnd: st.End, ExitCode: -1})
		}
		for _, sl := range plan.Slots {
			for _, t := range sl.Tasks {
				l.Records = append(l.Records, &Record{Task: t.Name, Kind: Shared, State: StateDeferred, Reason: ReasonMissed,
					Detail: "the executor was not awake in this cycle", PlannedStart: sl.Run.Start, PlannedEnd: sl.Run.End, ExitCode: -1})
			}
		}
		for _, df := range plan.Deferred {
			l.Records = append(l.Records, &Record{Task: df.Task.Name, Kind: df.Task.kind, State: StateDeferred, Reason: df.Reason, Detail: df.Detail, ExitCode: -1})
		}
		e.planTimers(cy, plan)
		e.summariseTimers(cy, c.Span.End, ReasonMissed, "missed: the executor was not awake")
		l.Closed = true
		if err := e.j.saveCycle(l); err != nil {
			return err
		}
	}
	return nil
}

// recoverInterrupted records the runs a previous executor left active as
// failed and interrupted, keeps those with processes for Run to end, and
// drops queued commands that started.
func (e *Executor) recoverInterrupted() error {
	metaChanged := false
	started := map[string]bool{}
	for _, l := range e.j.cycles {
		changed := false
		for _, r := range l.Records {
			if r.Command != "" {
				started[r.Command] = true
			}
			if r.State != StateActive {
				continue
			}
			r.State, r.Interrupted = StateFailed, true
			l.touch(r)
			r.Error = "interrupted: the executor stopped while it ran"
			if r.PID > 0 || r.Cgroup != "" {
				e.orphans = append(e.orphans, orphanRun{log: l, rec: r})
			}
			if r.Kind == SelfUpdate {
				if e.j.meta.Done == nil {
					e.j.meta.Done = map[string]doneOneOff{}
				}
				e.j.meta.Done[r.Task] = doneOneOff{Day: l.Day, Interrupted: true}
				metaChanged = true
			}
			changed = true
		}
		if changed {
			if err := e.j.saveCycle(l); err != nil {
				return err
			}
		}
	}
	q := e.j.meta.Queue[:0]
	for _, cmd := range e.j.meta.Queue {
		if started[cmd.ID] {
			metaChanged = true
			continue
		}
		if len(cmd.Run) == 0 {
			cmd.Lost = true
		}
		q = append(q, cmd)
	}
	e.j.meta.Queue = q
	if metaChanged {
		return e.j.saveMeta()
	}
	return nil
}
