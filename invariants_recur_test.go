package afterhours

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// The checks of recurrence, timers and downtimes: part of checkPlan.

// dueIn reports whether recurring t has an occurrence in the plan's span.
// The recurrence engine has its own tests against robfig/cron and against
// rule 9 from first principles; here it is the reference.
func (c *invChecker) dueIn(t *Task) bool {
	next, err := c.p.Occurrences(t.Name, c.plan.Span.Start, 1)
	if err != nil {
		c.fail("occurrences of %s: %v", t.Name, err)
		return true
	}
	if len(next) == 1 && next[0].Before(c.plan.Span.End) {
		return true
	}
	if t.IgnoreDowntimes {
		return false
	}
	uses := invDownUses(c.p, t)
	day, err := ParseDate(c.plan.Day)
	if err != nil {
		c.fail("plan day %q: %v", c.plan.Day, err)
		return true
	}
	// Anticipated: due in the next cycle, whose whole window an anticipate
	// downtime of a resource it uses covers.
	nc := c.site.Cycle(day.AddDays(1))
	if len(next) == 1 && nc.Span.Contains(next[0]) && !nc.Window.Empty() {
		downs := invDowntimes(c.p, nc.Window.Start.Add(-48*time.Hour), nc.Window.End.Add(48*time.Hour))
		slices.SortFunc(downs, func(a, b Downtime) int { return a.Start.Compare(b.Start) })
		covered := nc.Window.Start
		for _, o := range downs {
			if o.Action == ActionAnticipate && slices.Contains(uses, o.Resource) && !o.Start.After(covered) && o.End.After(covered) {
				covered = o.End
			}
		}
		if !covered.Before(nc.Window.End) {
			return true
		}
	}
	// Carried: due in the previous cycle, whose window a postpone downtime
	// of a resource it uses touched, and not run there by the history.
	pc := c.site.Cycle(day.AddDays(-1))
	if prev, err := c.p.Occurrences(t.Name, pc.Span.Start, 1); c.h != nil && err == nil && len(prev) == 1 && pc.Span.Contains(prev[0]) {
		for _, o := range invDowntimes(c.p, pc.Window.Start.Add(-48*time.Hour), pc.Window.End.Add(48*time.Hour)) {
			if o.Action == ActionPostpone && slices.Contains(uses, o.Resource) && o.Overlaps(pc.Window) {
				return !c.h.Settled(t.Name, pc.Day.String())
			}
		}
	}
	return false
}

// checkTimers checks that the plan lists exactly the occurrences of every
// enabled, matching timer in its span, in order of time, each instant once,
// and defers the others.
func (c *invChecker) checkTimers() {
	c.t.Helper()
	plan := c.plan
	for i := 1; i < len(plan.Timers); i++ {
		if plan.Timers[i].At.Before(plan.Timers[i-1].At) {
			c.fail("timer runs out of order at %d: %s after %s", i, invT(plan.Timers[i].At), invT(plan.Timers[i-1].At))
		}
	}
	for _, t := range c.p.Timers {
		var got []time.Time
		for _, r := range plan.Timers {
			if r.Task == t {
				got = append(got, r.At)
			}
		}
		// Timers run at their times whatever the sequence did: only being
		// disabled or not for the site keeps them from running.
		var blockers, reasons []string
		if t.Enabled != nil && !*t.Enabled {
			blockers = append(blockers, ReasonDisabled)
		}
		if !invSelectorMatches(t.Tags, c.p.Site.Tags) {
			blockers = append(blockers, ReasonTagMismatch)
		}
		for _, d := range plan.Deferred {
			if d.Task == t {
				reasons = append(reasons, d.Reason)
			}
		}
		switch {
		case len(blockers) == 0 && len(reasons) > 0:
			c.fail("timer %s deferred as %v, but nothing keeps it from running", t.Name, reasons)
		case len(blockers) > 0 && (len(reasons) != 1 || !slices.Contains(blockers, reasons[0])):
			c.fail("timer %s: deferrals %v, want one of %v", t.Name, reasons, blockers)
		}
		var want []time.Time
		if len(blockers) == 0 {
			for from := plan.Span.Start; ; {
				next, err := c.p.Occurrences(t.Name, from, 1)
				if err != nil || len(next) == 0 || !next[0].Before(plan.Span.End) {
					break
				}
				want = append(want, next[0])
				from = next[0].Add(time.Nanosecond)
			}
		}
		if len(got) != len(want) {
			c.fail("timer %s: %d runs in the cycle, want %d", t.Name, len(got), len(want))
			continue
		}
		for i := range want {
			if !got[i].Equal(want[i]) || got[i].Location() != c.p.Site.Location() {
				c.fail("timer %s run %d at %s, want %s in the site's zone", t.Name, i, invT(got[i]), invT(want[i]))
			}
		}
	}
}

