package afterhours

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/internal/durfmt"
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
		site:   &p.Site,
	}
	slots, neighbours, holds := p.slotsOf(c, from)
	plan.Slots, plan.Neighbours = slots, neighbours
	s := sequencer{p: p, plan: plan, h: h, day: day, end: end, holds: holds, lanes: p.lanes,
		span: c.Span, cycle: c, days: dayCache{loc: loc}}
	// The window lies in the span: its downtimes are among the span's.
	s.spanDowntimes = p.downtimesIn(plan.Span)
	for _, o := range s.spanDowntimes {
		if o.Overlaps(plan.Window) {
			plan.Downtimes = append(plan.Downtimes, o)
			s.anticipates = s.anticipates || o.Action == ActionAnticipate && !o.Ended
		}
	}
	s.stopped = s.stoppedBy()
	s.slotTasks()
	s.timers()

	n := len(p.Housekeeping) + len(p.Updates) + 1
	plan.Steps = make([]Step, 0, n)
	s.cursor, s.barrier = from, from
	for _, phase := range [][]*Task{p.Housekeeping, p.Updates} {
		s.phaseStart = len(plan.Steps)
		s.marks = s.marks[:0]
		for _, t := range phase {
			if !s.eligible(t) {
				s.notePending(t, plan.Deferred[len(plan.Deferred)-1].Reason)
				continue
			}
			if _, ok := s.step(t, t.res); !ok {
				s.notePending(t, plan.Deferred[len(plan.Deferred)-1].Reason)
			}
		}
		// A step moving ahead may have moved the ones it went before.
		phaseEnd := s.barrier
		for _, st := range plan.Steps[s.phaseStart:] {
			phaseEnd = laterOf(phaseEnd, st.End)
		}
		s.barrier = phaseEnd
		s.cursor = laterOf(s.cursor, s.barrier)
	}
	if t := p.SelfUpdate; t != nil && s.eligible(t) {
		if s.pending != nil {
			s.defer_(t, ReasonUpdatesPending, "waits for update "+s.pending.Name+" ("+s.pendingWhy+
				"): the self-update runs once every update is completed")
		} else {
			// Alone: after every placed step, and clear of every hold
			// whatever its token (any resources contend with all).
			s.phaseStart = len(plan.Steps)
			s.step(t, resources{any: true})
		}
	}
	// Postponed steps were placed before later steps that start earlier.
	slices.SortStableFunc(plan.Steps, func(a, b Step) int { return a.Start.Compare(b.Start) })
	return plan
}

