package afterhours

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// planCycle plans cycle c as of now: slots, then the after-hours sequence.
func (p *Profile) planCycle(c Cycle, now time.Time, h History) *Plan {
	loc := p.Site.loc
	from := laterOf(c.Window.Start, now).In(loc)
	end := c.Window.End.In(loc)
	if from.After(end) {
		from = end
	}
	day := c.Day.String()
	plan := &Plan{
		Client: p.Client,
		Day:    day,
		Span:   Interval{c.Span.Start.In(loc), c.Span.End.In(loc)},
		Window: Interval{c.Window.Start.In(loc), end},
		From:   from,
	}
	slots, holds := p.slotsOf(c, from)
	plan.Slots = slots
	s := sequencer{p: p, plan: plan, h: h, day: day, end: end, holds: holds, lanes: p.lanes,
		span: c.Span, days: dayCache{loc: loc}}
	s.stopped = s.stoppedBy()
	s.slotTasks()
	s.timers()

	n := len(p.Housekeeping) + len(p.Updates) + 1
	plan.Steps = make([]Step, 0, n)
	cursor, barrier := from, from
	for _, phase := range [][]*Task{p.Housekeeping, p.Updates} {
		phaseEnd := barrier
		start := barrier
		for _, t := range phase {
			if !s.eligible(t) {
				continue
			}
			iv, ok := s.place(t, laterOf(start, cursor), t.res)
			if !ok {
				continue
			}
			cursor = iv.Start
			phaseEnd = laterOf(phaseEnd, iv.End)
		}
		barrier = phaseEnd
	}
	if t := p.SelfUpdate; t != nil && s.eligible(t) {
		// Alone: after every placed step, and clear of every hold whatever
		// its token (any resources contend with all).
		s.active = s.active[:0]
		s.place(t, barrier, resources{any: true})
	}
	return plan
}

// sequencer places the steps of one cycle.
type sequencer struct {
	p       *Profile
	plan    *Plan
	h       History
	day     string
	end     time.Time // the window's end
	holds   []hold    // sorted by start
	lanes   int
	active  []Step // placed steps that may still be running at the cursor
	stopped *Task  // the on_failure "stop" task that failed in the cycle
	span    Interval
	days    dayCache // the wall clocks of the dates recurrences look at
}

func (s *sequencer) defer_(t *Task, reason, detail string) {
	if s.plan.Deferred == nil {
		// Where one task is deferred many often are (a full window, a weekly
		// schedule): room for all at once rather than growing by copies.
		s.plan.Deferred = make([]Deferral, 0, s.p.tasks)
	}
	s.plan.Deferred = append(s.plan.Deferred, Deferral{Task: t, Reason: reason, Detail: detail})
}

// stoppedBy returns the on_failure "stop" task that failed in the cycle.
func (s *sequencer) stoppedBy() *Task {
	f, ok := s.h.(FailureHistory)
	if !ok {
		return nil
	}
	for _, list := range [][]*Task{s.p.Housekeeping, s.p.Updates} {
		for _, t := range list {
			if t.StopsCycle() && f.Failed(t.Name, s.day) {
				return t
			}
		}
	}
	for _, tok := range s.p.Sharing {
		for _, t := range tok.Tasks {
			if t.StopsCycle() && f.Failed(t.Name, s.day) {
				return t
			}
		}
	}
	return nil
}

// eligible defers t and returns false when it cannot run in the cycle
// whatever the time: disabled, tag mismatch, settled, or stopped.
func (s *sequencer) eligible(t *Task) bool {
	switch {
	case !t.IsEnabled():
		s.defer_(t, ReasonDisabled, "the task is disabled")
	case !t.matches:
		s.defer_(t, ReasonTagMismatch, fmt.Sprintf("selector %v does not match site tags %v", t.Tags, s.p.Site.Tags))
	case t.kind == Housekeeping && !s.due(t):
		// deferred by due
	case s.h != nil && s.h.Settled(t.Name, s.day):
		if t.kind == Update || t.kind == SelfUpdate {
			s.defer_(t, ReasonDone, "completed")
		} else {
			s.defer_(t, ReasonDone, "already run in the cycle of "+s.day)
		}
	case s.stopped != nil:
		s.defer_(t, ReasonStopped, fmt.Sprintf("%s failed and stops the cycle", s.stopped.Name))
	default:
		return true
	}
	return false
}

// slotTasks fills the slots with their tasks, deferring those that cannot
// run: each slot task is under every slot occurrence of its token in the
// cycle, or deferred.
func (s *sequencer) slotTasks() {
	for _, tok := range s.p.Sharing {
		for _, t := range tok.Tasks {
			if !s.eligible(t) {
				continue
			}
			found := false
			for i := range s.plan.Slots {
				sl := &s.plan.Slots[i]
				if sl.tok != tok {
					continue
				}
				found = true
				if sl.Void {
					s.defer_(t, ReasonBusinessHours, fmt.Sprintf("slot %s at %s intersects business hours",
						tok.Token, sl.Run.Start.Format("2006-01-02 15:04 MST")))
					continue
				}
				sl.Tasks = append(sl.Tasks, t)
			}
			if !found {
				s.defer_(t, ReasonNoSlot, fmt.Sprintf("token %s has no slot starting in the cycle", tok.Token))
			}
		}
	}
}

