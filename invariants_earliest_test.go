package afterhours

import (
	"slices"
	"sort"
	"time"
)

// The check of rule 3's earliest placement, by brute force: part of
// checkPlan.

// checkEarliest checks that each step is placed at the earliest instant
// rule 3 allows given the steps placed before it, and that every window-full
// deferral had no room at all. Placement follows declaration order:
// housekeeping, updates, then the self-update.
func (c *invChecker) checkEarliest() {
	c.t.Helper()
	plan := c.plan
	// Downtimes change where steps go (postponed, moved ahead, holding the
	// sequence); their own table tests check those plans exactly.
	for _, t := range invAllTasks(c.p) {
		for _, o := range plan.Downtimes {
			if !t.IgnoreDowntimes && slices.Contains(invDownUses(c.p, t), o.Resource) {
				return
			}
		}
	}
	stepOf := map[*Task]*Step{}
	for i := range plan.Steps {
		stepOf[plan.Steps[i].Task] = &plan.Steps[i]
	}
	full := map[*Task]bool{}
	for _, d := range plan.Deferred {
		if d.Reason == ReasonWindowFull {
			full[d.Task] = true
		}
	}
	var placed []Step
	barrier, cursor := plan.From, plan.From
	for _, phase := range [][]*Task{c.p.Housekeeping, c.p.Updates} {
		start, phaseEnd := barrier, barrier
		for _, t := range phase {
			s, isStep := stepOf[t]
			if !isStep && !full[t] {
				continue
			}
			lower := laterOf(start, cursor)
			d := invEstimate(t, c.h)
			limit := plan.Window.End
			if isStep {
				if s.Start.Before(lower) {
					c.fail("step %s starts at %s, before %s, the later of its phase's start and the previous step's start", t.Name, invT(s.Start), invT(lower))
				}
				limit = s.Start
			}
			if at, ok := c.firstFit(t.Uses, false, d, lower, limit, placed); ok {
				if isStep {
					c.fail("step %s starts at %s, but it fits from %s", t.Name, invT(s.Start), invT(at))
				} else {
					c.fail("%s deferred as window-full, but it fits from %s to %s", t.Name, invT(at), invT(at.Add(d)))
				}
			}
			if isStep {
				placed = append(placed, *s)
				cursor = s.Start
				phaseEnd = laterOf(phaseEnd, s.End)
			}
		}
		barrier = phaseEnd
	}
	if t := c.p.SelfUpdate; t != nil {
		s, isStep := stepOf[t]
		if isStep || full[t] {
			limit := plan.Window.End
			if isStep {
				limit = s.Start
				if s.Start.Before(barrier) {
					c.fail("self-update %s starts at %s, before the last step ends at %s", t.Name, invT(s.Start), invT(barrier))
				}
			}
			d := invEstimate(t, c.h)
			if at, ok := c.firstFit(nil, true, d, barrier, limit, placed); ok {
				if isStep {
					c.fail("self-update %s starts at %s, but it fits from %s", t.Name, invT(s.Start), invT(at))
				} else {
					c.fail("self-update %s deferred as window-full, but it fits from %s", t.Name, invT(at))
				}
			}
		}
	}
}

// firstFit returns the earliest instant in [lower, limit) at which a run of
// d using uses (alone: clear of every hold and step) fits beside the steps
// placed before it. The earliest fit is lower or the end of something that
// blocks: a hold or a placed step.
func (c *invChecker) firstFit(uses []string, alone bool, d time.Duration, lower, limit time.Time, placed []Step) (time.Time, bool) {
	cands := []time.Time{lower}
	for _, o := range c.occs {
		if e := o.run.End; !o.void && e.After(lower) && e.Before(limit) {
			cands = append(cands, e)
		}
	}
	for _, s := range placed {
		if s.End.After(lower) && s.End.Before(limit) {
			cands = append(cands, s.End)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Before(cands[j]) })
	lanes := max(c.p.Parallel, 1)
	for _, at := range cands {
		if !at.Before(limit) {
			break
		}
		run := Interval{at, at.Add(d)}
		if c.fits(run, uses, alone, lanes, placed) {
			return at, true
		}
	}
	return time.Time{}, false
}

func (c *invChecker) fits(run Interval, uses []string, alone bool, lanes int, placed []Step) bool {
	if run.End.After(c.plan.Window.End) || run.Start.Before(c.plan.Window.Start) {
		return false
	}
	if next, ok := c.site.NextBusiness(run.Start); ok && next.Before(run.End) {
		return false
	}
	for _, o := range c.occs {
		if !o.void && o.hold().Overlaps(run) && (alone || invContends(uses, invTokenUses(o.tok))) {
			return false
		}
	}
	// Lane use peaks at the run's start or at a placed step's start in it.
	points := []time.Time{run.Start}
	for _, s := range placed {
		if !s.Overlaps(run) {
			continue
		}
		if alone || invContends(uses, s.Task.Uses) {
			return false
		}
		if s.Start.After(run.Start) {
			points = append(points, s.Start)
		}
	}
	for _, pt := range points {
		n := 0
		for _, s := range placed {
			if s.Contains(pt) {
				n++
			}
		}
		if n >= lanes {
			return false
		}
	}
	return true
}
