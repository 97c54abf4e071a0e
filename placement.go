package afterhours

import (
	"slices"
	"time"
)

// Placement: where a step of the sequence goes (the earliest instant, no
// earlier than the start of the step placed before it, where a lane is
// free, no contending step runs, and its whole run avoids business time,
// contending holds and the downtimes of the resources it uses, ending by
// the window's end), and the downtime actions applied on the way.

// placement is what one step must respect besides lanes, contention and
// holds: its earliest start, downtimes to stay out of, and an end to meet.
type placement struct {
	lower    time.Time
	res      resources
	blocks   []block   // downtimes of resources it uses that it waits for
	deadline time.Time // anticipate: end by the downtime's start; zero: the window's end
	ahead    bool      // anticipate: may start before steps placed before it
}

// run is a placed step or a hold on the sequencer's time axis: Unix
// nanoseconds, which compare in one instruction where time.Time takes
// several. (Plans are for instants between the years 1678 and 2262, the
// range of Unix nanoseconds: PlanAt refuses others.)
type run struct {
	start, end int64
	res        *resources
}

func nanos(t time.Time) int64 { return t.UnixNano() }

// place puts t at the earliest instant at or after pl.lower where a lane is
// free, no contending step runs, and its whole projected run avoids the
// holds it contends with and pl.blocks, and ends by the deadline and the
// window's end. It appends the step and reports whether it placed it; it
// defers nothing.
//
// Steps are placed in order of start, except those postponed past a
// downtime: the steps that may overlap a run from the cursor on are those
// still running at the cursor, never more than the lanes, and the postponed
// ones. A step moving ahead (anticipate) looks at every step of its phase.
func (s *sequencer) place(t *Task, pl placement) (Interval, bool) {
	d := int64(s.estimate(t))
	limit := nanos(s.end)
	if !pl.deadline.IsZero() {
		limit = min(limit, nanos(pl.deadline))
	}
	at := nanos(pl.lower)
	steps := s.active
	if pl.ahead {
		steps = s.scratch[:0]
		for _, st := range s.plan.Steps[s.phaseStart:] {
			steps = append(steps, run{nanos(st.Start), nanos(st.End), &st.Task.res})
		}
		s.scratch = steps
	} else {
		// Drop what can no longer matter to this or any later step in
		// order: they start at or after at.
		live := s.active[:0]
		for _, st := range s.active {
			if st.end > at {
				live = append(live, st)
			}
		}
		s.active = live
		steps = live
	}
	for {
		stop := at + d
		if stop > limit {
			return Interval{}, false
		}
		next := at
		// Lanes: at every instant of [at, stop) fewer than s.lanes steps
		// may run. Use peaks at at or at a later step's start; steps in
		// order of start (the usual case) leave only at to check.
		next = max(next, s.laneFree(steps, at))
		for _, st := range steps {
			if st.start > at && st.start < stop {
				next = max(next, s.laneFree(steps, st.start))
			}
		}
		for _, st := range steps {
			if st.start < stop && st.end > at && st.res.contends(pl.res) {
				next = max(next, st.end)
			}
		}
		for _, h := range s.holds {
			if h.start >= stop {
				break
			}
			if h.end > at && h.res.contends(pl.res) {
				next = max(next, h.end)
			}
		}
		for _, b := range pl.blocks {
			if nanos(b.iv.Start) < stop && nanos(b.iv.End) > at {
				next = max(next, nanos(b.iv.End))
			}
		}
		if next == at {
			loc := s.p.Site.loc
			step := Step{Task: t, Interval: Interval{Start: time.Unix(0, at).In(loc), End: time.Unix(0, stop).In(loc)}}
			s.plan.Steps = append(s.plan.Steps, step)
			s.active = append(s.active, run{at, stop, &t.res})
			return step.Interval, true
		}
		at = next
	}
}

// laneFree returns point when fewer than s.lanes of steps run at it, else
// the first end among those that do: no step can run at point before then.
func (s *sequencer) laneFree(steps []run, point int64) int64 {
	n, first := 0, int64(0)
	for _, st := range steps {
		if st.start <= point && st.end > point {
			if n == 0 || st.end < first {
				first = st.end
			}
			n++
		}
	}
	if n >= s.lanes {
		return first
	}
	return point
}

// unplace removes the step just placed.
func (s *sequencer) unplace() {
	s.plan.Steps = s.plan.Steps[:len(s.plan.Steps)-1]
	s.active = s.active[:len(s.active)-1]
}