// due reports whether recurring housekeeping has an occurrence in the
// cycle's span, and defers it as not due, saying when it next is, when not.
// Housekeeping without a schedule or repeat is due in every cycle.
func (s *sequencer) due(t *Task) bool {
	r := t.recur
	if r == nil {
		return true
	}
	next, ok := r.next(s.span.Start, s.span.Start.Add(maxSearch), &s.days)
	switch {
	case ok && next.Before(s.span.End):
		return true
	case ok:
		s.defer_(t, ReasonNotDue, dateTime("next due ", next.In(s.p.Site.loc)))
	default:
		s.defer_(t, ReasonNotDue, "no occurrence after this cycle")
	}
	return false
}

// timers lists the occurrences of the timers in the cycle's span.
func (s *sequencer) timers() {
	loc := s.p.Site.loc
	for _, t := range s.p.Timers {
		switch {
		case !t.IsEnabled():
			s.defer_(t, ReasonDisabled, "the task is disabled")
			continue
		case !t.matches:
			s.defer_(t, ReasonTagMismatch, fmt.Sprintf("selector %v does not match site tags %v", t.Tags, s.p.Site.Tags))
			continue
		}
		t.recur.each(s.span.Start, s.span.End, &s.days, func(at time.Time) {
			s.plan.Timers = append(s.plan.Timers, TimerRun{Task: t, At: at.In(loc)})
		})
	}
	slices.SortStableFunc(s.plan.Timers, func(a, b TimerRun) int { return a.At.Compare(b.At) })
}

func (s *sequencer) estimate(t *Task) time.Duration {
	if s.h == nil {
		return t.estimate
	}
	return t.estimateFrom(s.h.Durations(t.Name))
}

// place puts t at the earliest instant at or after at where a lane is free,
// no contending step runs, and its whole projected run avoids the holds it
// contends with and ends by the window's end. It records a step or a
// deferral and reports whether it placed the task.
//
// Steps are placed in order of start, so every placed step starts at or
// before at: the steps that may overlap a run from at are those still
// running at at, never more than the lanes.
func (s *sequencer) place(t *Task, at time.Time, res resources) (Interval, bool) {
	d := s.estimate(t)
	if !at.Before(s.end) {
		s.deferFull(t, d, at)
		return Interval{}, false
	}
	// Drop what can no longer matter to this or any later step: later
	// steps start at or after at. (Inside the search below at may move past
	// instants a later step still starts from, so nothing is dropped there.)
	live := s.active[:0]
	for _, st := range s.active {
		if st.End.After(at) {
			live = append(live, st)
		}
	}
	s.active = live
	// Holds are sorted by start, not end: only a prefix of ended holds can
	// be dropped; the rest are skipped below.
	for len(s.holds) > 0 && !s.holds[0].End.After(at) {
		s.holds = s.holds[1:]
	}
	for {
		stop := at.Add(d)
		if stop.After(s.end) {
			s.deferFull(t, d, at)
			return Interval{}, false
		}
		next := at
		var running, first time.Time
		n := 0
		for _, st := range s.active {
			if !st.End.After(at) {
				continue
			}
			if n == 0 || st.End.Before(first) {
				first = st.End
			}
			n++
			if st.Task.res.contends(res) {
				running = laterOf(running, st.End)
			}
		}
		if n >= s.lanes {
			next = laterOf(next, first)
		}
		next = laterOf(next, running)
		for _, h := range s.holds {
			if !h.Start.Before(stop) {
				break
			}
			if h.End.After(at) && h.res.contends(res) {
				next = laterOf(next, h.End)
			}
		}
		if next.Equal(at) {
			step := Step{Task: t, Interval: Interval{Start: at, End: stop}}
			s.plan.Steps = append(s.plan.Steps, step)
			s.active = append(s.active, step)
			return step.Interval, true
		}
		at = next
	}
}

func (s *sequencer) deferFull(t *Task, d time.Duration, at time.Time) {
	w := s.plan.Window
	switch {
	case w.Empty():
		s.defer_(t, ReasonWindowFull, "the cycle has no after-hours window")
	case d > w.Duration():
		s.defer_(t, ReasonWindowFull, "needs "+shortDuration(d)+", the window is "+shortDuration(w.Duration()))
	default:
		// Deferrals are common in a full window: no fmt here.
		s.defer_(t, ReasonWindowFull, "needs "+shortDuration(d)+", no room from "+hhmm(at)+" to the window's end at "+hhmm(s.end))
	}
}

// hhmm formats the wall clock of t as 15:04.
func hhmm(t time.Time) string {
	h, m, _ := t.Clock()
	return string([]byte{byte('0' + h/10), byte('0' + h%10), ':', byte('0' + m/10), byte('0' + m%10)})
}

// dateTime formats t as "2006-01-02 15:04 MST" after prefix, in one
// allocation: plans of many not-due tasks format many of them.
func dateTime(prefix string, t time.Time) string {
	zone, _ := t.Zone()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return prefix + t.Format("2006-01-02 15:04 MST")
	}
	h, mi, _ := t.Clock()
	var b strings.Builder
	b.Grow(len(prefix) + 17 + len(zone))
	b.WriteString(prefix)
	for _, c := range [...]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + int(mo)/10), byte('0' + int(mo)%10), '-', byte('0' + d/10), byte('0' + d%10), ' ',
		byte('0' + h/10), byte('0' + h%10), ':', byte('0' + mi/10), byte('0' + mi%10), ' '} {
		b.WriteByte(c)
	}
	b.WriteString(zone)
	return b.String()
}

// shortDuration formats d as "5m", "1h30m" or "45s": time.Duration's form
// without its trailing zero units.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
