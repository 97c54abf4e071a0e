package afterhours

import (
	"slices"
	"time"
)

// Work missed while the executor was not awake: the rule is on
// Executor.noFit; planning applies it in Executor.plan.

// wake says how the executor came to (re-)plan a cycle: slept is the
// instant from which it was not awake (zero: it was awake until now), and
// started is set when Run started.
type wake struct {
	slept   time.Time
	started bool
}

// verb says what the executor did at the wake: "woke" or "started".
func (w wake) verb() string {
	if w.started {
		return "started"
	}
	return "woke"
}

// slotOver reports whether r, a slot task's record, is of a slot of plan
// that ended by now.
func slotOver(plan *Plan, r *Record, now time.Time) bool {
	for _, sl := range plan.Slots {
		if !r.PlannedStart.Before(sl.Run.Start) && r.PlannedStart.Before(sl.Run.End) && slices.ContainsFunc(sl.Tasks, func(t *Task) bool { return t.Name == r.Task }) {
			return !sl.Run.End.After(now)
		}
	}
	return false
}

// slotMissed records as missed the tasks of sl, a slot that ended by now,
// that the journal has no record of in it: the executor was not awake
// while the slot lasted.
func (e *Executor) slotMissed(cy *cycleRun, sl Slot, w wake, now time.Time) {
	loc := cy.p.Site.loc
	for _, t := range sl.Tasks {
		if slices.ContainsFunc(cy.log.Records, func(r *Record) bool {
			return r.Task == t.Name && r.Kind == Shared && !r.PlannedStart.Before(sl.Run.Start) && r.PlannedStart.Before(sl.Run.End)
		}) {
			continue
		}
		detail := "the slot ended at " + hhmm(sl.Run.End.In(loc)) + " before it could start"
		if !w.slept.IsZero() {
			detail = "the executor " + w.verb() + " at " + hhmm(now.In(loc)) + ", after the slot ended at " + hhmm(sl.Run.End.In(loc))
		}
		cy.log.Records = append(cy.log.Records, &Record{Task: t.Name, Kind: Shared, State: StateDeferred, Reason: ReasonMissed, Detail: detail,
			PlannedStart: sl.Run.Start, PlannedEnd: sl.Run.End, ExitCode: -1})
	}
}

// fitsFrom reports whether a step of est that contends with res and uses
// the resources down would have fitted from slept (or from the window's
// start, if later): whether the executor, not awake since slept, missed
// its room. It is false when slept is zero.
func (cy *cycleRun) fitsFrom(slept time.Time, res resources, down []string, est time.Duration) bool {
	if slept.IsZero() {
		return false
	}
	_, ok := cy.fit(res, down, laterOf(slept, cy.c.Window.Start), est)
	return ok
}

// wokeLate is the detail of a step of est missed because the executor
// woke (or started, as w says) only at now.
func wokeLate(cy *cycleRun, now time.Time, est time.Duration, w wake, k Kind) string {
	loc := cy.p.Site.loc
	s := "the executor " + w.verb() + " at " + hhmm(now.In(loc))
	if end := cy.c.Window.End; now.Before(end) {
		s += ": " + shortDuration(est) + " no longer fits before the window's end at " + hhmm(end.In(loc))
	} else {
		s += ", after the window ended at " + hhmm(end.In(loc))
	}
	return s + carried(k)
}