// step places a housekeeping, update or self-update task of the current
// phase, applying the actions of the downtimes of the resources it uses,
// or defers it. It moves the cursor (the earliest start of the next step)
// to the step's start, unless the step was postponed past a downtime or
// moved ahead: such a step does not hold back the steps after it.
func (s *sequencer) step(t *Task, res resources) (Interval, bool) {
	mark := s.cursor
	pl := placement{lower: laterOf(s.cursor, s.barrier), res: res}
	var skips []Downtime
	var bound *Downtime // the downtime that bounds an anticipated step
	for i := range s.plan.Downtimes {
		o := &s.plan.Downtimes[i]
		if !slices.Contains(t.down, o.Resource) {
			continue
		}
		switch {
		case o.Ended && (o.Action == ActionSuppress || o.Action == ActionStop):
			// Ended: no longer there from its end on, the work runs after
			// it, and waits for it from the cycle's start.
			pl.blocks = append(pl.blocks, block{Interval{s.span.Start, o.End}, o, true})
		case o.Ended && o.Action == ActionAnticipate:
			pl.blocks = append(pl.blocks, block{o.Interval, o, true})
		case o.Action == ActionSuppress || o.Action == ActionStop:
			s.defer_(t, ReasonDowntime(o.Resource), o.Resource+" is down "+spanText(o.Interval)+" ("+o.Action+")")
			return Interval{}, false
		case o.Action == ActionSkip:
			skips = append(skips, *o)
		case o.Action == ActionPostpone || o.Action == ActionHold:
			pl.blocks = append(pl.blocks, block{o.Interval, o, o.Action == ActionPostpone})
		case o.Action == ActionAnticipate:
			if bound == nil || o.Start.Before(bound.Start) {
				bound = o
			}
		}
	}
	if bound != nil {
		pl.deadline, pl.ahead, pl.lower = bound.Start, true, s.barrier
	}
	iv, ok := s.place(t, pl)
	if !ok && bound != nil && !s.moving {
		iv, ok = s.moveAhead(t, pl, skips)
		if ok {
			return iv, true
		}
	}
	if !ok {
		d := s.estimate(t)
		switch {
		case bound != nil:
			s.defer_(t, ReasonDowntime(bound.Resource), "needs "+shortDuration(d)+", no room to finish before "+
				bound.Resource+" goes down at "+hhmm(bound.Start)+" (anticipate)")
		case len(pl.blocks) > 0:
			o := pl.blocks[0].o
			detail := "needs " + shortDuration(d) + ", no room after " + o.Resource + "'s downtime"
			if o.Ended {
				detail += ", ended at " + hhmm(o.End)
			} else {
				detail += ": carried to the next cycle"
			}
			s.defer_(t, ReasonDowntime(o.Resource), detail)
		default:
			s.deferFull(t, d, pl.lower)
		}
		return Interval{}, false
	}
	for _, o := range skips {
		if o.Overlaps(iv) {
			s.unplace()
			s.defer_(t, ReasonDowntime(o.Resource), "its run "+spanText(iv)+" would overlap "+o.Resource+"'s downtime "+spanText(o.Interval)+" (skip)")
			return Interval{}, false
		}
	}
	postponed := false
	for _, b := range pl.blocks {
		// Pushed past a postpone downtime that lay ahead of its earliest start.
		if b.postpone && b.iv.End.After(pl.lower) && !iv.Start.Before(b.iv.End) {
			postponed = true
		}
	}
	if !postponed && !pl.ahead {
		s.cursor = iv.Start
	}
	if s.anticipates {
		s.marks = append(s.marks, mark)
	}
	return iv, true
}

// moveAhead places t, a step that must finish before an anticipate
// downtime (pl.deadline) and does not fit where the declared order puts
// it, ahead of steps of its phase placed before it (anticipate moves a
// step ahead within its phase, never out of it). It goes before as few of them as
// lets it finish in time: before the last one placed, then the last two,
// and so on. The steps it goes before are placed again after it, in the
// order they were placed in, each by the usual rules; a position where
// one of them would no longer fit is not taken, and when no position
// serves, nothing changes and t is not placed. The steps declared after t
// follow as usual.
func (s *sequencer) moveAhead(t *Task, pl placement, skips []Downtime) (Interval, bool) {
	n := len(s.plan.Steps) - s.phaseStart
	if n == 0 || len(s.marks) != n {
		return Interval{}, false
	}
	saved := slices.Clone(s.plan.Steps[s.phaseStart:])
	marks := slices.Clone(s.marks)
	cursor, deferred := s.cursor, len(s.plan.Deferred)
	restore := func() {
		s.plan.Steps = append(s.plan.Steps[:s.phaseStart], saved...)
		s.plan.Deferred = s.plan.Deferred[:deferred]
		s.marks = append(s.marks[:0], marks...)
		s.cursor = cursor
		s.resetActive()
	}
	fits := func(k int) (Interval, bool) {
		s.plan.Steps = s.plan.Steps[:s.phaseStart+k]
		s.resetActive()
		iv, ok := s.place(t, pl)
		for _, o := range skips {
			ok = ok && !o.Overlaps(iv)
		}
		return iv, ok
	}
	// First alone in the phase: when t does not fit even there, it fits
	// nowhere.
	_, ok := fits(0)
	restore()
	if !ok {
		return Interval{}, false
	}
	s.moving = true
	defer func() { s.moving = false }()
	for k := n - 1; k >= 0; k-- {
		iv, ok := fits(k)
		if ok {
			s.marks = append(s.marks[:k], marks[k])
			s.cursor = marks[k]
			for _, st := range saved[k:] {
				if _, ok = s.step(st.Task, st.Task.res); !ok {
					break
				}
			}
		}
		if ok {
			return iv, true
		}
		restore()
	}
	return Interval{}, false
}

// resetActive makes the steps of the current phase the ones that may
// overlap the next placement: a superset of what place keeps, after steps
// were taken back.
func (s *sequencer) resetActive() {
	s.active = s.active[:0]
	for _, st := range s.plan.Steps[s.phaseStart:] {
		s.active = append(s.active, run{nanos(st.Start), nanos(st.End), &st.Task.res})
	}
}

// block is a downtime a step waits for: iv is the time it keeps the step
// out of, and postpone says the step pushed past it does not hold back the
// steps after it (postpone, and ended suppress, stop and anticipate); hold
// does.
type block struct {
	iv       Interval
	o        *Downtime
	postpone bool
}