// sequencer places the steps of one cycle.
type sequencer struct {
	p       *Profile
	plan    *Plan
	h       History
	day     string
	end     time.Time // the window's end
	holds   []run     // sorted by start
	lanes   int
	active  []run // placed steps that may still run at or after the cursor
	scratch []run // the steps of the phase, for a step moving ahead
	stopped *Task // the on_failure "stop" task that failed in the cycle
	// pending is the first update that is not completed and will not be in
	// this cycle, and pendingWhy its deferral's reason.
	pending    *Task
	pendingWhy string
	span       Interval
	cycle      Cycle
	days       dayCache // the wall clocks of the dates recurrences look at

	cursor     time.Time // no step starts before the start of the one placed before it
	barrier    time.Time // the end of the previous phase
	phaseStart int       // index in plan.Steps of the current phase's first step
	// marks are the cursor before each step of the phase was placed, in
	// plan.Steps order, kept only when a step may move ahead (anticipate):
	// moving ahead of steps places them again from there.
	marks       []time.Time
	anticipates bool // an anticipate downtime touches the window
	moving      bool // a step moves ahead: the steps it went before are placed again

	spanDowntimes []Downtime  // the downtimes of the whole span, for slots outside the window
	nexts         []nextDue   // by recurrence id, as worked out
	neighbours    [2]struct { // the cycles before and after, for downtimes across cycles
		c     Cycle
		downs []Downtime
		known bool
	}
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

// notePending notes t, just deferred with reason, when it is an update the
// self-update must wait for (it runs only once every update is completed):
// one that is enabled and matches the site's tags, and is not settled as
// completed (reason "done"). A deferred
// update is pending whatever the reason: it does not fit, a downtime keeps
// it off, it failed in the cycle, or the cycle is stopped.
func (s *sequencer) notePending(t *Task, reason string) {
	if t.kind != Update || s.pending != nil {
		return
	}
	switch reason {
	case ReasonDisabled, ReasonTagMismatch, ReasonDone:
		return
	}
	s.pending, s.pendingWhy = t, reason
}

// pendingUpdate returns the first update of p that is enabled, matches the
// site's tags and that h does not show settled as completed in the cycle
// of day (not settled, or settled by a failure), or nil when there is none.
// The executor asks it before it starts the self-update, when the steps
// before it have ended: the plan assumed that the updates it placed would
// complete, and the self-update, which runs only after every update has
// completed, may start only if they did.
func (p *Profile) pendingUpdate(h FailureHistory, day string) *Task {
	for _, t := range p.Updates {
		if t.IsEnabled() && t.matches && (!h.Settled(t.Name, day) || h.Failed(t.Name, day)) {
			return t
		}
	}
	return nil
}

// failed reports whether the history says t failed in the cycle. A
// History that is no [FailureHistory] knows of no failure.
func (s *sequencer) failed(t *Task) bool {
	f, ok := s.h.(FailureHistory)
	return ok && f.Failed(t.Name, s.day)
}

// eligible defers t and returns false when it cannot run in the cycle
// whatever the time: disabled, tag mismatch, settled, or stopped. A
// settled task is deferred as failed when it failed in the cycle, and as
// done when it did not (it completed, or the history knows no failures).
func (s *sequencer) eligible(t *Task) bool {
	switch {
	case !t.IsEnabled():
		s.defer_(t, ReasonDisabled, "the task is disabled")
	case !t.matches:
		s.defer_(t, ReasonTagMismatch, fmt.Sprintf("selector %v does not match site tags %v", t.Tags, s.p.Site.Tags))
	case t.kind == Housekeeping && !s.due(t):
		// deferred by due
	case s.h != nil && s.h.Settled(t.Name, s.day):
		switch {
		case s.failed(t):
			s.defer_(t, ReasonFailed, "failed in the cycle of "+s.day)
		case t.kind == Update || t.kind == SelfUpdate:
			s.defer_(t, ReasonDone, "completed")
		default:
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
			if o := s.suppressing(t); o != nil {
				s.defer_(t, ReasonDowntime(o.Resource), o.Resource+" is down "+spanText(o.Interval)+" ("+o.Action+")")
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
				// A slot task cannot move out of its slot: whatever the
				// action, a slot that overlaps a downtime of a resource it
				// uses goes without it.
				if o := s.overlapping(t, sl.Run); o != nil {
					s.defer_(t, ReasonDowntime(o.Resource), "slot "+tok.Token+" at "+spanText(sl.Run)+" overlaps "+
						o.Resource+"'s downtime "+spanText(o.Interval)+" ("+o.Action+")")
					continue
				}
				sl.Tasks = append(sl.Tasks, t)
			}
			switch {
			case found:
			case tok.Unplaced != "":
				s.defer_(t, ReasonNoSlot, "unplaced: "+tok.Unplaced)
			default:
				s.defer_(t, ReasonNoSlot, fmt.Sprintf("token %s has no slot starting in the cycle", tok.Token))
			}
		}
	}
}

// due reports whether recurring housekeeping has an occurrence in the
// cycle's span, and defers it as not due, saying when it next is, when not.
// Housekeeping without a schedule or repeat is due in every cycle.
//
// Downtimes move due-ness across cycles: work due in the next
// cycle runs in this one when an anticipate downtime of a resource it uses
// covers the next cycle's whole window; and work that a postpone downtime
// kept from running in the previous cycle is carried into this one, when
// the history says it did not run there (without a history planning cannot
// know, and does not carry it).
func (s *sequencer) due(t *Task) bool {
	r := t.recur
	if r == nil {
		return true
	}
	// Tasks with the same schedule share its recurrence: work it out once.
	if s.nexts == nil {
		s.nexts = make([]nextDue, s.p.nrecurs)
	}
	nd := &s.nexts[r.id]
	if !nd.known {
		nd.at, nd.ok = r.next(s.span.Start, s.span.Start.Add(maxSearch), &s.days)
		nd.known = true
		switch {
		case nd.ok && nd.at.Before(s.span.End):
		case nd.ok:
			nd.detail = dateTime("next due ", nd.at.In(s.p.Site.loc))
		default:
			nd.detail = "no occurrence after this cycle"
		}
	}
	switch {
	case nd.ok && nd.at.Before(s.span.End):
		return true
	case len(t.down) > 0 && (s.anticipated(t, nd.at, nd.ok) || s.carried(t)):
		return true
	}
	s.defer_(t, ReasonNotDue, nd.detail)
	return false
}

// nextDue is when a recurrence is next due from the start of the cycle.
type nextDue struct {
	at        time.Time
	ok, known bool
	detail    string // the not-due detail
}

// anticipated reports whether t, next due at next, is due in the next
// cycle and an anticipate downtime of a resource it uses covers that
// cycle's whole window.
func (s *sequencer) anticipated(t *Task, next time.Time, ok bool) bool {
	c, downs := s.neighbour(1)
	if !ok || !c.Span.Contains(next) || c.Window.Empty() {
		return false
	}
	covered := c.Window.Start
	for _, o := range downs {
		if o.Action != ActionAnticipate || !slices.Contains(t.down, o.Resource) || o.Start.After(covered) {
			continue
		}
		covered = laterOf(covered, o.End)
	}
	return !covered.Before(c.Window.End)
}

// neighbour returns the cycle before (-1) or after (+1) this one and the
// downtimes touching its window, worked out once a plan.
func (s *sequencer) neighbour(k int) (Cycle, []Downtime) {
	n := &s.neighbours[(k+1)/2]
	if !n.known {
		n.c = s.p.Site.Cycle(s.cycle.Day.AddDays(k))
		n.downs = s.p.downtimesIn(n.c.Window)
		n.known = true
	}
	return n.c, n.downs
}

// carried reports whether t was due in the previous cycle, a postpone
// downtime of a resource it uses touched that cycle's window, and the
// history says it did not run there.
func (s *sequencer) carried(t *Task) bool {
	if s.h == nil {
		return false
	}
	c, downs := s.neighbour(-1)
	if at, ok := t.recur.next(c.Span.Start, c.Span.End, nil); !ok || !c.Span.Contains(at) {
		return false
	}
	for _, o := range downs {
		if o.Action == ActionPostpone && slices.Contains(t.down, o.Resource) {
			return !s.h.Settled(t.Name, c.Day.String())
		}
	}
	return false
}

// timers lists the occurrences of the timers in the cycle's span, and
// defers the timers that are disabled or whose tags do not match.
func (s *sequencer) timers() {
	for _, t := range s.p.Timers {
		switch {
		case !t.IsEnabled():
			s.defer_(t, ReasonDisabled, "the task is disabled")
		case !t.matches:
			s.defer_(t, ReasonTagMismatch, fmt.Sprintf("selector %v does not match site tags %v", t.Tags, s.p.Site.Tags))
		}
	}
	s.plan.Timers = s.p.timerRuns(s.span, &s.days)
}

// timerRuns returns the occurrences in span of the timers that are enabled
// and match the site, in order of time (then of declaration): the list a
// plan gives people. The executor keeps only each timer's next one.
func (p *Profile) timerRuns(span Interval, days *dayCache) []TimerRun {
	loc := p.Site.loc
	var runs []TimerRun
	for _, t := range p.Timers {
		if !t.IsEnabled() || !t.matches {
			continue
		}
		t.recur.each(span.Start, span.End, days, func(at time.Time) {
			runs = append(runs, TimerRun{Task: t, At: at.In(loc)})
		})
	}
	slices.SortStableFunc(runs, func(a, b TimerRun) int { return a.At.Compare(b.At) })
	return runs
}

// suppressing returns a suppress or stop downtime, touching the window, of
// a resource t uses, that was not ended early.
func (s *sequencer) suppressing(t *Task) *Downtime {
	for i, o := range s.plan.Downtimes {
		if (o.Action == ActionSuppress || o.Action == ActionStop) && !o.Ended && slices.Contains(t.down, o.Resource) {
			return &s.plan.Downtimes[i]
		}
	}
	return nil
}

// overlapping returns a downtime of a resource t uses that overlaps iv, a
// slot of the span. A suppress or stop downtime that was ended early keeps
// t out of the span until its end.
func (s *sequencer) overlapping(t *Task, iv Interval) *Downtime {
	for i, o := range s.spanDowntimes {
		keep := o.Interval
		if o.Ended && (o.Action == ActionSuppress || o.Action == ActionStop) {
			keep.Start = s.span.Start
		}
		if keep.Overlaps(iv) && slices.Contains(t.down, o.Resource) {
			return &s.spanDowntimes[i]
		}
	}
	return nil
}

func (s *sequencer) estimate(t *Task) time.Duration {
	if s.h == nil {
		return t.estimate
	}
	return t.estimateFrom(s.h.Durations(t.Name))
}

// spanText formats an interval as "01:00-03:00" in its zone ("00:00-24:00"
// for a whole day: see clockSpan).
func spanText(iv Interval) string { return clockSpan(iv) }

func (s *sequencer) deferFull(t *Task, d time.Duration, at time.Time) {
	w := s.plan.Window
	switch {
	case w.Empty():
		s.defer_(t, ReasonWindowFull, "the cycle has no after-hours window")
	case d > w.Duration():
		s.defer_(t, ReasonWindowFull, "needs "+shortDuration(d)+", the window is "+shortDuration(w.Duration()))
	default:
		// Deferrals are common in a full window: one allocation for the
		// text, besides the duration's.
		var b strings.Builder
		dur := shortDuration(d)
		b.Grow(len(dur) + 56)
		b.WriteString("needs ")
		b.WriteString(dur)
		b.WriteString(", no room from ")
		writeHHMM(&b, at)
		b.WriteString(" to the window's end at ")
		writeHHMM(&b, s.end)
		s.defer_(t, ReasonWindowFull, b.String())
	}
}

// writeHHMM writes the wall clock of t as 15:04.
func writeHHMM(b *strings.Builder, t time.Time) {
	h, m, _ := t.Clock()
	b.WriteByte(byte('0' + h/10))
	b.WriteByte(byte('0' + h%10))
	b.WriteByte(':')
	b.WriteByte(byte('0' + m/10))
	b.WriteByte(byte('0' + m%10))
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

// shortDuration formats d as "5m", "1h30m" or "45s".
func shortDuration(d time.Duration) string { return durfmt.Short(d) }