// downReasons returns the downtime reasons that may keep t from running:
// those of the downtimes touching the cycle of resources it uses. Whether
// one does depends on its action; the actions' own tests check that.
func (c *invChecker) downReasons(t *Task) []string {
	var rs []string
	if t.IgnoreDowntimes {
		return nil
	}
	for _, o := range c.downs {
		if o.Overlaps(c.plan.Span) && slices.Contains(invDownUses(c.p, t), o.Resource) && !slices.Contains(rs, ReasonDowntime(o.Resource)) {
			rs = append(rs, ReasonDowntime(o.Resource))
		}
	}
	return rs
}

// invDowntimes recomputes the downtime occurrences of every resource whose
// dates lie around [from, to], from the schedules' JSON fields.
func invDowntimes(p *Profile, from, to time.Time) []Downtime {
	loc := p.Site.Location()
	days := map[string]time.Weekday{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	clock := func(s string) (int, int) {
		h, _ := strconv.Atoi(s[:2])
		m, _ := strconv.Atoi(s[3:])
		return h, m
	}
	var out []Downtime
	for _, r := range p.Resources {
		for _, d := range r.Downtimes {
			first := ""
			for _, ds := range d.Dates {
				if first == "" || ds < first {
					first = ds
				}
			}
			for day := DateOf(from.In(loc)); day.Compare(DateOf(to.In(loc))) <= 0; day = day.AddDays(1) {
				on := slices.Contains(d.Dates, day.String())
				for _, k := range d.Days {
					on = on || days[k] == day.Weekday()
				}
				if !on {
					continue
				}
				var iv Interval
				if d.From == "" {
					iv = Interval{wallclock.Earliest(day.Year, day.Month, day.Day, 0, 0, 0, loc), wallclock.Resolve(day.Year, day.Month, day.Day+1, 0, 0, 0, loc)}
				} else {
					fh, fm := clock(d.From)
					th, tm := clock(d.To)
					next := 0
					if th*60+tm <= fh*60+fm {
						next = 1
					}
					iv = Interval{wallclock.Earliest(day.Year, day.Month, day.Day, fh, fm, 0, loc), wallclock.Resolve(day.Year, day.Month, day.Day+next, th, tm, 0, loc)}
				}
				action := d.Action
				if action == "" || d.Once && day.String() != first {
					action = ActionSuppress
				}
				o := Downtime{Resource: r.Name, Interval: iv, Action: action}
				if d.Ended != "" {
					if e, err := time.Parse(time.RFC3339, d.Ended); err == nil && iv.Contains(e) {
						o.End, o.Ended = e, true
					}
				}
				out = append(out, o)
			}
		}
	}
	return out
}

// invDownUses is what a task uses for downtimes: its uses and, for a slot
// task, its token and the token's uses.
func invDownUses(p *Profile, t *Task) []string {
	uses := slices.Clone(t.Uses)
	for _, tok := range p.Sharing {
		if slices.Contains(tok.Tasks, t) {
			uses = append(append(uses, tok.Token), tok.Uses...)
		}
	}
	return uses
}

// checkDowntimes checks that the plan lists exactly the downtime
// occurrences that touch its window, and that every downtime deferral names
// a downtime of a resource the task uses that touches the cycle.
func (c *invChecker) checkDowntimes() {
	c.t.Helper()
	var want []Downtime
	for _, o := range c.downs {
		if o.Overlaps(c.plan.Window) {
			want = append(want, o)
		}
	}
	if len(want) != len(c.plan.Downtimes) {
		c.fail("plan lists %d downtimes, want %d touching the window", len(c.plan.Downtimes), len(want))
	}
	for _, o := range c.plan.Downtimes {
		found := false
		for _, w := range want {
			found = found || w.Resource == o.Resource && invSameInterval(w.Interval, o.Interval) && w.Action == o.Action && w.Ended == o.Ended
		}
		if !found {
			c.fail("plan lists downtime %s %s (%s), which is not one of the profile's", o.Resource, invIv(o.Interval), o.Action)
		}
	}
	for _, d := range c.plan.Deferred {
		r, ok := strings.CutPrefix(d.Reason, "downtime:")
		if !ok {
			continue
		}
		if d.Task.IgnoreDowntimes || !slices.Contains(invDownUses(c.p, d.Task), r) {
			c.fail("%s deferred for a downtime of %s, which it does not use (or ignores)", d.Task.Name, r)
		}
		touches := false
		for _, o := range c.downs {
			touches = touches || o.Resource == r && o.Overlaps(c.plan.Span)
		}
		if !touches {
			c.fail("%s deferred for a downtime of %s, but none touches the cycle", d.Task.Name, r)
		}
	}
}
